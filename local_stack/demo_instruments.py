"""Gift cards, store credit and coupons: the back office sets up stores and series and pre-issues
a batch of gift cards in the background (InstrumentApi -> InstrumentBatches queue -> BatchIssuer
-> CSV export in the Exports bucket); then the stores' tills, each with an API key bound to its
merchant, sell, pay, refund and look up.

The story: three stores. The two city stores (Paris, Lyon) sell gift cards; all three accept
them, the Lille outlet included. Any store issues store credit on a return. Coupons are handed
out and accepted in the city stores only.

The scenes at the tills are in `demo_instrument_tills.py`, the background batch and the
exports in `demo_instrument_batches.py`.
"""

from __future__ import annotations

import contextlib
import io
import sys
from typing import TYPE_CHECKING, TextIO

from local_stack.demo_client import GROUP, DemoClient, ScenarioResult, Step, field, table
from local_stack.demo_instrument_batches import background_batch, export_rows
from local_stack.demo_instrument_tills import (
    Tills,
    cancel_stolen_card,
    sell_and_pay,
    store_credit_for_a_return,
    take_coupons,
)

if TYPE_CHECKING:
    from local_stack.stack import LocalStack

BATCH_COUNT = 2_000  # above SYNC_BATCH_LIMIT (1,000 by default): issued in the background

STORES = (
    # merchant id, name, store id, in the city stores' group
    ("store-1", "Paris Opera", "S001", True),
    ("store-2", "Lyon Part-Dieu", "S002", True),
    ("store-3", "Lille outlet", "S003", False),
)


def _create_till_key(merchant_id: str, name: str) -> str | None:
    """What `loyalty-admin create-key --group demo --scope shop --merchant <id>` does, in this
    process (whose environment is the local stack's); the token, printed once."""
    from loyalty_engine.cli import main as admin

    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        code = admin(
            ["create-key", "--group", GROUP, "--scope", "shop", "--merchant", merchant_id, "--name", name]
        )
    token = printed.getvalue().strip()
    return token if code == 0 and token else None


