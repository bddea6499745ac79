"""Series and pre-issue batches through the instrument API on moto: updates and the immutable
layout, merchant groups, validation, prefix resolution (no overlap, longest prefix wins, nested
series), synchronous batches, their replays and their CSV export."""

from __future__ import annotations

import csv
import io
import os
from typing import Any

import boto3
import pytest

from tests.support.api import call
from tests.support.aws import fresh_caches
from tests.support.clock import FakeClock
from tests.support.instrument_api import (
    ADMIN,
    CREDIT,
    PROMO,
    SPLIT,
    STORE,
    batch_numbers,
    build_world,
    create_batch,
    gift_spec,
    issue,
    lookup,
    luhn_digit,
    luhn_ok,
    ok,
    put_series,
    refused,
    sell,
)

EXPORTS = "loyalty-test-exports"


@pytest.fixture
def world(table) -> FakeClock:
    return build_world()


@pytest.fixture
def exports(table, monkeypatch) -> Any:
    """An export bucket in moto, configured as the instrument API's EXPORT_BUCKET."""
    monkeypatch.setenv("EXPORT_BUCKET", EXPORTS)
    fresh_caches()
    s3 = boto3.client("s3", region_name=os.environ["AWS_DEFAULT_REGION"])
    s3.create_bucket(
        Bucket=EXPORTS, CreateBucketConfiguration={"LocationConstraint": os.environ["AWS_DEFAULT_REGION"]}
    )
    yield s3
    monkeypatch.delenv("EXPORT_BUCKET")
    fresh_caches()


def get_series(series_id: str) -> Any:
    return call("api_get_series", ADMIN, path={"series_id": series_id})


def unissued(prefix: str, length: int, issued: list[str]) -> str:
    """A Luhn-valid number of the prefix and length that is not among `issued`."""
    for body in range(10 ** (length - len(prefix) - 1)):
        payload = f"{prefix}{body:0{length - len(prefix) - 1}d}"
        number = payload + luhn_digit(payload)
        if number not in issued:
            return number
    raise AssertionError("no free number")


def test_a_series_is_created_then_updated_but_its_layout_never_changes(world, table):
    first = ok(get_series("gift"), 200)
    assert (first["version"], first["issued"], first["min_value"], first["max_value"]) == (
        1,
        0,
        "5.00",
        "500.00",
    )
    issue(table, "gift", "B-1", 2)
    world.advance(days=1)
    updated = ok(put_series("gift", gift_spec(name="Gift cards 2027", max_value="300")), 200)
    assert (updated["name"], updated["max_value"], updated["version"]) == ("Gift cards 2027", "300.00", 2)
    assert updated["issued"] == 2  # the counter is kept: issued numbers are never handed out again
    assert updated["created_at"] == first["created_at"] and updated["updated_at"] > first["updated_at"]
    assert ok(get_series("gift"), 200) == updated

    for changes, fields in (
        ({"prefix": "6013"}, ["prefix"]),
        ({"length": 18}, ["length"]),
        ({"check_digit": False}, ["check_digit"]),
        ({"kind": "store_credit", "length": 18, "min_value": None, "max_value": None}, ["kind", "length"]),
    ):
        body = refused(put_series("gift", gift_spec(**changes)), 409, "series_layout_immutable")
        assert [d["field"] for d in body["details"]] == fields, body
    assert ok(get_series("gift"), 200) == updated
    refused(get_series("nothing"), 404, "series_not_found")
    listed = ok(call("api_list_series", ADMIN), 200)["series"]
    assert [s["series_id"] for s in listed] == ["credit", "gift", "promo", "split"]


def test_a_series_names_existing_merchant_groups(world):
    body = refused(
        put_series("g2", gift_spec(prefix="6100", issuer_group="nobody")), 422, "unknown_merchant_group"
    )
    assert body["details"] == [
        {"field": "issuer_group", "reason": "unknown_merchant_group", "value": "nobody"}
    ]
    both = gift_spec(prefix="6100", issuer_group="nobody", acceptor_group="none")
    body = refused(put_series("g2", both), 422, "unknown_merchant_group")
    assert [d["field"] for d in body["details"]] == ["issuer_group", "acceptor_group"]
    # An update is checked too.
    refused(put_series("gift", gift_spec(acceptor_group="none")), 422, "unknown_merchant_group")
    refused(get_series("g2"), 404, "series_not_found")
    assert ok(get_series("gift"), 200)["acceptor_group"] == "stores"


