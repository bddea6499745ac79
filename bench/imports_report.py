"""The import benchmarks' figures (`.bench/imports.json`), their tables and the projection on
AWS, from what the children of `bench/imports.py` measured."""

from __future__ import annotations

import math
from typing import Any

from bench.imports_files import GOALS, PROJECTION

# --- figures -----------------------------------------------------------------------------


def _by_service(calls: dict[str, int], service: str) -> dict[str, int]:
    prefix = f"{service}."
    return {k[len(prefix) :]: n for k, n in sorted(calls.items()) if k.startswith(prefix)}


def project(run: dict[str, Any]) -> dict[str, Any]:
    """A MAX_DATA_LINES file's time on AWS: the run's request counts and CPU time, scaled
    linearly to that many lines, at PROJECTION's latencies."""
    from loyalty_engine.imports.files import MAX_DATA_LINES
    from loyalty_engine.wiring import IMPORTER

    scale = MAX_DATA_LINES / run["lines"]
    dynamodb = _by_service(run["calls"], "dynamodb")
    s3 = _by_service(run["calls"], "s3")
    latency = PROJECTION["dynamodb_ms"]
    fixed = {"DeleteItem", "GetItem", "PutItem", "Query"}  # per file, not per line (locks, job, reports)
    dynamodb_s = (
        sum(
            n * (1 if op in fixed else scale) * latency.get(op, PROJECTION["dynamodb_other_ms"])
            for op, n in dynamodb.items()
        )
        / 1000
    )
    s3_requests = sum(s3.values()) + sum(_by_service(run["calls"], "sqs").values())
    stream_s = s3.get("GetObject", 0) * run["file_bytes"] * scale / (PROJECTION["s3_stream_mb_s"] * 1e6)
    s3_s = s3_requests * PROJECTION["s3_request_ms"] / 1000 + stream_s
    vcpu = min(1.0, IMPORTER.memory_mb / PROJECTION["full_vcpu_mb"])
    cpu_s = run["cpu_s"] * scale / vcpu
    total = dynamodb_s + s3_s + cpu_s
    raw = run.get("raw") or {}
    item_kb = math.ceil(raw.get("item_bytes", 1024) / 1024)
    index_copies = 2 if raw.get("item_has_gsi1") else 1
    items_per_s = run["items_batch_written"] * scale / total
    projected: dict[str, Any] = {}
    if raw:
        raw_s = (sum(raw["calls"].values()) * latency["BatchWriteItem"] / 1000 + raw["cpu_s"] / vcpu) * scale
        projected = {
            "raw_batch_writer_s": round(raw_s, 1),
            "ratio_to_raw": round((MAX_DATA_LINES / total) / (raw["items"] * scale / raw_s), 2),
        }
    return {
        "lines": MAX_DATA_LINES,
        "scaled_from_lines": run["lines"],
        "importer_memory_mb": IMPORTER.memory_mb,
        "importer_timeout_s": IMPORTER.timeout_s,
        "vcpu_share": round(vcpu, 2),
        "dynamodb_s": round(dynamodb_s, 1),
        "s3_s": round(s3_s, 1),
        "cpu_s": round(cpu_s, 1),
        "total_s": round(total, 1),
        "share_of_timeout": round(total / IMPORTER.timeout_s, 2),
        "items_per_s": round(items_per_s),
        "item_bytes": raw.get("item_bytes"),
        "write_units_per_item": item_kb * index_copies,
        "wcu_per_s": round(items_per_s * item_kb * index_copies),
        # a consistent read of an item up to 4 KB, found or not: 1 unit
        "rcu_per_s": round(run["keys_batch_read"] * scale / total),
    } | projected


