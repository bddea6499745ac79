"""`make bench`: the figures the issues ask for, measured in one run.

1. DynamoDB round trips per earn and per burn on a warm container (botocore hooks).
2. Cold import time of each handler module in a fresh interpreter that sees only the
   Lambda layer's packages, with Lambda's environment variables (tracing on), and its
   ratio to a bare powertools handler.
3. p50/p95 of an earn through the real handler in-process on moto, and the ratio to one
   raw TransactWriteItems call of the same shape on the same backend.
4. Imports (`bench/imports.py`): masterreward and earnreward files through the real importer
   against a moto server in its own process: time and ratio to a raw batch_writer, requests
   per line, peak RSS of a small and a large file, and a projection on AWS.
5. Scheduled jobs (`bench/jobs.py`): a tier-upgrade run over BENCH_JOB_MEMBERS members (default
   20,000) against a moto server in its own process: DynamoDB requests per member, members/s
   and the ratio to a raw paginated read of the same members, a replay and the next day's run;
   reconcile and expire-points runs on smaller programs; a projection to 10 million members.
6. Instruments (`bench/instruments.py`): BENCH_INSTRUMENT_CARDS gift cards (default 20,000) issued
   through the API and the BatchIssuer against a moto server in its own process: DynamoDB
   requests per card, cards/s and the ratio to a raw batch_writer of the same items, the CSV
   export and the number generation apart; round trips and latency per point-of-sale operation
   (activation, lookup, redemption, reversal, store credit) through the instrument API handler.
7. With injected AWS latency (`bench/aws_pass.py`; BENCH_AWS_LATENCY=1, the default; run right after 1 and 2): the
   imports at the largest of BENCH_IMPORT_SIZES (or BENCH_AWS_IMPORT_LINES), a tier-upgrade
   run over BENCH_JOB_MEMBERS (or BENCH_AWS_JOB_MEMBERS), the write units of an earn for a
   member with 50 lots. BENCH_AWS_LATENCY=0 skips it, =only runs it alone (with 1 and 2).
8. Domain events (`bench/events.py`): events published per second by one publisher on moto,
   and the DynamoDB requests the table's stream adds to an earn (none).
   Webhooks (`bench/webhooks.py`): time and AWS requests per delivery, per dispatched event.
9. `.bench/summary.json` (`bench/summary.py`): the issue's headline figures.

BENCH_QUICK=1: small sizes everywhere (a few minutes), to check the plumbing, not for figures.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / ".bench" / "layer"
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "TABLE_NAME": "loyalty-bench",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

QUICK = os.environ.get("BENCH_QUICK") == "1"
QUICK_SIZES = {
    "BENCH_IMPORT_SIZES": "1000,3000",
    "BENCH_JOB_MEMBERS": "2000",
    "BENCH_JOB_RECONCILE": "200",
    "BENCH_JOB_EXPIRE": "60",
    "BENCH_INSTRUMENT_CARDS": "1000",
    "BENCH_INSTRUMENT_POS": "20",
    "BENCH_EVENT_EARNS": "300",
}
if QUICK:
    for _name, _value in QUICK_SIZES.items():
        os.environ.setdefault(_name, _value)

HANDLERS = [
    "loyalty_engine.handlers.api",
    "loyalty_engine.handlers.instrument_api",
    "loyalty_engine.handlers.authorizer",
]
IMPORT_RUNS = 3 if QUICK else 15
EARNS = 40 if QUICK else 200
MEMBERS = 20


def ensure_layer() -> None:
    """The runtime dependencies alone, as the Lambda layer ships them."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    stamp = LAYER / ".deps.json"
    if stamp.exists() and json.loads(stamp.read_text()) == deps:
        return
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(LAYER),
            *deps,
        ],
        check=True,
        capture_output=True,
    )
    stamp.write_text(json.dumps(deps))


def _import_once(module: str, env: dict[str, str]) -> float:
    done = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-c", f"import {module}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    last = [line for line in done.stderr.splitlines() if line.endswith(f"| {module}")][-1]
    return int(last.split("|")[1]) / 1000


