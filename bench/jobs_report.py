"""The job benchmarks' figures (`.bench/jobs.json`), their tables, the projection to 10 million
members and the goal, from what the children of `bench/jobs.py` measured."""

from __future__ import annotations

import math
from typing import Any

from bench.jobs_common import GOAL_REQUESTS_PER_MEMBER, PROJECTION

# --- figures -----------------------------------------------------------------------------


def run_figures(run: dict[str, Any], members: int) -> dict[str, Any]:
    requests = sum(run["calls"].values())
    return {
        "members": run["members"],
        "changed": run["changed"],
        "retried": run["retried"],
        "wall_s": round(run["wall_s"], 1),
        "cpu_s": round(run["cpu_s"], 1),
        "members_per_s": round(members / run["wall_s"]),
        "dynamodb_requests": requests,
        "requests_per_member": round(requests / members, 4),
        "dynamodb_http_attempts": run["attempts"],
        "dynamodb_by_operation": run["calls"],
        "seconds_in_calls_by_operation": run["call_seconds"],
        "seconds_outside_calls": round(run["wall_s"] - sum(run["call_seconds"].values()), 1),
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
    }


def project(run: dict[str, Any], members: int) -> dict[str, Any]:
    """PROJECTION["members"] members on AWS: 16 shard workers in parallel, each working through
    its shard at the upgrade run's per-member request counts and CPU time, scaled linearly."""
    from loyalty_engine.kernel.table import MEMBER_SHARDS
    from loyalty_engine.tiers.job_store import PAGE_SIZE
    from loyalty_engine.tiers.run_use_cases import TIME_MARGIN_MS
    from loyalty_engine.wiring import JOB_WORKER

    per_shard = math.ceil(PROJECTION["members"] / MEMBER_SHARDS)
    scale = per_shard / members
    latency = PROJECTION["dynamodb_ms"]
    dynamodb_s = (
        sum(n * latency.get(op, PROJECTION["dynamodb_other_ms"]) for op, n in run["calls"].items())
        * scale
        / 1000
    )
    vcpu = min(1.0, JOB_WORKER.memory_mb / PROJECTION["full_vcpu_mb"])
    cpu_s = run["cpu_s"] * scale / vcpu
    shard_s = dynamodb_s + cpu_s
    usable_s = JOB_WORKER.timeout_s - TIME_MARGIN_MS / 1000
    moto_shard_s = per_shard / (members / run["wall_s"])
    return {
        "members": PROJECTION["members"],
        "shards": MEMBER_SHARDS,
        "members_per_shard": per_shard,
        "pages_per_shard": math.ceil(per_shard / PAGE_SIZE),
        "worker_memory_mb": JOB_WORKER.memory_mb,
        "worker_timeout_s": JOB_WORKER.timeout_s,
        "usable_s_per_invocation": usable_s,
        "vcpu_share": round(vcpu, 2),
        "dynamodb_s_per_shard": round(dynamodb_s),
        "cpu_s_per_shard": round(cpu_s),
        "shard_s": round(shard_s),
        "members_per_s_per_worker": round(per_shard / shard_s),
        "invocations_per_shard": math.ceil(shard_s / usable_s),
        "continuations": MEMBER_SHARDS * (math.ceil(shard_s / usable_s) - 1),
        "moto_members_per_s": round(members / run["wall_s"]),
        "moto_shard_s": round(moto_shard_s),
        "moto_invocations_per_shard": math.ceil(moto_shard_s / usable_s),
    }


def figures(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"goal_requests_per_member": GOAL_REQUESTS_PER_MEMBER, "jobs": {}}
    out["projection_assumptions"] = PROJECTION
    for job, result in results.items():
        members = result["members"]
        entry: dict[str, Any] = {
            "members": members,
            "setup_s": result["setup"]["wall_s"],
            "member_item_bytes": result["setup"]["member_item_bytes"],
            "run": run_figures(result["run"], members),
        }
        if "raw_reads" in result:
            raws = result["raw_reads"]
            entry["raw_reads"] = [
                {
                    "items": r["items"],
                    "wall_s": round(r["wall_s"], 1),
                    "items_per_s": round(r["items_per_s"]),
                    "requests": r["requests"],
                }
                for r in raws
            ]
            around_run = (raws[0]["items_per_s"] + raws[1]["items_per_s"]) / 2
            around_next = (raws[1]["items_per_s"] + raws[2]["items_per_s"]) / 2
            entry["run"]["raw_items_per_s"] = round(around_run)
            entry["run"]["ratio_to_raw"] = round(members / result["run"]["wall_s"] / around_run, 2)
            entry["replay"] = run_figures(result["replay"], members)
            entry["next_day"] = run_figures(result["next_day"], members)
            entry["next_day"]["raw_items_per_s"] = round(around_next)
            entry["next_day"]["ratio_to_raw"] = round(members / result["next_day"]["wall_s"] / around_next, 2)
            entry["projection_on_aws"] = project(result["run"], members)
            entry["projection_on_aws_next_day"] = project(result["next_day"], members)
        out["jobs"][job] = entry
    return out