def figures(runs: dict[str, dict[int, dict[str, Any]]], sizes: tuple[int, ...]) -> dict[str, Any]:
    small, large = sizes[0], sizes[-1]
    result: dict[str, Any] = {"goals": GOALS, "projection_assumptions": PROJECTION, "scopes": {}}
    for scope, by_size in runs.items():
        scope_figures: dict[str, Any] = {}
        for lines, run in sorted(by_size.items()):
            dynamodb = _by_service(run["calls"], "dynamodb")
            entry = {
                "wall_s": round(run["wall_s"], 1),
                "cpu_s": round(run["cpu_s"], 1),
                "lines_per_s": round(lines / run["wall_s"]),
                "dynamodb_requests": sum(dynamodb.values()),
                "dynamodb_requests_per_line": round(sum(dynamodb.values()) / lines, 4),
                "dynamodb_http_attempts": run["dynamodb_attempts"],
                "dynamodb_by_operation": dynamodb,
                "items_batch_written": run["items_batch_written"],
                "keys_batch_read": run["keys_batch_read"],
                "seconds_in_calls_by_operation": run["call_seconds"],
                "seconds_outside_calls": round(run["wall_s"] - sum(run["call_seconds"].values()), 1),
                "s3_by_operation": _by_service(run["calls"], "s3"),
                "sqs_by_operation": _by_service(run["calls"], "sqs"),
                "rss_before_mb": round(run["rss_before_mb"], 1),
                "rss_peak_mb": round(run["rss_peak_mb"], 1),
                "file_mb": round(run["file_bytes"] / 1e6, 1),
            }
            if "raw" in run:
                raw = run["raw"]
                entry["raw_batch_writer"] = {
                    "items": raw["items"],
                    "wall_s": round(raw["wall_s"], 1),
                    "items_per_s": round(raw["items_per_s"]),
                    "requests": sum(raw["calls"].values()),
                    "item_bytes": raw["item_bytes"],
                }
                entry["ratio_to_raw"] = round((lines / run["wall_s"]) / raw["items_per_s"], 2)
                entry["projection_on_aws"] = project(run)
            scope_figures[str(lines)] = entry
        if small in by_size and large in by_size and small != large:
            scope_figures["rss_delta_mb"] = round(
                by_size[large]["rss_peak_mb"] - by_size[small]["rss_peak_mb"], 1
            )
        result["scopes"][scope] = scope_figures
    return result


