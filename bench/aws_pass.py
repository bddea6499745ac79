"""The pass of `make bench` with injected AWS latency (`bench/aws_hooks.py`); also
`python bench/aws_pass.py [--lines N] [--members N]`.

1. Imports: a masterreward and an earnreward file of `lines` lines through the real importer
   (`bench/imports.py`'s children, moto server in its own process), every DynamoDB, S3 and
   SQS call delayed by its p50 (`bench/aws_model.py`), every write metered; then the raw
   writer of as many items with the same latency and the importer's parallelism
   (`kernel.batch.batch_put`, IMPORT_IO_THREADS requests in flight, items built beforehand).
   Time on AWS = wall time (every call at least its p50) - the excess
   of moto's and the meter's time over the p50 of calls that overlapped no other + the
   client's CPU stretched to the importer's vCPU share (`aws_hooks.aws_seconds`).
2. A tier-upgrade run over `members` members (`bench/jobs.py`'s children, its faster moto
   backend), timed with injected latency, its write units metered on a twin table (the
   meter's reads would queue in moto behind the run's overlapped writes); 10 million members
   projected from it, 16 shard workers in parallel, each as fast as this run. The run writes
   a page's members 16 at once; moto serves one request at a time, so, as for the imports,
   the run's process stands still while moto serves (`aws_hooks.FrozenClock`) and those
   writes each take their p50 in its clock instead of queueing behind each other.
3. `earn_wcu_at_50_lots` (`bench/earn_units.py`).

Figures printed as a table and written to `.bench/aws.json`; `bench/summary.py` picks the
headline figures from there.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

if (_root := str(Path(__file__).resolve().parent.parent)) not in sys.path:
    sys.path.insert(0, _root)  # run as a script: only bench/ is on the path

from bench.aws_hooks import aws_seconds
from bench.aws_model import PARTITION_WCU_S, S3_STREAM_MB_S, latency_table, vcpu_share
from bench.processes import ROOT

OUT = ROOT / ".bench" / "aws.json"
FILE_LINES = 200_000  # the file size
TIER_MEMBERS = 10_000_000


def import_figures(scope: str, run: dict[str, Any], metered: dict[str, Any]) -> dict[str, Any]:
    """`run`: the import with injected latency (its time); `metered`: the same file in a run of
    its own with the write meter (its units)."""
    from loyalty_engine.wiring import IMPORTER

    lines, vcpu = run["lines"], vcpu_share(IMPORTER.memory_mb)
    aws, raw = run["aws"], run["raw"]
    stream_s = run["calls"].get("s3.GetObject", 0) * run["file_bytes"] / (S3_STREAM_MB_S * 1e6)
    meter = metered["aws"]["meter"]
    seconds = aws_seconds(run["wall_s"], run["cpu_s"], aws["latency"]["taken_out_s"], 0, vcpu) + stream_s
    raw_s = aws_seconds(raw["wall_s"], raw["cpu_s"], raw["aws"]["latency"]["taken_out_s"], 0, vcpu)
    hottest_key, hottest_units = next(iter(meter["top_partitions_units"].items()), (None, 0))
    per_line = {op: round(c["units"] / lines, 3) for op, c in meter["by_operation"].items()}
    return {
        "lines": lines,
        "wall_with_latency_s": round(run["wall_s"], 1),
        "injected_s": aws["latency"]["injected_s"],
        "moto_wire_s": aws["latency"]["moto_wire_s"],
        "taken_out_s": aws["latency"]["taken_out_s"],
        "frozen_s": aws["latency"]["frozen_s"],
        "cpu_s": round(run["cpu_s"], 1),
        "vcpu_share": round(vcpu, 2),
        "s3_stream_s": round(stream_s, 2),
        "aws_s": round(seconds, 1),
        "lines_per_s": round(lines / seconds),
        "raw_wall_with_latency_s": round(raw["wall_s"], 1),
        "raw_aws_s": round(raw_s, 1),
        "raw_items_per_s": round(raw["items"] / raw_s),
        "ratio_to_raw": round((lines / seconds) / (raw["items"] / raw_s), 2),
        # the raw writer puts the same items, so the same units on the same hottest partition: on
        # AWS it could not go faster than that partition's 1,000 WCU/s either
        "raw_threads": raw["threads"],
        "raw_aws_s_at_partition_limit": round(max(raw_s, hottest_units / PARTITION_WCU_S), 1),
        "ratio_to_raw_at_partition_limit": round(
            (lines / seconds) / (raw["items"] / max(raw_s, hottest_units / PARTITION_WCU_S)), 2
        ),
        "ratio_to_raw_wall_with_latency": round((lines / run["wall_s"]) / (raw["items"] / raw["wall_s"]), 2),
        "dynamodb_requests_per_line": round(
            sum(n for op, n in run["calls"].items() if op.startswith("dynamodb.")) / lines, 4
        ),
        "write_units": meter["write_units"],
        "write_units_per_line": round(meter["write_units"] / lines, 3),
        "write_units_per_line_by_operation": per_line,
        "write_units_by_item_type": meter["by_item_type"],
        "hottest_partition": hottest_key,
        "hottest_partition_units": hottest_units,
        "hottest_partition_wcu_s": round(hottest_units / seconds, 1),
        "top_partitions_units": meter["top_partitions_units"],
        "projected_200k_s": round(seconds * FILE_LINES / lines, 1),
        "projected_200k_basis": "measured" if lines == FILE_LINES else f"extrapolated from {lines}",
    }


def tier_figures(result: dict[str, Any]) -> dict[str, Any]:
    from loyalty_engine.kernel.table import MEMBER_SHARDS
    from loyalty_engine.wiring import JOB_WORKER

    members, run, vcpu = result["members"], result["run"], vcpu_share(JOB_WORKER.memory_mb)
    # the time from the run with injected latency, the units from the same run on a twin table
    aws, meter = run["aws"], result["units"]
    seconds = aws_seconds(run["wall_s"], run["cpu_s"], aws["latency"]["taken_out_s"], 0, vcpu)
    per_shard = math.ceil(TIER_MEMBERS / MEMBER_SHARDS)
    shard_s = per_shard / (members / seconds)
    raws = result["raw_reads"]
    raw_s = [
        aws_seconds(r["wall_s"], r["cpu_s"], r["aws"]["latency"]["taken_out_s"], 0, vcpu) for r in raws[:2]
    ]
    hottest_key, hottest_units = next(iter(meter["top_partitions_units"].items()), (None, 0))
    return {
        "members": members,
        "changed": run["changed"],
        "wall_with_latency_s": round(run["wall_s"], 1),
        "injected_s": aws["latency"]["injected_s"],
        "moto_wire_s": aws["latency"]["moto_wire_s"],
        "taken_out_s": aws["latency"]["taken_out_s"],
        "frozen_s": aws["latency"]["frozen_s"],
        "overlapped_excess_kept_s": aws["latency"]["overlapped_excess_kept_s"],
        "overlapped_calls": aws["latency"]["overlapped_calls"],
        "cpu_s": round(run["cpu_s"], 1),
        "vcpu_share": round(vcpu, 2),
        "aws_s": round(seconds, 1),
        "members_per_s": round(members / seconds),
        "raw_read_aws_s": [round(s, 1) for s in raw_s],
        "ratio_to_raw_read": round((members / seconds) / (2 * members / sum(raw_s)), 2),
        "write_units": meter["write_units"],
        "write_units_by_operation": meter["by_operation"],
        "write_units_by_item_type": meter["by_item_type"],
        "hottest_partition": hottest_key,
        "hottest_partition_units": hottest_units,
        "hottest_partition_wcu_s": round(hottest_units / seconds, 1),
        # the shard workers in parallel deliver the same units in 1/shards of the time
        "hottest_partition_wcu_s_parallel": round(hottest_units * MEMBER_SHARDS / seconds, 1),
        "top_partitions_units": meter["top_partitions_units"],
        "shards": MEMBER_SHARDS,
        "projected_10m_min": round(shard_s / 60, 1),
        "projected_10m_basis": (
            f"measured over {members} members (16 shards one after the other, as one worker, a page's "
            f"members written 16 at once, {JOB_WORKER.memory_mb} MB), {per_shard:,} members per shard worker "
            f"at that rate, the {MEMBER_SHARDS} workers in parallel; units metered on a twin table"
        ),
    }


def run(lines: int, members: int, scopes: tuple[str, ...] | None = None) -> dict[str, Any]:
    from bench import earn_units
    from bench import imports as import_bench
    from bench import jobs as job_bench
    from bench.processes import Backend

    started = time.perf_counter()
    result: dict[str, Any] = {
        "latency": latency_table(),
        "imports": {},
        "partition_wcu_s_limit": PARTITION_WCU_S,
    }
    for scope in scopes or import_bench.SCOPES:
        runs = import_bench.run_scope(scope, (lines,), raw_at=lines, aws="latency")
        metered = import_bench.run_scope(scope, (lines,), raw_at=None, aws="meter")
        result["imports"][scope] = import_figures(scope, runs[lines], metered[lines])
    with Backend(job_bench.BACKEND) as endpoint:
        result["tier_upgrade"] = tier_figures(job_bench.run_job(endpoint, "tier-upgrade", members, aws=True))
    result["earn_units"] = earn_units.measure()
    result["bench_wall_s"] = round(time.perf_counter() - started)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result), flush=True)
    return result


def table(result: dict[str, Any]) -> str:
    ms = ", ".join(f"{op} {v:g}" for op, v in result["latency"]["dynamodb_ms"].items())
    lines = [
        "",
        "## With injected AWS latency (p50 per call), on the clock less the time moto held the process (FrozenClock)",
        "",
        f"Latency (ms): {ms}; Query {result['latency']['query_ms']}; S3/SQS "
        f"{result['latency']['s3_sqs_request_ms']:g}.",
        "",
        "| import | lines | wall with latency s | on AWS s | lines/s | raw writer s | ratio | WCU/line "
        "| hottest partition WCU/s | 200k lines s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scope, f in result["imports"].items():
        lines.append(
            f"| {scope} | {f['lines']:,} | {f['wall_with_latency_s']} | {f['aws_s']} | {f['lines_per_s']:,} | "
            f"{f['raw_aws_s']} | {f['ratio_to_raw']} | {f['write_units_per_line']} | "
            f"{f['hottest_partition_wcu_s']:,} ({f['hottest_partition']}) | {f['projected_200k_s']} "
            f"({f['projected_200k_basis']}) |"
        )
    t = result["tier_upgrade"]
    e = result["earn_units"]
    at = e[f"earn_at_{e['lots']}_lots"]
    lines += [
        "",
        f"Tier upgrade over {t['members']:,} members ({t['changed']:,} change): {t['wall_with_latency_s']} s "
        f"with latency, {t['aws_s']} s on AWS ({t['members_per_s']:,} members/s, {t['ratio_to_raw_read']} x the "
        f"raw read), {t['write_units']:,} write units, hottest partition {t['hottest_partition']} at "
        f"{t['hottest_partition_wcu_s']:,} WCU/s ({t['hottest_partition_wcu_s_parallel']:,} with the "
        f"{t['shards']} shard workers in parallel); 10 million members: {t['projected_10m_min']} min.",
        "",
        f"Earn with {e['lots']} live lots ({e['case']}): {at['write_units']} write units "
        f"({at['write_units_if_not_transactional']} if it were not a transaction): "
        + ", ".join(f"{i['type']} {i['sk']} {i['bytes_after']} B {i['units']}" for i in at["items"])
        + (
            f"; orders {e['window']['orders']}: mean {e['window']['mean']}, min {e['window']['min']}, "
            f"max {e['window']['max']} write units"
            if "window" in e
            else ""
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--scope", action="append", help="only these import scopes (repeatable)")
    args = parser.parse_args(argv)
    run(args.lines, args.members, tuple(args.scope) if args.scope else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