def table(result: dict[str, Any]) -> str:
    def mark(ok: bool) -> str:
        return "ok" if ok else "MISS"

    goal = result["goal_requests_per_member"]
    lines = [
        "",
        "## Scheduled jobs on moto (server in its own process), through tiers.run_use_cases.run_now",
        "",
        f"| run | members | changed | wall s | members/s | raw read items/s | ratio | DDB req/member (<= {goal}) "
        "| peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows: list[tuple[str, dict[str, Any]]] = []
    for job, entry in result["jobs"].items():
        rows.append((job, entry["run"]))
        if "replay" in entry:
            rows.append((f"{job}, replay of the same run", entry["replay"]))
            rows.append((f"{job}, next day (no change left)", entry["next_day"]))
    for name, run in rows:
        per_member = run["requests_per_member"]
        if run is result["jobs"].get("tier-upgrade", {}).get("replay"):
            # a completed run answers its summary: a few requests in all, not per member
            speed, requests = "-", f"{run['dynamodb_requests']} requests in all"
        else:
            speed, requests = f"{run['members_per_s']:,}", f"{per_member} {mark(per_member <= goal)}"
        lines.append(
            f"| {name} | {run['members']:,} | {run['changed']:,} | {run['wall_s']} | {speed} | "
            f"{run.get('raw_items_per_s', '-')} | {run.get('ratio_to_raw', '-')} | {requests} | {run['peak_rss_mb']} |"
        )
    lines += [
        "",
        "| run | DynamoDB requests by operation | outside calls s | in calls s, by operation (mean per call) |",
        "|---|---|---:|---|",
    ]
    for name, run in rows:
        ops = ", ".join(f"{op} {n:,}" for op, n in run["dynamodb_by_operation"].items())
        if run["dynamodb_http_attempts"] != run["dynamodb_requests"]:
            ops += f" ({run['dynamodb_http_attempts']:,} HTTP attempts: botocore retried)"
        spent = sorted(run["seconds_in_calls_by_operation"].items(), key=lambda kv: -kv[1])
        timed = ", ".join(
            f"{op} {t:g} ({1000 * t / run['dynamodb_by_operation'][op]:.1f} ms)"
            for op, t in spent
            if t >= 0.05 and run["dynamodb_by_operation"].get(op)
        )
        lines.append(f"| {name} | {ops} | {run['seconds_outside_calls']} | {timed or '-'} |")
    tiers = result["jobs"].get("tier-upgrade")
    if tiers:
        raws = ", ".join(f"{r['items_per_s']:,} ({r['wall_s']} s)" for r in tiers["raw_reads"])
        lines += [
            "",
            f"Raw reads (items/s), in turns with the runs: {raws}. The upgrade run's ratio is to the mean of "
            "the reads before and after it; the next day's to the two around it. A member item: about "
            f"{tiers['member_item_bytes']:,} bytes (two lots). Setup (not measured): {tiers['setup_s']} s.",
        ]
        p = tiers["projection_on_aws"]
        ms = ", ".join(f"{op} {v:g} ms" for op, v in PROJECTION["dynamodb_ms"].items())
        lines += [
            "",
            f"Projection of a tier-upgrade run over {p['members']:,} members on AWS: {p['shards']} shard workers "
            f"in parallel ({p['worker_memory_mb']} MB, {p['worker_timeout_s']} s, continuing in a new invocation "
            f"{p['worker_timeout_s'] - p['usable_s_per_invocation']:g} s before the timeout), each with "
            f"{p['members_per_shard']:,} members ({p['pages_per_shard']:,} pages), at the measured runs' "
            f"requests and CPU time per member. Assumptions: p50 latencies {ms}; calls one after the other "
            "(the run writes a page's members 16 at once: computed as if it did not, this errs on the slow "
            "side; `bench/aws_pass.py` measures it); "
            f"CPU time divided by the worker's vCPU share ({p['vcpu_share']}).",
            "",
            "| run | | DynamoDB s/shard | CPU s/shard | s/shard | members/s/worker | invocations/shard "
            "| continuation messages |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, key in (
            ("upgrade (15 % change)", "projection_on_aws"),
            ("next day", "projection_on_aws_next_day"),
        ):
            q = tiers[key]
            lines += [
                f"| {name} | AWS (projected) | {q['dynamodb_s_per_shard']:,} | {q['cpu_s_per_shard']:,} | "
                f"{q['shard_s']:,} | {q['members_per_s_per_worker']:,} | {q['invocations_per_shard']} | "
                f"{q['continuations']} |",
                f"| {name} | at moto's rate | - | - | {q['moto_shard_s']:,} | {q['moto_members_per_s']:,} | "
                f"{q['moto_invocations_per_shard']} | {q['shards'] * (q['moto_invocations_per_shard'] - 1)} |",
            ]
    return "\n".join(lines)


def goals_met(result: dict[str, Any]) -> bool:
    tiers = result["jobs"].get("tier-upgrade")
    return tiers is None or tiers["run"]["requests_per_member"] <= GOAL_REQUESTS_PER_MEMBER
