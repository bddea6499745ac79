"""The instrument benchmarks' figures (`.bench/instruments.json`), their tables, the projection
on AWS and the goals, from what the children of `bench/instruments.py` measured."""

from __future__ import annotations

import math
import statistics
from typing import Any

from bench.instruments_common import GOAL_ROUND_TRIPS, PROJECTION

# --- figures -----------------------------------------------------------------------------


def _by_service(calls: dict[str, int], service: str) -> dict[str, int]:
    prefix = f"{service}."
    return {k[len(prefix) :]: n for k, n in sorted(calls.items()) if k.startswith(prefix)}


def project(issue: dict[str, Any], cards: int) -> dict[str, Any]:
    """PROJECTION["cards"] cards on AWS: the run's requests and CPU time scaled linearly."""
    from loyalty_engine.instruments.series_use_cases import MARGIN_MS
    from loyalty_engine.wiring import BATCH_ISSUER

    scale = PROJECTION["cards"] / cards
    latency = PROJECTION["dynamodb_ms"]
    dynamodb = _by_service(issue["calls"], "dynamodb")
    dynamodb_s = (
        sum(n * latency.get(op, PROJECTION["dynamodb_other_ms"]) for op, n in dynamodb.items()) * scale / 1000
    )
    s3 = _by_service(issue["calls"], "s3")
    s3_s = sum(s3.values()) * PROJECTION["s3_request_ms"] / 1000 + issue["export_bytes"] * scale / (
        PROJECTION["s3_put_mb_s"] * 1e6
    )
    vcpu = min(1.0, BATCH_ISSUER.memory_mb / PROJECTION["full_vcpu_mb"])
    cpu_s = issue["cpu_s"] * scale / vcpu
    total = dynamodb_s + s3_s + cpu_s
    usable = BATCH_ISSUER.timeout_s - MARGIN_MS / 1000
    return {
        "cards": PROJECTION["cards"],
        "issuer_memory_mb": BATCH_ISSUER.memory_mb,
        "issuer_timeout_s": BATCH_ISSUER.timeout_s,
        "vcpu_share": round(vcpu, 2),
        "dynamodb_s": round(dynamodb_s, 1),
        "s3_s": round(s3_s, 1),
        "cpu_s": round(cpu_s, 1),
        "total_s": round(total, 1),
        "cards_per_s": round(PROJECTION["cards"] / total),
        "invocations": math.ceil(total / usable),
        "wcu_per_s": round(PROJECTION["cards"] / total),  # items under 1 KB, no index copy
    }


