"""The point-of-sale child of `bench/instruments.py` (`python bench/instruments.py pos`): round
trips and latency per operation through the instrument API handler."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from typing import Any

from bench.instruments_common import (
    CREDIT_SERIES,
    GROUP,
    SERIES,
    Calls,
    callers,
    code_clients,
    expect_status,
    percentile,
    setup_series,
)


def do_pos(operations: int) -> dict[str, Any]:
    from loyalty_engine.instruments.batches import all_numbers
    from loyalty_engine.instruments.context import instrument_services
    from loyalty_engine.instruments.series_store import SeriesStore
    from tests.support.api import call

    admin, pos = callers()
    setup_series(admin)
    count = 2 * operations + 2
    expect_status(
        call("api_create_batch", admin, body={"batch_id": "pos", "count": count}),
        201,
        "a batch for the point of sale",
    )
    store: SeriesStore = instrument_services().series
    series, batch = store.series(GROUP, SERIES), store.batch(GROUP, SERIES, "pos")
    assert series is not None and batch is not None
    numbers = all_numbers(series, batch)
    cards, spare, single, warm = numbers[:operations], numbers[operations:-2], numbers[-2], numbers[-1]
    calls = Calls(code_clients())

    def redemption(rid: str, amount: str = "12.50") -> dict[str, Any]:
        return {"redemption_id": rid, "amount": amount, "currency": "EUR"}

    # (name, event, path, body, expected status) per call: every kind once to warm up, then measured
    def plan(prefix: str, targets: list[str]) -> dict[str, list[tuple[str, dict[str, str], Any, int]]]:
        return {
            "activation": [
                (
                    "api_activate_gift_card",
                    {"number": n},
                    {"activation_id": f"{prefix}A{i}", "value": "100.00"},
                    201,
                )
                for i, n in enumerate(targets)
            ],
            "lookup": [("api_lookup_instrument", {"number": n}, ..., 200) for n in targets],
            "redemption": [
                ("api_redeem_instrument", {"number": n}, redemption(f"{prefix}R{i}"), 201)
                for i, n in enumerate(targets)
            ],
            "redemption replay": [
                ("api_redeem_instrument", {"number": n}, redemption(f"{prefix}R{i}"), 201)
                for i, n in enumerate(targets)
            ],
            "redemption refused (insufficient balance)": [
                ("api_redeem_instrument", {"number": n}, redemption(f"{prefix}X{i}", "999.00"), 409)
                for i, n in enumerate(targets)
            ],
            "reversal": [
                (
                    "api_reverse_redemption",
                    {"number": n, "redemption_id": f"{prefix}R{i}"},
                    {"reversal_id": f"{prefix}V{i}", "amount": "12.50"},
                    201,
                )
                for i, n in enumerate(targets)
            ],
            "store credit issue": [
                (
                    "api_issue_store_credit",
                    {"series_id": CREDIT_SERIES},
                    {"return_id": f"{prefix}RET-{i}", "amount": "19.90", "currency": "EUR"},
                    201,
                )
                for i in range(len(targets))
            ],
        }

    measured: dict[str, dict[str, Any]] = {}

    def run(name: str, steps: list[tuple[str, dict[str, str], Any, int]], keep: bool) -> None:
        latencies: list[float] = []
        trips: list[int] = []
        shapes: Counter[str] = Counter()
        attempts: list[int] = []
        for event, path, body, status in steps:
            calls.reset()
            began = time.perf_counter()
            reply = call(event, pos, path=path, body=body)
            latencies.append((time.perf_counter() - began) * 1000)
            expect_status(reply, status, f"{name} {path}")
            trips.append(sum(n for op, n in calls.calls.items() if op.startswith("dynamodb.")))
            attempts.append(calls.attempts)
            shapes[
                " + ".join(op.split(".", 1)[1] for op in calls.sequence if op.startswith("dynamodb."))
            ] += 1
        if keep:
            measured[name] = {
                "operations": len(steps),
                "round_trips_mean": round(statistics.fmean(trips), 3),
                "round_trips_max": max(trips),
                "http_attempts_mean": round(statistics.fmean(attempts), 3),
                "calls": dict(shapes.most_common()),
                "p50_ms": percentile(latencies, 50),
                "p95_ms": percentile(latencies, 95),
            }

    for name, steps in plan("warm-", [warm]).items():  # a warm container: one call of each
        run(name, steps, keep=False)
    for name, steps in plan("", cards).items():
        run(name, steps, keep=True)
    # one card, redemption after redemption (its partition grows with every entry and record)
    run("activation", plan("single-", [single])["activation"], keep=False)
    same = [
        ("api_redeem_instrument", {"number": single}, redemption(f"single-R{i}", "0.25"), 201)
        for i in range(operations)
    ]
    run("redemption, same card one after the other", same, keep=True)
    final = expect_status(call("api_lookup_instrument", pos, path={"number": single}), 200, "lookup")
    expected = f"{100 - 0.25 * operations:.2f}"
    if final["balance"] != expected:
        raise RuntimeError(f"balance {final['balance']} after {operations} redemptions, expected {expected}")
    return {
        "operations": operations,
        "cards_in_table": count,
        "unused_cards": len(spare),
        "measured": measured,
    }
