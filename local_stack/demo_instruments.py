"""Gift cards, store credit and coupons: the back office sets up stores and series and pre-issues
a batch of gift cards in the background (InstrumentApi -> InstrumentBatches queue -> BatchIssuer
-> CSV export in the Exports bucket); then the stores' tills, each with an API key bound to its
merchant, sell, pay, refund and look up.

The story: three stores. The two city stores (Paris, Lyon) sell gift cards; all three accept
them, the Lille outlet included. Any store issues store credit on a return. Coupons are handed
out and accepted in the city stores only.
"""

from __future__ import annotations

import contextlib
import csv
import io
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from local_stack.demo_client import GROUP, DemoClient, ScenarioResult, Step, error, field, table
from loyalty_engine.wiring import BATCH_ISSUER, BATCH_QUEUE, EXPORT_BUCKET

if TYPE_CHECKING:
    from local_stack.stack import LocalStack

BATCH_COUNT = 2_000  # above SYNC_BATCH_LIMIT (1,000 by default): issued in the background
POLL_INTERVAL_S = 0.25
BATCH_TIMEOUT_S = 120.0

STORES = (
    # merchant id, name, store id, in the city stores' group
    ("store-1", "Paris Opera", "S001", True),
    ("store-2", "Lyon Part-Dieu", "S002", True),
    ("store-3", "Lille outlet", "S003", False),
)


def _number_of(body: Any) -> str:
    instrument = body.get("instrument") if isinstance(body, dict) else None
    return str(instrument.get("number")) if isinstance(instrument, dict) else "unknown"


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


def _export_rows(stack: LocalStack, uri: str) -> list[dict[str, str]]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


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
        [row["number"] for row in _export_rows(stack, str(batch["export"]))]
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
    out.write("\nAt the tills\n")
    sale = {"activation_id": f"P1-S-0001{suffix}", "value": "50.00"}
    sold = c.call(
        f"Paris sells card {card} for 50.00 EUR",
        "POST",
        f"/v1/instruments/{card}/activations",
        body=sale,
        key=(GROUP, paris),
        expect=201,
        checks=(field("instrument.status", "active"), field("instrument.balance", "50.00")),
    )
    c.call(
        "the till retries the sale: the same answer, sold once",
        "POST",
        f"/v1/instruments/{card}/activations",
        body=sale,
        key=(GROUP, paris),
        expect=201,
        checks=(lambda body: None if body == sold else "the retry's answer differs",),
    )
    c.call(
        "the Lille outlet may not sell gift cards (not a city store)",
        "POST",
        f"/v1/instruments/{other_card}/activations",
        body={"activation_id": f"L3-S-0001{suffix}", "value": "20.00"},
        key=(GROUP, lille),
        expect=403,
        checks=(error("wrong_merchant_group"),),
    )
    c.call(
        "a shop key bound to no store may not sell either",
        "POST",
        f"/v1/instruments/{other_card}/activations",
        body={"activation_id": f"WEB-S-0001{suffix}", "value": "20.00"},
        key=(GROUP, "shop"),
        expect=403,
        checks=(error("merchant_required"),),
    )
    c.call(
        "Lyon: the card pays 12.50 EUR",
        "POST",
        f"/v1/instruments/{card}/redemptions",
        body={"redemption_id": f"L2-P-0001{suffix}", "amount": "12.50", "currency": "EUR"},
        key=(GROUP, lyon),
        expect=201,
        checks=(field("instrument.balance", "37.50"),),
    )
    lille_payment = f"L3-P-0001{suffix}"
    c.call(
        "Lille accepts gift cards: the card pays 30.00 EUR",
        "POST",
        f"/v1/instruments/{card}/redemptions",
        body={"redemption_id": lille_payment, "amount": "30.00", "currency": "EUR"},
        key=(GROUP, lille),
        expect=201,
        checks=(field("instrument.balance", "7.50"),),
    )
    c.call(
        "Lille: 10.00 EUR more is more than the card holds",
        "POST",
        f"/v1/instruments/{card}/redemptions",
        body={"redemption_id": f"L3-P-0002{suffix}", "amount": "10.00", "currency": "EUR"},
        key=(GROUP, lille),
        expect=409,
        checks=(error("insufficient_balance"),),
    )
    c.call(
        "Lille cancels the basket: the 30.00 EUR go back to the card",
        "POST",
        f"/v1/instruments/{card}/redemptions/{lille_payment}/reversals",
        body={"reversal_id": f"L3-R-0001{suffix}"},
        key=(GROUP, lille),
        expect=201,
        checks=(field("entry.kind", "reversal"), field("instrument.balance", "37.50")),
    )
    c.call(
        "and again: nothing is left to refund",
        "POST",
        f"/v1/instruments/{card}/redemptions/{lille_payment}/reversals",
        body={"reversal_id": f"L3-R-0002{suffix}"},
        key=(GROUP, lille),
        expect=409,
        checks=(error("reversal_exceeds_redemption"),),
    )

    out.write("\n")
    issued = c.call(
        "a return in Lille: 19.90 EUR of store credit instead of cash",
        "POST",
        f"/v1/series/{credit}/store-credits",
        body={"return_id": f"L3-RET-0001{suffix}", "amount": "19.90", "currency": "EUR"},
        key=(GROUP, lille),
        expect=201,
        checks=(field("instrument.status", "active"), field("instrument.balance", "19.90")),
    )
    store_credit = _number_of(issued)
    c.call(
        f"Paris: store credit {store_credit} pays 19.90 EUR",
        "POST",
        f"/v1/instruments/{store_credit}/redemptions",
        body={"redemption_id": f"P1-P-0001{suffix}", "amount": "19.90", "currency": "EUR"},
        key=(GROUP, paris),
        expect=201,
        checks=(field("instrument.balance", "0.00"),),
    )

    out.write("\n")
    c.call(
        f"Paris takes coupon {first_coupon}: 10 % off",
        "POST",
        f"/v1/instruments/{first_coupon}/redemptions",
        body={"redemption_id": f"P1-C-0001{suffix}"},
        key=(GROUP, paris),
        expect=201,
        checks=(field("instrument.status", "redeemed"), field("instrument.discount.percent", "10")),
    )
    c.call(
        "the same coupon in Lyon: used already",
        "POST",
        f"/v1/instruments/{first_coupon}/redemptions",
        body={"redemption_id": f"L2-C-0001{suffix}"},
        key=(GROUP, lyon),
        expect=409,
        checks=(error("already_used"),),
    )
    c.call(
        "another coupon in Lille: coupons are for the city stores",
        "POST",
        f"/v1/instruments/{second_coupon}/redemptions",
        body={"redemption_id": f"L3-C-0001{suffix}"},
        key=(GROUP, lille),
        expect=403,
        checks=(error("wrong_merchant_group"),),
    )
    bad = card[:-1] + str((int(card[-1]) + 1) % 10)
    c.call(
        f"Lyon: the cashier mistypes the card number ({bad}): the check digit says so",
        "POST",
        f"/v1/instruments/{bad}/redemptions",
        body={"redemption_id": f"L2-P-0002{suffix}", "amount": "5.00", "currency": "EUR"},
        key=(GROUP, lyon),
        expect=422,
        checks=(error("invalid_number"),),
    )

    out.write("\n")
    c.call(
        f"back office: card {other_card} was stolen from the shop window, cancel it",
        "POST",
        f"/v1/instruments/{other_card}/cancellations",
        body={"cancellation_id": f"BO-C-0001{suffix}", "reason": "stolen from the shop window"},
        expect=201,
        checks=(field("instrument.status", "cancelled"), field("entry.kind", "cancellation")),
    )
    c.call(
        "Paris tries to sell the stolen card: refused",
        "POST",
        f"/v1/instruments/{other_card}/activations",
        body={"activation_id": f"P1-S-0002{suffix}", "value": "20.00"},
        key=(GROUP, paris),
        expect=409,
        checks=(error("cancelled"),),
    )

    stock = _background_batch(c, stack, out, gift, f"xmas-2026{suffix}", count)
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