def figures(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "goal_round_trips_per_redemption": GOAL_ROUND_TRIPS,
        "projection_assumptions": PROJECTION,
    }
    if "issue" in results:
        r = results["issue"]
        cards, issue = r["cards"], r["issue"]
        dynamodb = _by_service(issue["calls"], "dynamodb")
        raw_rates = [raw["items_per_s"] for raw in r["raw"]]
        raw_mean = statistics.fmean(raw_rates)
        raw_cpu_ms = statistics.fmean(1000 * raw["cpu_s"] / raw["items"] for raw in r["raw"])
        raw_server_ms = statistics.fmean(1000 * raw["server_cpu_s"] / raw["items"] for raw in r["raw"])
        s3_put_s = issue["call_seconds"].get("s3.PutObject", 0.0)
        export_s = issue["export_csv_s"] + s3_put_s
        requests = sum(dynamodb.values())
        out["issue"] = {
            "cards": cards,
            "invocations": issue["invocations"],
            "wall_s": round(issue["wall_s"], 1),
            "cpu_s": round(issue["cpu_s"], 1),
            "cards_per_s": round(cards / issue["wall_s"]),
            "raw_batch_writer": [
                {
                    "items": raw["items"],
                    "wall_s": round(raw["wall_s"], 1),
                    "items_per_s": round(raw["items_per_s"]),
                    "requests": sum(raw["calls"].values()),
                    "cpu_ms_per_item": round(1000 * raw["cpu_s"] / raw["items"], 3),
                    "server_cpu_ms_per_item": round(1000 * raw["server_cpu_s"] / raw["items"], 3),
                }
                for raw in r["raw"]
            ],
            "raw_items_per_s": round(raw_mean),
            "ratio_to_raw": round(cards / issue["wall_s"] / raw_mean, 2),
            "cpu_ms_per_card": round(1000 * issue["cpu_s"] / cards, 3),
            "server_cpu_ms_per_card": round(1000 * issue["server_cpu_s"] / cards, 3),
            "raw_cpu_ms_per_item": round(raw_cpu_ms, 3),
            "raw_server_cpu_ms_per_item": round(raw_server_ms, 3),
            # what the ratio would be if CPU time alone counted (steadier than wall time on a
            # busy machine): raw (client + server) CPU per item / the batch's per card
            "cpu_ratio_to_raw": round(
                (raw_cpu_ms + raw_server_ms) / (1000 * (issue["cpu_s"] + issue["server_cpu_s"]) / cards), 2
            )
            if issue["server_cpu_s"]
            else None,
            "dynamodb_requests": requests,
            "dynamodb_requests_per_card": round(requests / cards, 4),
            "dynamodb_by_operation": dynamodb,
            "dynamodb_per_card_by_operation": {op: round(n / cards, 5) for op, n in dynamodb.items()},
            "dynamodb_http_attempts": issue["attempts"],
            "s3_by_operation": _by_service(issue["calls"], "s3"),
            "sqs_by_operation": _by_service(issue["calls"], "sqs"),
            "seconds_in_calls_by_operation": issue["call_seconds"],
            "seconds_outside_calls": round(issue["wall_s"] - sum(issue["call_seconds"].values()), 1),
            "create_api": {
                "status": issue["api_status"],
                "wall_ms": round(issue["api_wall_s"] * 1000, 1),
                "calls": issue["api_calls"],
            },
            "export": {
                "csv_s": round(issue["export_csv_s"], 2),
                "csv_cpu_s": round(issue["export_csv_cpu_s"], 2),
                "s3_put_s": round(s3_put_s, 2),
                "total_s": round(export_s, 2),
                "cards_per_s": round(cards / export_s) if export_s else None,
                "mb": round(issue["export_bytes"] / 1e6, 2),
            },
            "generation": {
                "s": round(r["generation_s"], 2),
                "cpu_s": round(r["generation_cpu_s"], 2),
                "cards_per_s": round(cards / r["generation_s"]),
                "cards_per_cpu_s": round(cards / r["generation_cpu_s"]),
            },
            "item_bytes": r["item_bytes"],
            "projection_on_aws": project(issue, cards),
        }
    if "pos" in results:
        out["pos"] = results["pos"]
    return out