def table(result: dict[str, Any], sizes: tuple[int, ...]) -> str:
    def mark(ok: bool) -> str:
        return "ok" if ok else "MISS"

    lines = [
        "",
        "## Imports on moto (server in its own process), through the real importer",
        "",
        "| scope | lines | wall s | lines/s | raw batch_writer items/s | ratio (>= 0.7) | DDB req/line (<= 0.06) "
        "| S3 req | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scope, entries in result["scopes"].items():
        for size in sizes:
            e = entries.get(str(size))
            if e is None:
                continue
            raw = e.get("raw_batch_writer")
            ratio = f"{e['ratio_to_raw']} {mark(e['ratio_to_raw'] >= GOALS['ratio_to_raw'])}" if raw else "-"
            per_line = e["dynamodb_requests_per_line"]
            lines.append(
                f"| {scope} | {size:,} | {e['wall_s']} | {e['lines_per_s']:,} | "
                f"{raw['items_per_s'] if raw else '-'} | {ratio} | "
                f"{per_line} {mark(per_line <= GOALS['dynamodb_requests_per_line'])} | "
                f"{sum(e['s3_by_operation'].values())} | {e['rss_peak_mb']} |"
            )
    lines += ["", "| scope | lines | DynamoDB requests by operation | S3 requests by operation | SQS |"]
    lines.append("|---|---:|---|---|---|")
    for scope, entries in result["scopes"].items():
        for size in sizes:
            e = entries.get(str(size))
            if e is None:
                continue
            ops = ", ".join(f"{op} {n}" for op, n in e["dynamodb_by_operation"].items())
            s3 = ", ".join(f"{op} {n}" for op, n in e["s3_by_operation"].items())
            sqs = ", ".join(f"{op} {n}" for op, n in e["sqs_by_operation"].items()) or "-"
            lines.append(f"| {scope} | {size:,} | {ops} | {s3} | {sqs} |")
    lines += [
        "",
        "Where the wall time goes on moto: seconds in each operation, from botocore's request (already "
        "validated and serialized) to the parsed response (GetObject: to its headers), and outside any "
        "call: our code, botocore validating and serializing requests, and reading GetObject bodies.",
        "",
        "| scope | lines | outside calls s | in calls s, by operation (mean per call) |",
        "|---|---:|---:|---|",
    ]
    for scope, entries in result["scopes"].items():
        for size in sizes:
            e = entries.get(str(size))
            if e is None:
                continue
            spent = sorted(e["seconds_in_calls_by_operation"].items(), key=lambda kv: -kv[1])
            counts = {f"dynamodb.{op}": n for op, n in e["dynamodb_by_operation"].items()}
            counts |= {f"s3.{op}": n for op, n in e["s3_by_operation"].items()}
            ops = ", ".join(
                f"{op.split('.', 1)[1]} {t:g} ({1000 * t / counts[op]:.0f} ms/call)"
                for op, t in spent
                if t >= 0.05 and counts.get(op)
            )
            lines.append(f"| {scope} | {size:,} | {e['seconds_outside_calls']} | {ops} |")
    deltas = [(s, e["rss_delta_mb"]) for s, e in result["scopes"].items() if "rss_delta_mb" in e]
    if deltas:
        lines += [
            "",
            f"| scope | peak RSS {sizes[-1]:,} lines - {sizes[0]:,} lines (<= 16 MB) |",
            "|---|---:|",
        ]
        lines += [f"| {s} | {d} MB {mark(d <= GOALS['rss_delta_mb'])} |" for s, d in deltas]
    projected = [(s, e[str(sizes[-1])]) for s, e in result["scopes"].items() if str(sizes[-1]) in e]
    projected = [(s, e["projection_on_aws"]) for s, e in projected if "projection_on_aws" in e]
    if projected:
        a = PROJECTION
        first = projected[0][1]
        ms = ", ".join(f"{op} {v:g} ms" for op, v in a["dynamodb_ms"].items())
        scaled = (
            f", scaled x{first['lines'] / first['scaled_from_lines']:g} from the {first['scaled_from_lines']:,}-line runs"
            if first["lines"] != first["scaled_from_lines"]
            else ""
        )
        lines += [
            "",
            f"Projection of a {first['lines']:,}-line file on AWS{scaled}. Assumptions: p50 in-region "
            f"latencies {ms} (others {a['dynamodb_other_ms']:g} ms); every S3/SQS call "
            f"{a['s3_request_ms']:g} ms, GetObject bodies streamed at {a['s3_stream_mb_s']:g} MB/s; calls "
            "one after the other, as the code makes them; the CPU time measured here (our code + botocore) "
            f"divided by the importer's vCPU share ({first['importer_memory_mb']} MB / {a['full_vcpu_mb']} MB). "
            "Write units: ceil(item KB) per item, twice with its gsi1 copy; read units: one per key of a "
            "consistent BatchGetItem (items under 4 KB). The raw batch_writer projected the same way.",
            "",
            f"| scope | DynamoDB s | S3 s | CPU s | total s | of {first['importer_timeout_s']} s | items/s "
            "| item bytes | WCU/s | RCU/s | raw batch_writer s | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for scope, p in projected:
            lines.append(
                f"| {scope} | {p['dynamodb_s']} | {p['s3_s']} | {p['cpu_s']} | {p['total_s']} | "
                f"{round(100 * p['share_of_timeout'])}% | {p['items_per_s']:,} | {p['item_bytes']} | "
                f"{p['wcu_per_s']:,} ({p['write_units_per_item']}/item) | {p['rcu_per_s']:,} | "
                f"{p.get('raw_batch_writer_s', '-')} | {p.get('ratio_to_raw', '-')} |"
            )
    return "\n".join(lines)