INVALID_SPECS = {
    "3 free digits": gift_spec(prefix="6100", length=8),
    "no currency": gift_spec(prefix="6100", currency=None),
    "coupon without discount": {**PROMO, "prefix": "6100", "discount": None},
    "coupon with a currency": {**PROMO, "prefix": "6100", "currency": "EUR"},
    "discount on a gift card": gift_spec(prefix="6100", discount={"percent": "5"}),
    "percent and amount": {**PROMO, "prefix": "6100", "discount": {"percent": "5", "amount": "2.00"}},
    "fixed value on store credit": {**CREDIT, "prefix": "6100", "max_value": None, "value": "10.00"},
    "fixed value and bounds": {**SPLIT, "prefix": "6100", "min_value": "5.00"},
    "min above max": gift_spec(prefix="6100", min_value="50.00", max_value="20.00"),
    "three decimals": gift_spec(prefix="6100", min_value="5.001"),
    "zero value": {**SPLIT, "prefix": "6100", "value": "0"},
    "prefix not digits": gift_spec(prefix="61a0"),
}


def test_series_specs_are_validated(world):
    for name, spec in INVALID_SPECS.items():
        reply = put_series("invalid", spec)
        assert (reply.status, reply.body["code"]) == (422, "validation_error"), (name, reply.body)
    refused(get_series("invalid"), 404, "series_not_found")
    # The least room: 4 free digits between the prefix and the check digit (3 without it).
    ok(put_series("tight", gift_spec(prefix="6100", length=9)))
    ok(put_series("tight-raw", gift_spec(prefix="6101", length=8, check_digit=False)))


def test_prefixes_never_overlap_and_a_number_belongs_to_the_longest(world, table):
    body = refused(put_series("gift-2", gift_spec()), 409, "prefix_overlap")
    assert body["details"][0]["series_id"] == "gift"
    # 80 then 801: nested while 80 has issued nothing; 801's numbers are a tenth of 80's space.
    ok(put_series("wide", gift_spec(prefix="80", length=10)))
    ok(put_series("inner", gift_spec(prefix="801", length=10)))
    wide = issue(table, "wide", "B-WIDE", 200)
    assert not [n for n in wide if n.startswith("801")]
    assert all(n.startswith("80") and len(n) == 10 and luhn_ok(n) for n in wide)
    # Once 80 has issued, nothing may nest in it any more; nothing was created.
    body = refused(put_series("late", gift_spec(prefix="802", length=10)), 409, "prefix_overlap")
    assert body["details"][0]["series_id"] == "wide"
    refused(get_series("late"), 404, "series_not_found")
    inner = issue(table, "inner", "B-INNER", 5)
    assert all(n.startswith("801") for n in inner)
    for number, series_id in [(wide[0], "wide"), (wide[-1], "wide"), (inner[0], "inner")]:
        assert ok(lookup(number), 200)["series_id"] == series_id
    # A valid number of a series that was never issued; a prefix no series has.
    refused(lookup(unissued("801", 10, inner)), 404, "instrument_not_found")
    refused(lookup(unissued("803", 10, wide)), 404, "instrument_not_found")
    refused(lookup(unissued("99", 10, [])), 404, "unknown_series")
    refused(lookup(unissued("801", 11, [])), 404, "unknown_series")  # the series' length differs

    # An enclosing series may come after the nested one has issued: it skips the nested numbers.
    ok(put_series("eight", gift_spec(prefix="8", length=10)))
    eight = issue(table, "eight", "B-EIGHT", 100)
    assert not [n for n in eight if n.startswith("80")]
    assert {ok(lookup(n), 200)["series_id"] for n in eight[:5]} == {"eight"}


def test_a_number_resolves_to_the_longest_prefix_60_and_6012(world, table):
    ok(put_series("sixty", gift_spec(prefix="60", length=16)))  # encloses `gift` (6012)
    gift = issue(table, "gift", "B-GIFT", 3)
    sixty = issue(table, "sixty", "B-SIXTY", 300)
    assert not [n for n in sixty if n.startswith("6012")]
    assert {ok(lookup(n), 200)["series_id"] for n in gift} == {"gift"}
    assert {ok(lookup(n), 200)["series_id"] for n in sixty[:3]} == {"sixty"}
    sold = ok(sell(gift[0], "SALE-1", "30.00"))
    assert (sold["instrument"]["series_id"], sold["instrument"]["series_name"]) == ("gift", "Gift cards")
    # A nested series is refused now that `sixty` has issued.
    refused(put_series("sixty-one", gift_spec(prefix="6013")), 409, "prefix_overlap")