def table(result: dict[str, Any]) -> str:
    def mark(ok: bool) -> str:
        return "ok" if ok else "MISS"

    lines: list[str] = []
    issue = result.get("issue")
    if issue:
        raws = ", ".join(f"{raw['items_per_s']:,} ({raw['wall_s']} s)" for raw in issue["raw_batch_writer"])
        per_card = ", ".join(f"{op} {n:g}" for op, n in issue["dynamodb_per_card_by_operation"].items())
        spent = sorted(issue["seconds_in_calls_by_operation"].items(), key=lambda kv: -kv[1])
        counts = {f"dynamodb.{op}": n for op, n in issue["dynamodb_by_operation"].items()}
        counts |= {f"s3.{op}": n for op, n in issue["s3_by_operation"].items()}
        counts |= {f"sqs.{op}": n for op, n in issue["sqs_by_operation"].items()}
        timed = ", ".join(
            f"{op.split('.', 1)[1]} {t:g} ({1000 * t / counts[op]:.1f} ms)"
            for op, t in spent
            if t >= 0.05 and counts.get(op)
        )
        export, generation = issue["export"], issue["generation"]
        lines += [
            "",
            "## Issuing gift cards on moto (server in its own process): the API, then the BatchIssuer",
            "",
            "| cards | invocations | wall s | cards/s | raw batch_writer items/s | ratio | DDB req/card | "
            "export s (CSV + PutObject) | number generation cards/s (per CPU s) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {issue['cards']:,} | {issue['invocations']} | {issue['wall_s']} | {issue['cards_per_s']:,} | "
            f"{issue['raw_items_per_s']:,} | {issue['ratio_to_raw']} | {issue['dynamodb_requests_per_card']} | "
            f"{export['total_s']} ({export['csv_s']} + {export['s3_put_s']}; {export['cards_per_s']:,} cards/s) | "
            f"{generation['cards_per_s']:,} ({generation['cards_per_cpu_s']:,}) |",
            "",
            "| per card (raw: per item) | wall ms | client CPU ms | moto server CPU ms |",
            "|---|---:|---:|---:|",
            f"| BatchIssuer | {1000 / issue['cards_per_s']:.3f} | {issue['cpu_ms_per_card']} | "
            f"{issue['server_cpu_ms_per_card']} |",
            f"| raw batch_writer (mean of {len(issue['raw_batch_writer'])}) | {1000 / issue['raw_items_per_s']:.3f} | "
            f"{issue['raw_cpu_ms_per_item']} | {issue['raw_server_cpu_ms_per_item']} |",
            "",
            f"The export's CSV took {export['csv_cpu_s']} s of CPU (the numbers regenerated, then written). "
            f"CPU ratio (raw client + server CPU per item / the BatchIssuer's per card; steadier than the wall-time "
            f"ratio on a busy machine): {issue['cpu_ratio_to_raw']}. "
            f"DynamoDB requests per card: {per_card} ({issue['dynamodb_requests']:,} in all, "
            f"{issue['dynamodb_http_attempts']:,} HTTP attempts); S3: "
            f"{', '.join(f'{op} {n}' for op, n in issue['s3_by_operation'].items()) or '-'}; SQS: "
            f"{', '.join(f'{op} {n}' for op, n in issue['sqs_by_operation'].items()) or '-'}. "
            f"In calls (mean per call): {timed}; outside calls: {issue['seconds_outside_calls']} s. "
            f"Raw batch_writer (items/s), before and after the batch: {raws}; an instrument item is "
            f"{issue['item_bytes']} bytes. The API call that created the batch: {issue['create_api']['status']}, "
            f"{issue['create_api']['wall_ms']} ms, {', '.join(f'{op} {n}' for op, n in issue['create_api']['calls'].items())}.",
        ]
        p = issue["projection_on_aws"]
        ms = ", ".join(f"{op} {v:g} ms" for op, v in PROJECTION["dynamodb_ms"].items())
        lines += [
            "",
            f"Projection of {p['cards']:,} cards on AWS, scaled from this run: DynamoDB {p['dynamodb_s']} s + S3 "
            f"{p['s3_s']} s + CPU {p['cpu_s']} s = {p['total_s']} s ({p['cards_per_s']:,} cards/s, about "
            f"{p['wcu_per_s']:,} WCU/s), {p['invocations']} invocation(s) of the BatchIssuer "
            f"({p['issuer_memory_mb']} MB, {p['issuer_timeout_s']} s). Assumptions: p50 latencies {ms}; "
            f"calls one after the other; CPU time divided by the issuer's vCPU share ({p['vcpu_share']}).",
        ]
    pos = result.get("pos")
    if pos:
        goal = result["goal_round_trips_per_redemption"]
        lines += [
            "",
            "## Point of sale on moto (server in its own process), through the instrument API handler",
            "",
            f"| operation | calls | DDB round trips (redemptions <= {goal}) | max | DynamoDB calls | p50 ms | p95 ms |",
            "|---|---:|---:|---:|---|---:|---:|",
        ]
        for name, m in pos["measured"].items():
            trips = f"{m['round_trips_mean']:g}"
            if name.startswith("redemption"):
                trips += f" {mark(m['round_trips_max'] <= goal)}"
            shapes = "; ".join(
                f"{shape or 'none'}" + (f" (x{n})" if len(m["calls"]) > 1 else "")
                for shape, n in m["calls"].items()
            )
            lines.append(
                f"| {name} | {m['operations']:,} | {trips} | {m['round_trips_max']} | {shapes} | {m['p50_ms']} | {m['p95_ms']} |"
            )
    return "\n".join(lines)


def goals_met(result: dict[str, Any]) -> bool:
    measured = result.get("pos", {}).get("measured", {})
    return all(
        m["round_trips_max"] <= GOAL_ROUND_TRIPS
        for name, m in measured.items()
        if name.startswith("redemption")
    )