def run_instruments_scenario(
    stack: LocalStack,
    *,
    out: TextIO = sys.stdout,
    suffix: str = "",
    prefix: str = "628",
    count: int = BATCH_COUNT,
) -> ScenarioResult:
    """`suffix` makes the ids unique and `prefix` (digits) the series' number prefixes, so that the
    scenario can run more than once against one stack. The small batches (10) must be within the
    stack's SYNC_BATCH_LIMIT and `count` above it, for the big batch to run in the background (202)."""
    keys = {group: dict(tokens) for group, tokens in stack.keys.items()}
    c = DemoClient(stack.api_url, keys, out)
    city, everywhere = f"city-stores{suffix}", f"all-stores{suffix}"
    gift, credit, coupon = f"gift{suffix}", f"credit{suffix}", f"welcome10{suffix}"
    stores = [
        (f"{merchant}{suffix}", name, f"{store_id}{suffix.upper()}", in_city)
        for merchant, name, store_id, in_city in STORES
    ]
    (paris, *_), (lyon, *_), (lille, *_) = stores

    out.write("\nGift cards, store credit and coupons (back office)\n")
    c.call(
        "merchant group: the city stores (sell gift cards, hand out and take coupons)",
        "PUT",
        f"/v1/merchant-groups/{city}",
        body={"name": "City stores", "description": "Paris and Lyon"},
        expect=201,
    )
    c.call(
        "merchant group: all stores (accept gift cards, issue and accept store credit)",
        "PUT",
        f"/v1/merchant-groups/{everywhere}",
        body={"name": "All stores"},
        expect=201,
    )
    for merchant, name, store_id, in_city in stores:
        groups = [everywhere, city] if in_city else [everywhere]
        c.call(
            f"merchant {merchant}: {name} ({'city, ' if in_city else ''}all stores)",
            "PUT",
            f"/v1/merchants/{merchant}",
            body={"name": name, "store_id": store_id, "merchant_groups": groups},
            expect=201,
        )
    c.call(
        f"gift card series {prefix}1..., 16 digits: 5-500 EUR, valid 3 years from the sale",
        "PUT",
        f"/v1/series/{gift}",
        body={
            "name": "Gift card",
            "kind": "gift_card",
            "prefix": f"{prefix}1",
            "length": 16,
            "issuer_group": city,
            "acceptor_group": everywhere,
            "currency": "EUR",
            "min_value": "5.00",
            "max_value": "500.00",
            "validity": {"value": 3, "unit": "years"},
        },
        expect=201,
        checks=(field("issued", 0),),
    )
    c.call(
        f"store credit series {prefix}2..., valid 1 year",
        "PUT",
        f"/v1/series/{credit}",
        body={
            "name": "Store credit",
            "kind": "store_credit",
            "prefix": f"{prefix}2",
            "length": 16,
            "issuer_group": everywhere,
            "acceptor_group": everywhere,
            "currency": "EUR",
            "max_value": "1000.00",
            "validity": {"value": 1, "unit": "years"},
        },
        expect=201,
    )
    c.call(
        f"coupon series {prefix}3..., 12 digits: 10 % off, valid 30 days, city stores only",
        "PUT",
        f"/v1/series/{coupon}",
        body={
            "name": "Welcome 10 %",
            "kind": "coupon",
            "prefix": f"{prefix}3",
            "length": 12,
            "issuer_group": city,
            "acceptor_group": city,
            "discount": {"percent": "10"},
            "validity": {"value": 30, "unit": "days"},
        },
        expect=201,
    )

    out.write("\n  Pre-issue cards and coupons (small batches: issued during the call)\n")
    window = c.call(
        "10 gift cards for the shop window",
        "POST",
        f"/v1/series/{gift}/batches",
        body={"batch_id": f"window-1{suffix}", "count": 10},
        expect=201,
        checks=(field("status", "completed"), field("issued", 10)),
    )
    coupon_batch = c.call(
        "10 welcome coupons",
        "POST",
        f"/v1/series/{coupon}/batches",
        body={"batch_id": f"welcome-1{suffix}", "count": 10},
        expect=201,
        checks=(field("status", "completed"), field("issued", 10)),
    )
    gift_numbers, coupons = (
        [row["number"] for row in export_rows(stack, str(batch["export"]))]
        if isinstance(batch, dict) and batch.get("export")
        else []
        for batch in (window, coupon_batch)
    )
    if gift_numbers:
        out.write(f"    the shop window's cards: {window['export']}\n")
    if len(gift_numbers) < 2 or len(coupons) < 2:
        out.write("  (no numbers to sell: the till scenes are skipped)\n")
        c.result.steps.append(Step("numbers to sell", "-", "exports", 2, 0, "the exports have no numbers"))
        return c.finish()

    out.write("\n  Till keys, one per store (bound to its merchant)\n")
    for merchant, name, *_ in stores:
        token = _create_till_key(merchant, f"till, {name}")
        out.write(f"    loyalty-admin create-key --group {GROUP} --scope shop --merchant {merchant}\n")
        if token is None:
            c.result.steps.append(Step(f"create-key {merchant}", "CLI", "create-key", 0, 1, "no key"))
            return c.finish()
        keys[GROUP][merchant] = token

    card, other_card = gift_numbers[0], gift_numbers[1]
    first_coupon, second_coupon = coupons[0], coupons[1]
    tills = Tills(paris, lyon, lille)
    out.write("\nAt the tills\n")
    sell_and_pay(c, tills, card, other_card, suffix)
    out.write("\n")
    store_credit = store_credit_for_a_return(c, tills, credit, suffix)
    out.write("\n")
    take_coupons(c, tills, first_coupon, second_coupon, card, suffix)
    out.write("\n")
    cancel_stolen_card(c, tills, other_card, suffix)

    stock = background_batch(c, stack, out, gift, f"xmas-2026{suffix}", count)
    in_stock = stock[-1:] if stock else []

    out.write("\n  Look-ups\n")
    views = []
    for number in (card, other_card, store_credit, first_coupon, second_coupon, *in_stock):
        view = c.call(
            f"look up {number}",
            "GET",
            f"/v1/instruments/{number}",
            key=(GROUP, lyon),
            expect=200,
        )
        views.append(view if isinstance(view, dict) else {})
    expected = [
        ("active", "37.50", "sold in Paris, paid in Lyon, refunded in Lille"),
        ("cancelled", None, "not sold (Lille may not sell it), stolen, cancelled"),
        ("redeemed", "0.00", "store credit of a return in Lille, spent in Paris"),
        ("redeemed", None, "coupon used in Paris (refused in Lyon)"),
        ("active", None, "coupon refused in Lille"),
        *([("issued", None, "Christmas stock, not sold")] * len(in_stock)),
    ]
    for view, (status, balance, _) in zip(views, expected, strict=True):
        if (view.get("status"), view.get("balance")) != (status, balance):
            c.result.steps.append(
                Step(
                    f"{view.get('number')} is {status}",
                    "GET",
                    "/v1/instruments",
                    200,
                    200,
                    f"status {view.get('status')!r}, balance {view.get('balance')!r}",
                )
            )
    out.write("\n")
    table(
        out,
        ["number", "series", "status", "balance", "valid until", "story"],
        [
            [
                str(view.get("number")),
                str(view.get("series_name")),
                str(view.get("status")),
                f"{view['balance']} {view.get('currency')}" if view.get("balance") is not None else "-",
                str(view.get("valid_until") or "-")[:10],
                story,
            ]
            for view, (_, _, story) in zip(views, expected, strict=True)
        ],
        {3},
    )
    page = c.call(
        f"the ledger of card {card}, newest first",
        "GET",
        f"/v1/instruments/{card}/ledger",
        key=(GROUP, paris),
        expect=200,
        checks=(field("next_cursor", None),),
    )
    entries = page.get("entries", []) if isinstance(page, dict) else []
    kinds = [entry.get("kind") for entry in entries]
    if kinds != ["reversal", "redemption", "redemption", "activation"]:
        c.result.steps.append(Step("the card's ledger", "GET", "ledger", 4, len(kinds), f"entries {kinds}"))
    out.write(f"\n  Ledger of card {card}\n")
    table(
        out,
        ["at (UTC)", "kind", "store", "reference", "amount", "balance"],
        [
            [
                str(entry.get("at", ""))[:19].replace("T", " "),
                str(entry.get("kind")),
                str(entry.get("merchant_id") or "-"),
                str(entry.get("reference")),
                str(entry.get("amount")),
                str(entry.get("balance_after")),
            ]
            for entry in entries
        ],
        {4, 5},
    )
    return c.finish()