def import_ms(modules: list[str], path: list[Path]) -> dict[str, float]:
    """Median cumulative import time of each module in fresh `python -S` processes.

    The modules are measured in turns (one of each per round), so that the machine's drift
    during the measurement weighs on all of them alike: the ratios are what to read.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "POWERTOOLS_TRACE"))}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in path)
    # What Lambda sets: the X-Ray SDK then samples locally instead of building API clients at import.
    env.update(
        LAMBDA_TASK_ROOT=str(ROOT / "functions"),
        AWS_LAMBDA_FUNCTION_NAME="bench",
        AWS_REGION=os.environ["AWS_DEFAULT_REGION"],
    )
    times: dict[str, list[float]] = {module: [] for module in modules}
    for _ in range(IMPORT_RUNS):
        for module in modules:
            times[module].append(_import_once(module, env))
    return {module: statistics.median(values) for module, values in times.items()}


def cold_imports() -> dict[str, object]:
    ensure_layer()
    path = [LAYER, ROOT / "functions", ROOT / "bench"]
    measured = import_ms(["bare_handler", *HANDLERS], path)
    bare = measured["bare_handler"]
    result: dict[str, object] = {"bare_powertools_handler_ms": round(bare, 1)}
    for module in HANDLERS:
        ms = measured[module]
        result[module] = {"ms": round(ms, 1), "ratio_to_bare": round(ms / bare, 2)}
    return result


def warm_path() -> dict[str, object]:
    from moto import mock_aws

    from loyalty_engine.handlers.api_context import default_context
    from loyalty_engine.kernel.dynamo import client
    from tests.integration.conftest import ADMIN, SHOP
    from tests.support.api import call
    from tests.support.aws import create_table, fresh_caches
    from tests.support.clock import FakeClock

    with mock_aws():
        fresh_caches()
        dynamodb = client()
        create_table(dynamodb, os.environ["TABLE_NAME"])
        default_context().clock = FakeClock()
        calls: list[str] = []
        dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
        assert call("api_put_program", ADMIN).status == 201
        assert call("api_enrol_member", SHOP).status == 201
        # warm the container: one earn and one burn
        earn = json.loads(json.loads((ROOT / "events/api_earn_order.json").read_text())["body"])
        assert call("api_earn_order", SHOP, body={**earn, "order_id": "warm"}).status == 201
        assert call("api_burn_points", SHOP, body={"points": 1, "burn_id": "warm"}).status == 201

        calls.clear()
        assert call("api_earn_order", SHOP, body={**earn, "order_id": "counted"}).status == 201
        earn_calls = list(calls)
        calls.clear()
        assert call("api_burn_points", SHOP, body={"points": 1, "burn_id": "counted"}).status == 201
        burn_calls = list(calls)

        # Earns spread over members (a member's item grows with its open lots), each followed by
        # one raw TransactWriteItems of the same shape (member put + record put + entry put), so
        # that both see the same table: moto's transactions slow down as the table grows.
        members = [f"BENCH-{n:04d}" for n in range(MEMBERS)]
        for card in members:
            assert call("api_enrol_member", SHOP, body={"card_code": card}).status == 201
        latencies, raw = [], []
        table = os.environ["TABLE_NAME"]
        for n in range(EARNS):
            body = {**earn, "order_id": f"bench-{n}", "amount": "1.00"}
            started = time.perf_counter()
            reply = call("api_earn_order", SHOP, path={"card_code": members[n % MEMBERS]}, body=body)
            latencies.append((time.perf_counter() - started) * 1000)
            assert reply.status == 201
            items = [
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": f"G#raw#C#{n}"}, "sk": {"S": sk}, "type": {"S": "raw"}},
                    }
                }
                for sk in ("MEMBER", "ORDER#x", "E#x")
            ]
            started = time.perf_counter()
            dynamodb.transact_write_items(TransactItems=items)
            raw.append((time.perf_counter() - started) * 1000)

    def pct(values: list[float], q: float) -> float:
        return round(statistics.quantiles(values, n=100)[int(q) - 1], 2)

    return {
        "round_trips_per_earn": len(earn_calls),
        "earn_calls": earn_calls,
        "round_trips_per_burn": len(burn_calls),
        "burn_calls": burn_calls,
        "earn_p50_ms": pct(latencies, 50),
        "earn_p95_ms": pct(latencies, 95),
        "raw_transact_p50_ms": pct(raw, 50),
        "raw_transact_p95_ms": pct(raw, 95),
        "earn_p50_ratio_to_raw_transact": round(pct(latencies, 50) / pct(raw, 50), 2),
    }


def aws_sizes() -> tuple[int, int]:
    """(import lines, tier-run members) of the pass with injected latency."""
    from bench import imports as import_bench
    from bench import jobs as job_bench

    lines = int(os.environ.get("BENCH_AWS_IMPORT_LINES") or max(import_bench.default_sizes()))
    members = int(os.environ.get("BENCH_AWS_JOB_MEMBERS") or job_bench.default_size("tier-upgrade"))
    return lines, members


def main() -> int:
    mode = os.environ.get("BENCH_AWS_LATENCY", "1")
    with contextlib.redirect_stdout(io.StringIO()):  # the handler's EMF metrics lines
        warm = warm_path()
    figures: dict[str, Any] = {
        "warm_path_on_moto": warm,
        "cold_imports": cold_imports(),
        "import_runs": IMPORT_RUNS,
    }
    print(json.dumps(figures, indent=2), flush=True)
    (ROOT / ".bench").mkdir(exist_ok=True)
    (ROOT / ".bench" / "run.json").write_text(json.dumps(figures, indent=2) + "\n")
    ok = figures["warm_path_on_moto"]["round_trips_per_earn"] <= 2
    ok = ok and figures["warm_path_on_moto"]["round_trips_per_burn"] <= 2
    if mode != "0":
        # With injected latency, first: the events' and webhooks' benches below leave their local
        # stacks' threads in this process, and the pass's timings suffered from them (9.2 s on
        # AWS for 20,000 earnreward lines after them, 5.6 s alone).
        from bench import aws_pass  # several minutes

        aws_pass.run(*aws_sizes())
    if mode != "only":
        from bench import imports as import_bench  # after the figures above: it takes a few minutes

        import_bench.run_all()
        from bench import jobs as job_bench  # a few minutes more

        jobs = job_bench.run_all()
        from bench import instruments as instrument_bench  # two or three minutes more

        instruments = instrument_bench.run_all()
        ok = ok and job_bench.goals_met(jobs) and instrument_bench.goals_met(instruments)
        from bench import events as event_bench  # a few minutes more

        with contextlib.redirect_stdout(io.StringIO()):  # the handlers' EMF metrics lines
            events = event_bench.run_all()
        print(json.dumps({"events": events}, indent=2), flush=True)
        ok = ok and events["earn_added_dynamodb_requests"] == 0
        from bench import webhooks as webhook_bench  # a minute more

        with contextlib.redirect_stdout(io.StringIO()):
            hooks = webhook_bench.run_all()
        print(json.dumps({"webhooks": hooks}, indent=2), flush=True)
        ok = ok and hooks["requests_per_delivery"] <= 2
    from bench import summary

    summary.write()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