def _background_batch(
    c: DemoClient, stack: LocalStack, out: TextIO, series_id: str, batch_id: str, count: int
) -> list[str]:
    """Order a large batch (202), poll it until it is completed, show its export; its numbers."""
    out.write(
        f"\n  The Christmas stock: {count:,} gift cards in the background "
        f"(API -> {BATCH_QUEUE.name} queue -> {BATCH_ISSUER.name} -> {EXPORT_BUCKET.name} bucket)\n"
    )
    batches = f"/v1/series/{series_id}/batches"
    c.call(
        f"order {count:,} gift cards: accepted, issued in the background",
        "POST",
        batches,
        body={"batch_id": batch_id, "count": count},
        expect=202,
        checks=(field("status", "pending"), field("export", None)),
    )
    out.write(
        "    polling the batch (on AWS `issued` grows by 1,000 per checkpoint; the local stack runs one\n"
        "    function at a time, so a poll made while the issuer works is answered when it is done)\n"
    )
    batch = _poll_batch(c, out, f"{batches}/{batch_id}", count)
    if batch.get("status") != "completed" or not batch.get("export"):
        return []
    uri = str(batch["export"])
    rows = _export_rows(stack, uri)
    numbers = [row["number"] for row in rows]
    bucket = uri.removeprefix("s3://").partition("/")[0]
    out.write(f"    export: {uri}  ({len(rows):,} numbers, one per line)\n")
    out.write(
        "    download: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws "
        f"--endpoint-url {stack.aws_endpoint_url} --region {stack.region} s3 cp {uri} .\n"
    )
    out.write("    (on AWS: the stack output ExportsBucketName; exports expire after 30 days)\n")
    out.write("      number            series  batch\n")
    for row in rows[:3]:
        out.write(f"      {row['number']}  {row['series_id']:<6}  {row['batch_id']}\n")
    out.write("      ...\n")
    if bucket != stack.bucket_name(EXPORT_BUCKET.name) or len(set(numbers)) != count:
        c.result.steps.append(
            Step("the export lists every number once", "GET", uri, count, len(set(numbers)), "it does not")
        )
    return numbers


def _poll_batch(c: DemoClient, out: TextIO, path: str, count: int) -> dict[str, Any]:
    """Poll the batch until it is no longer pending; one line per change seen."""
    started = time.monotonic()
    seen: tuple[Any, ...] | None = None
    batch: dict[str, Any] = {}
    while time.monotonic() - started < BATCH_TIMEOUT_S:
        response = c.session.get(
            c.api_url + path, headers={"Authorization": f"Bearer {c.keys[GROUP]['admin']}"}, timeout=30
        )
        batch = response.json() if response.status_code == 200 else {}
        state = (batch.get("status"), batch.get("issued"))
        if state != seen:
            seen = state
            out.write(
                f"    {time.monotonic() - started:5.1f} s  GET {path}: {batch.get('status')}, "
                f"{batch.get('issued', 0):,}/{count:,} issued ({batch.get('progress', 0.0):.0%})\n"
            )
        if batch.get("status") != "pending":
            break
        time.sleep(POLL_INTERVAL_S)
    c.call(
        "the batch is completed, with its CSV export",
        "GET",
        path,
        expect=200,
        checks=(field("status", "completed"), field("issued", count), field("progress", 1.0)),
    )
    return batch
