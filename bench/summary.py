"""`.bench/summary.json`: the headline figures of issue 18, from the figures the passes of
`make bench` wrote (`.bench/run.json`, `imports.json`, `jobs.json`, `aws.json`, `events.json`); also
`python bench/summary.py` to rebuild it from the files that are there.

Exactly the issue's keys, each with a `<key>_basis` saying how it was obtained (size,
measured or extrapolated, backend), and `figures_from` with the time each source file was
written: a pass skipped in this run (BENCH_AWS_LATENCY=0 or =only) leaves the previous
run's file, and its figures say so by their time.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if (_root := str(Path(__file__).resolve().parent.parent)) not in sys.path:
    sys.path.insert(0, _root)  # run as a script: only bench/ is on the path

from bench.processes import ROOT

BENCH = ROOT / ".bench"
OUT = BENCH / "summary.json"
SOURCES = ("run", "imports", "jobs", "aws", "events")
KEYS = (
    "import_earn_200k_s",
    "import_master_200k_s",
    "import_ratio_to_raw_min",
    "import_requests_per_line_max",
    "import_hottest_partition_wcu_s",
    "tier_10m_projected_min",
    "expire_points_members_per_s",
    "earn_wcu_at_50_lots",
    "cold_import_ratio_max",
    "earn_round_trips",
    "burn_round_trips",
    "events_published_per_s",
    "earn_added_dynamodb_requests",
)
LATENCY = (
    "with injected p50 latency (bench/aws_model.py): every call at least its p50, on the process's clock "
    "less the time it stood still while moto served (bench/aws_hooks.FrozenClock)"
)


def _load(name: str) -> dict[str, Any] | None:
    path = BENCH / f"{name}.json"
    return dict(json.loads(path.read_text())) if path.exists() else None


def _written(name: str) -> str | None:
    path = BENCH / f"{name}.json"
    if not path.exists():
        return None
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")


def build() -> dict[str, Any]:
    run, imports, jobs, aws, events = (_load(name) for name in SOURCES)
    out: dict[str, Any] = {key: None for key in KEYS}
    out |= {f"{key}_basis": "not measured (its pass did not run)" for key in KEYS}

    if aws is not None:
        figures = aws["imports"]
        for key, scope in (("import_earn_200k_s", "earnreward"), ("import_master_200k_s", "masterreward")):
            if scope in figures:
                f = figures[scope]
                out[key] = f["projected_200k_s"]
                out[f"{key}_basis"] = f"{f['projected_200k_basis']} ({f['lines']} lines), {LATENCY}"
        if figures:

            def ratio(f: dict[str, Any]) -> float:
                return float(f.get("ratio_to_raw_at_partition_limit", f["ratio_to_raw"]))

            worst = min(figures.items(), key=lambda kv: ratio(kv[1]))
            out["import_ratio_to_raw_min"] = ratio(worst[1])
            out["import_ratio_to_raw_min_basis"] = (
                f"{worst[0]} at {worst[1]['lines']} lines against a raw writer of the same items with the "
                f"importer's parallelism ({worst[1].get('raw_threads', 1)} BatchWriteItem requests in "
                f"flight), same backend, same run, {LATENCY}; "
                f"the raw writer held to 1,000 WCU/s on its hottest partition as DynamoDB would hold it "
                f"(unheld: {worst[1]['ratio_to_raw']})"
            )
            hot = max(figures.items(), key=lambda kv: kv[1]["hottest_partition_wcu_s"])
            out["import_hottest_partition_wcu_s"] = hot[1]["hottest_partition_wcu_s"]
            out["import_hottest_partition_wcu_s_basis"] = (
                f"{hot[0]} at {hot[1]['lines']} lines: {hot[1]['hottest_partition']} "
                f"({hot[1]['hottest_partition_units']} units over the run's {hot[1]['aws_s']} s on AWS), "
                "units metered from the items before and after each write (table and gsi1 copies)"
            )
        tier = aws.get("tier_upgrade")
        if tier:
            out["tier_10m_projected_min"] = tier["projected_10m_min"]
            out["tier_10m_projected_min_basis"] = f"{tier['projected_10m_basis']}, {LATENCY}"
        earn = aws.get("earn_units")
        if earn:
            at = earn[f"earn_at_{earn['lots']}_lots"]
            window = earn.get("window")
            out["earn_wcu_at_50_lots"] = window["mean"] if window else at["write_units"]
            out["earn_wcu_at_50_lots_basis"] = (
                (
                    f"mean of the earns of orders {window['orders']} through the API on moto "
                    f"(min {window['min']}, max {window['max']}: an earn that moves the open chunk "
                    f"into its month's chunk; {window.get('mean_if_not_transactional')} on average if "
                    f"the earns were not transactions: 1 unit per KB), {earn['case']}; "
                    if window
                    else f"the earn after {earn['lots']} orders through the API on moto, {earn['case']}; "
                )
                + f"the earn after {earn['lots']} orders: {at['write_units']} (items: "
                + ", ".join(f"{i['type']} {i['units']}" for i in at["items"])
                + f"; {at['write_units_if_not_transactional']} if it were not a transaction)"
            )

    per_line: list[tuple[float, str]] = []
    if imports is not None:
        for scope, entries in imports["scopes"].items():
            for size, entry in entries.items():
                if isinstance(entry, dict) and "dynamodb_requests_per_line" in entry:
                    per_line.append((entry["dynamodb_requests_per_line"], f"{scope} at {size} lines"))
    if aws is not None:
        for scope, f in aws["imports"].items():
            per_line.append(
                (f["dynamodb_requests_per_line"], f"{scope} at {f['lines']} lines (latency pass)")
            )
    if per_line:
        value, where = max(per_line)
        out["import_requests_per_line_max"] = value
        out["import_requests_per_line_max_basis"] = f"{where}, counted with botocore hooks"

    expire = (jobs or {}).get("jobs", {}).get("expire-points")
    if expire:
        out["expire_points_members_per_s"] = expire["run"]["members_per_s"]
        out["expire_points_members_per_s_basis"] = (
            f"measured on moto (no injected latency) over {expire['members']} members, half with expired lots"
        )

    if run is not None:
        warm, cold = run["warm_path_on_moto"], run["cold_imports"]
        out["earn_round_trips"] = warm["round_trips_per_earn"]
        out["earn_round_trips_basis"] = "warm container, " + ", ".join(warm["earn_calls"])
        out["burn_round_trips"] = warm["round_trips_per_burn"]
        out["burn_round_trips_basis"] = "warm container, " + ", ".join(warm["burn_calls"])
        ratios = {m: v["ratio_to_bare"] for m, v in cold.items() if isinstance(v, dict)}
        worst_module = max(ratios, key=lambda m: ratios[m])
        out["cold_import_ratio_max"] = ratios[worst_module]
        out["cold_import_ratio_max_basis"] = (
            f"{worst_module}: median of {run.get('import_runs', '?')} cold imports in turns with a bare "
            f"powertools handler ({cold['bare_powertools_handler_ms']} ms)"
        )
    if events is not None:
        publisher = events["publisher"]
        out["events_published_per_s"] = publisher["events_per_s_on_moto"]
        out["events_published_per_s_basis"] = (
            f"one publisher on moto in-process, {publisher['events']} events of {publisher['earns']} earns, "
            f"{publisher['events_per_put_events']} events per PutEvents; the publisher's own code "
            f"{publisher['events_per_s_publisher_code']}/s (the rest is moto's stream reads and PutEvents); "
            f"projected on AWS {publisher['events_per_s_projected_on_aws']}/s per shard ({publisher['projection_basis']})"
        )
        out["earn_added_dynamodb_requests"] = events["earn_added_dynamodb_requests"]
        out["earn_added_dynamodb_requests_basis"] = (
            "DynamoDB calls of a warm earn with the table's stream ("
            + ", ".join(events["earn_requests_with_stream"])
            + ") minus without it ("
            + ", ".join(events["earn_requests_without_stream"])
            + "), botocore hooks; the stream's reads by Lambda are no table request"
        )
    out["figures_from"] = {name: _written(name) for name in SOURCES}
    return out


def write() -> dict[str, Any]:
    summary = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\n{OUT.relative_to(ROOT)}:")
    print(json.dumps({key: summary[key] for key in KEYS}, indent=2), flush=True)
    return summary


if __name__ == "__main__":
    write()