def test_a_sync_batch_issues_unique_valid_numbers_and_exports_them(exports, table):
    build_world()
    batch = ok(create_batch("gift", "B-1", 50))
    assert {k: batch[k] for k in ("batch_id", "series_id", "count", "status", "issued", "progress")} == {
        "batch_id": "B-1",
        "series_id": "gift",
        "count": 50,
        "status": "completed",
        "issued": 50,
        "progress": 1.0,
    }
    assert batch["export"] == f"s3://{EXPORTS}/exports/demo/gift/B-1.csv"
    numbers = batch_numbers(table, "B-1")
    assert len(numbers) == len(set(numbers)) == 50
    assert all(len(n) == 16 and n.startswith("6012") and luhn_ok(n) for n in numbers)
    for number in numbers:
        view = ok(lookup(number), 200)
        assert (view["status"], view["balance"], view["series_id"]) == ("issued", None, "gift")
    assert ok(get_series("gift"), 200)["issued"] == 50
    text = exports.get_object(Bucket=EXPORTS, Key="exports/demo/gift/B-1.csv")["Body"].read().decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 50 and sorted(r["number"] for r in rows) == numbers
    assert {(r["series_id"], r["batch_id"], r["kind"], r["currency"], r["value"]) for r in rows} == {
        ("gift", "B-1", "gift_card", "EUR", "")
    }

    # The batch id is the idempotency key.
    assert ok(create_batch("gift", "B-1", 50)) == batch
    body = refused(create_batch("gift", "B-1", 51), 409, "idempotency_key_reused")
    assert body["details"] == [{"field": "batch_id", "reason": "idempotency_key_reused"}]
    assert ok(call("api_get_batch", ADMIN, path={"series_id": "gift", "batch_id": "B-1"}), 200) == batch
    assert batch_numbers(table, "B-1") == numbers and ok(get_series("gift"), 200)["issued"] == 50
    refused(
        call("api_get_batch", ADMIN, path={"series_id": "gift", "batch_id": "B-2"}), 404, "batch_not_found"
    )
    refused(create_batch("nothing", "B-1", 1), 404, "series_not_found")

    # A fixed-value series exports its value; a second batch draws other numbers.
    ok(create_batch("split", "B-2", 3))
    text = exports.get_object(Bucket=EXPORTS, Key="exports/demo/split/B-2.csv")["Body"].read().decode()
    assert {r["value"] for r in csv.DictReader(io.StringIO(text))} == {"25.00"}
    again = issue(table, "gift", "B-3", 20)
    assert not set(again) & set(numbers)


def test_coupons_are_issued_active_and_other_kinds_are_not_batched(world, table):
    coupons = issue(table, "promo", "B-PROMO", 5)
    assert all(c.startswith("7003") and len(c) == 12 and luhn_ok(c) for c in coupons)
    view = ok(lookup(coupons[0], caller=STORE), 200)
    assert (view["status"], view["kind"], view["discount"], view["balance"]) == (
        "active",
        "coupon",
        {"percent": "10", "amount": None},
        None,
    )
    loyalty = {**PROMO, "kind": "loyalty_card", "prefix": "7004", "discount": None}
    ok(put_series("cards", loyalty))
    for series_id in ("credit", "cards"):
        body = refused(create_batch(series_id, "B-X", 5), 422, "unsupported_operation")
        assert body["details"] == [{"field": "series_id", "reason": "unsupported_operation"}]
    assert [ok(get_series(s), 200)["issued"] for s in ("credit", "cards")] == [0, 0]


def test_a_series_never_hands_out_more_numbers_than_it_holds(world, table):
    ok(put_series("small", gift_spec(prefix="6100", length=9)))  # 10,000 numbers
    body = refused(create_batch("small", "B-BIG", 10_001), 409, "series_exhausted")
    assert body["details"][0]["room"] == 10_000
    assert ok(get_series("small"), 200)["issued"] == 0


def test_a_series_without_check_digit(world, table):
    ok(put_series("raw", gift_spec(prefix="55", length=10, check_digit=False)))
    numbers = issue(table, "raw", "B-RAW", 20)
    assert all(len(n) == 10 and n.startswith("55") for n in numbers)
    assert not all(luhn_ok(n) for n in numbers)  # no check digit: a tenth of them pass by chance
    assert ok(sell(numbers[0], "SALE-RAW", "20.00"))["instrument"]["balance"] == "20.00"
