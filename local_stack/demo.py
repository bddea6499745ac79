"""A realistic scenario through the HTTP API, printed for humans; it doubles as a smoke test.

`run_scenario(api_url, keys)` runs it against any running stack (the tests call it) and
says whether every answer was the expected one; `main()` starts a local stack, runs it and
the other scenarios (`demo_imports.py`, `demo_tiers.py`, `demo_instruments.py`,
`demo_webhooks.py`), and stops
the stack (`make demo`). `demo_client.py` holds what they share.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TextIO

from local_stack.demo_client import GROUP, OTHER_GROUP, DemoClient, ScenarioResult, Step, error, field, table
from local_stack.demo_imports import run_import_scenario
from local_stack.demo_instruments import run_instruments_scenario
from local_stack.demo_tiers import run_tiers_scenario
from local_stack.demo_webhooks import run_webhooks_scenario
from local_stack.stack import LocalStack

PARIS = timezone(timedelta(hours=1), "CET")  # the shop's clock: times are sent with their offset


def _iso(moment: datetime) -> str:
    return moment.astimezone(PARIS).isoformat(timespec="seconds")


def _signed(points: Any) -> str:
    return f"{points:+d}" if isinstance(points, int) and points else str(points)


def _nq(body: Any) -> int | None:
    try:
        return int(body["balances"]["nq"]["available"])
    except (KeyError, TypeError, ValueError):
        return None


def run_scenario(
    api_url: str, keys: dict[str, dict[str, str]], *, out: TextIO = sys.stdout, suffix: str = ""
) -> ScenarioResult:
    """The demo scenario as the `demo` group's till and back office; `suffix` makes its ids unique
    so that it can run more than once against the same stack."""
    c = DemoClient(api_url, keys, out)
    now = datetime.now(UTC).replace(microsecond=0)
    program_id = f"city-rewards{suffix}"
    alice = f"CITY-0001{suffix}".upper()
    a1, a2, b1, b2 = (f"{order}{suffix}" for order in ("A-1001", "A-1002", "B-2001", "B-2002"))

    out.write(f"Loyalty engine demo: {api_url}, loyalty group {GROUP!r}\n\n")
    out.write("Program and members\n")
    program = {
        "name": f"City Rewards{suffix}",
        "currency": "EUR",
        "starts_at": "2025-01-01T00:00:00+01:00",
        "card_codes": {"generation": "auto", "prefix": "2790", "length": 13},
        # 10 points per euro, rounded down; spendable at once; valid one year.
        "nq_points": {"conversion_rate": "10", "rounding": "down", "validity": {"value": 1, "unit": "year"}},
        "q_points": {"conversion_rate": "1", "rounding": "down", "validity": {"value": 1, "unit": "year"}},
    }
    c.call(
        "create the program (admin key): 10 points per EUR, valid 1 year",
        "PUT",
        f"/v1/programs/{program_id}",
        body=program,
        expect=201,
        checks=(field("program_id", program_id), field("nq_points.conversion_rate", "10")),
    )
    c.call(
        "a shop key may not change programs",
        "PUT",
        f"/v1/programs/{program_id}",
        body=program,
        key=(GROUP, "shop"),
        expect=403,
        checks=(error("forbidden"),),
    )
    c.call(
        "enrol Alice with her imported card code",
        "POST",
        f"/v1/programs/{program_id}/members",
        body={"card_code": alice, "customer_ref": "crm-10442"},
        key=(GROUP, "shop"),
        expect=201,
        checks=(field("card_code", alice), field("balances.nq.available", 0)),
    )
    enrolled = c.call(
        "enrol Bob with a generated card code",
        "POST",
        f"/v1/programs/{program_id}/members",
        body={"customer_ref": "crm-20931"},
        key=(GROUP, "shop"),
        headers={"Idempotency-Key": f"enrol-crm-20931{suffix}"},
        expect=201,
        checks=(
            lambda body: (
                None
                if str(body.get("card_code", "")).startswith("2790") and len(body["card_code"]) == 13
                else f"card code {body.get('card_code')!r} is not 2790 + 9 digits"
            ),
        ),
    )
    bob = str(enrolled["card_code"]) if isinstance(enrolled, dict) and "card_code" in enrolled else "unknown"

    out.write("\nEarn, retry, conflict\n")

    def order(order_id: str, amount: str, days_ago: int, lines: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "order_id": order_id,
            "amount": amount,
            "currency": "EUR",
            "ordered_at": _iso(now - timedelta(days=days_ago, hours=2)),
            "store_id": "paris-04",
            "lines": lines,
        }

    order_a1 = order(
        a1,
        "42.50",
        3,
        [
            {"sku": "COF-250", "quantity": 2, "amount": "17.00", "product_group": "coffee"},
            {"sku": "MUG-01", "quantity": 1, "amount": "25.50", "product_group": "home"},
        ],
    )
    first = c.call(
        f"Alice buys for 42.50 EUR ({a1}): +425 points",
        "POST",
        f"/v1/members/{alice}/orders",
        body=order_a1,
        key=(GROUP, "shop"),
        expect=201,
        checks=(field("earned.nq", 425), field("earned.q", 42), field("balances.nq.available", 425)),
    )
    c.call(
        f"the till retries {a1}: the same answer, no double credit",
        "POST",
        f"/v1/members/{alice}/orders",
        body=order_a1,
        key=(GROUP, "shop"),
        expect=201,
        checks=(lambda body: None if body == first else "the retry's answer differs from the first",),
    )
    c.call(
        f"{a1} again with another amount: refused",
        "POST",
        f"/v1/members/{alice}/orders",
        body={**order_a1, "amount": "99.00"},
        key=(GROUP, "shop"),
        expect=409,
        checks=(error("idempotency_key_reused"),),
    )
    c.call(
        f"Alice buys for 18.20 EUR ({a2}): +182 points",
        "POST",
        f"/v1/members/{alice}/orders",
        body=order(a2, "18.20", 2, [{"sku": "TEA-100", "quantity": 1, "amount": "18.20"}]),
        key=(GROUP, "shop"),
        expect=201,
        checks=(field("earned.nq", 182), field("balances.nq.available", 607)),
    )
    c.call(
        f"Bob buys for 120.00 EUR ({b1}): +1200 points",
        "POST",
        f"/v1/members/{bob}/orders",
        body=order(b1, "120.00", 3, [{"sku": "GRN-900", "quantity": 4, "amount": "120.00"}]),
        key=(GROUP, "shop"),
        expect=201,
        checks=(field("earned.nq", 1200), field("balances.nq.available", 1200)),
    )
    c.call(
        f"Bob buys for 15.99 EUR ({b2}): +159 points (rounded down)",
        "POST",
        f"/v1/members/{bob}/orders",
        body=order(b2, "15.99", 1, [{"sku": "CUP-12", "quantity": 1, "amount": "15.99"}]),
        key=(GROUP, "shop"),
        expect=201,
        checks=(field("earned.nq", 159), field("balances.nq.available", 1359)),
    )

    out.write("\nBurn and returns\n")
    c.call(
        "Alice spends 300 points",
        "POST",
        f"/v1/members/{alice}/burns",
        body={"burn_id": f"burn-a-1{suffix}", "points": 300, "reason": "coffee voucher"},
        key=(GROUP, "shop"),
        expect=201,
        checks=(field("points", 300), field("balances.nq.available", 307)),
    )
    c.call(
        f"Bob returns 30.00 EUR of {b1}: -300 points",
        "POST",
        f"/v1/members/{bob}/orders/{b1}/returns",
        body={"return_id": f"ret-b-1{suffix}", "amount": "30.00"},
        key=(GROUP, "shop"),
        expect=201,
        checks=(
            field("reversed.nq", 300),
            field("order_returned_amount", "30.00"),
            field("balances.nq.available", 1059),
        ),
    )
    c.call(
        f"Alice returns all of {a2}: -182 points",
        "POST",
        f"/v1/members/{alice}/orders/{a2}/returns",
        body={"return_id": f"ret-a-1{suffix}"},
        key=(GROUP, "shop"),
        expect=201,
        checks=(
            field("reversed.nq", 182),
            field("reversed.unrecovered", 0),
            field("balances.nq.available", 125),
        ),
    )
    c.call(
        "Alice tries to spend 1000 points: not enough",
        "POST",
        f"/v1/members/{alice}/burns",
        body={"burn_id": f"burn-a-2{suffix}", "points": 1000},
        key=(GROUP, "shop"),
        expect=409,
        checks=(error("insufficient_points"),),
    )
    c.call(
        f"group {OTHER_GROUP!r} cannot see Alice",
        "GET",
        f"/v1/members/{alice}",
        key=(OTHER_GROUP, "admin"),
        expect=404,
        checks=(error("member_not_found"),),
    )

    out.write("\nBalances and ledger\n")
    members = [
        (alice, "crm-10442", 125, 42),
        (bob, "crm-20931", 1059, 105),
    ]
    views = []
    for card_code, _, nq, q in members:
        view = c.call(
            f"read the member: {nq} points",
            "GET",
            f"/v1/members/{card_code}",
            expect=200,
            checks=(field("balances.nq.available", nq), field("balances.q.valid", q)),
        )
        views.append(view if isinstance(view, dict) else {})
    ledgers = []
    for card_code, *_ in members:
        page = c.call(
            "read the ledger, newest first",
            "GET",
            f"/v1/members/{card_code}/ledger?limit=20",
            expect=200,
            checks=(field("next_cursor", None),),
        )
        ledgers.append(page.get("entries", []) if isinstance(page, dict) else [])
    if ledgers and ledgers[0]:
        kinds = [entry.get("kind") for entry in ledgers[0]]
        if kinds != ["return", "burn", "earn", "earn"]:
            c.result.steps.append(
                Step("Alice's ledger", "GET", f"/v1/members/{alice}/ledger", 200, 200, f"entries {kinds}")
            )

    out.write("\n  Members\n")
    rows = []
    for (card_code, customer_ref, *_), view in zip(members, views, strict=True):
        balances = view.get("balances", {})
        expiry = (balances.get("nq") or {}).get("next_expiry") or {}
        rows.append(
            [
                card_code,
                customer_ref,
                str(_nq(view)),
                str((balances.get("nq") or {}).get("pending")),
                str((balances.get("q") or {}).get("valid")),
                f"{expiry.get('points')} on {str(expiry.get('at'))[:10]}" if expiry else "-",
            ]
        )
    table(out, ["card code", "customer", "points", "pending", "Q points", "next expiry"], rows, {2, 3, 4})

    out.write(f"\n  Ledger of {alice}\n")
    table(
        out,
        ["at (UTC)", "kind", "reference", "NQ", "Q", "NQ balance"],
        [
            [
                str(entry.get("at", ""))[:19].replace("T", " "),
                str(entry.get("kind")),
                str(entry.get("reference") or "-"),
                _signed(entry.get("nq", 0)),
                _signed(entry.get("q", 0)),
                str(entry.get("nq_balance")),
            ]
            for entry in (ledgers[0] if ledgers else [])
        ],
        {3, 4, 5},
    )

    out.write("\n  Summary\n")
    summary = []
    for (card_code, *_), entries, view in zip(members, ledgers, views, strict=True):
        totals = {
            kind: sum(e.get("nq", 0) for e in entries if e.get("kind") == kind)
            for kind in ("earn", "burn", "return")
        }
        summary.append(
            [
                card_code,
                str(sum(1 for e in entries if e.get("kind") == "earn")),
                _signed(totals["earn"]),
                _signed(totals["burn"]),
                _signed(totals["return"]),
                str(_nq(view)),
            ]
        )
    table(out, ["card code", "orders", "earned", "spent", "returned", "balance"], summary, {1, 2, 3, 4, 5})
    return c.finish()


def main() -> int:
    # The schedules' clock stands still until the tiers scenario runs it.
    with LocalStack.start() as stack:
        results = [
            run_scenario(stack.api_url, stack.keys),
            run_webhooks_scenario(stack),
            run_import_scenario(stack),
            run_tiers_scenario(stack),
            run_instruments_scenario(stack),
        ]
    return 0 if all(result.ok for result in results) else 1
