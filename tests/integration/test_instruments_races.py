"""Races on the instrument API's write paths, through the real handlers on moto: a second
request run between a first one's read and its write (a store read wrapped to run it there)
neither double-spends, double-issues nor loses an update, and never answers a 5xx (a 409 that a
retry resolves is fine)."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty_engine.customers.store import CustomerStore
from loyalty_engine.instruments.instrument_store import InstrumentStore
from loyalty_engine.instruments.merchant_store import MerchantStore
from loyalty_engine.instruments.series_store import SeriesStore
from tests.support.api import Reply, call
from tests.support.instrument_api import (
    ADMIN,
    balance_and_ledger,
    batch_numbers,
    create_batch,
    issue,
    ok,
    redeem,
    refused,
    reverse,
    sell,
    sold_gift_card,
    store_credit,
)
from tests.support.instrument_retries import (
    OTHER_LIKE,
    SPLIT_LIKE,
    between,
    customer,
    customers_world,
    link,
    stored_items,
)

pytestmark = pytest.mark.usefixtures("table")


@pytest.fixture
def world() -> None:
    customers_world()


# --- races: a second request run between the first's read and its write -------------------------
def test_two_payments_racing_spend_the_balance_once(world, table, monkeypatch):
    number = sold_gift_card(table, "B-RACE-PAY")
    raced = between(InstrumentStore, "load", lambda: redeem(number, "P-B", "70.00"), monkeypatch)
    first = redeem(number, "P-A", "70.00")
    assert raced[0].status == 201, raced[0].body
    assert refused(first, 409, "insufficient_balance")["details"][0]["balance"] == "30.00"
    view, entries = balance_and_ledger(number)
    assert view["balance"] == "30.00" and [e["reference"] for e in entries] == ["P-B", "SALE-B-RACE-PAY"]


def test_the_same_payment_racing_itself_is_made_once(world, table, monkeypatch):
    number = sold_gift_card(table, "B-RACE-SAME")
    raced = between(InstrumentStore, "load", lambda: redeem(number, "P-A", "70.00"), monkeypatch)
    first = ok(redeem(number, "P-A", "70.00"))
    assert raced[0].status == 201 and raced[0].body == first
    view, entries = balance_and_ledger(number)
    assert view["balance"] == "30.00" and len(entries) == 2


def test_two_sales_of_one_card_racing_sell_it_once(world, table, monkeypatch):
    (number,) = issue(table, "gift", "B-RACE-SALE", 1)
    raced = between(InstrumentStore, "load", lambda: sell(number, "S-B", "50.00"), monkeypatch)
    refused(sell(number, "S-A", "60.00"), 409, "already_active")
    assert raced[0].status == 201
    view, entries = balance_and_ledger(number)
    assert view["balance"] == "50.00" and [e["reference"] for e in entries] == ["S-B"]


def test_two_reversals_of_one_payment_racing_refund_it_once(world, table, monkeypatch):
    number = sold_gift_card(table, "B-RACE-REV")
    ok(redeem(number, "P-1", "40.00"))
    raced = between(InstrumentStore, "load", lambda: reverse(number, "P-1", "R-B"), monkeypatch)
    second = reverse(number, "P-1", "R-A")
    assert raced[0].status == 201, raced[0].body
    assert second.status == 409, second.body
    view, entries = balance_and_ledger(number)
    assert view["balance"] == "100.00" and [e["kind"] for e in entries][:2] == ["reversal", "redemption"]
    assert len(entries) == 3


def test_a_cancellation_racing_a_payment_freezes_the_balance(world, table, monkeypatch):
    number = sold_gift_card(table, "B-RACE-CANCEL")
    body = {"cancellation_id": "C-1", "reason": "stolen"}
    cancel = lambda: call("api_cancel_instrument", ADMIN, path={"number": number}, body=body)  # noqa: E731
    raced = between(InstrumentStore, "load", cancel, monkeypatch)
    refused(redeem(number, "P-1", "40.00"), 409, "cancelled")
    assert raced[0].status == 201
    view, entries = balance_and_ledger(number)
    assert (view["balance"], view["status"], len(entries)) == ("100.00", "cancelled", 2)


def test_store_credit_for_one_return_racing_itself_is_issued_once(world, table, monkeypatch):
    raced = between(SeriesStore, "reserve", lambda: store_credit("RET-1", "20.00"), monkeypatch)
    first = ok(store_credit("RET-1", "20.00"))
    assert raced[0].status == 201 and raced[0].body == first
    credits = [i for i in stored_items(table) if '"type": {"S": "instrument"}' in i and "7002" in i]
    assert len(credits) == 1, credits
    other = between(SeriesStore, "reserve", lambda: store_credit("RET-2", "20.00"), monkeypatch)
    refused(store_credit("RET-2", "25.00"), 409, "idempotency_key_reused")
    assert other[0].status == 201


def test_links_racing_leave_one_customer_holding_the_card(world, table, monkeypatch):
    number = sold_gift_card(table, "B-RACE-LINK")
    raced = between(InstrumentStore, "load", lambda: link(number, "bob"), monkeypatch)
    assert ok(link(number, "ada"), 200)["customer_id"] == "ada"
    assert raced[0].status == 200
    assert (customer("ada")["links"]["instruments"], customer("bob")["links"]["instruments"]) == (
        [number],
        [],
    )
    # a sale naming a customer racing a link to another one
    (unsold,) = issue(table, "gift", "B-RACE-LINK-2", 1)
    raced = between(InstrumentStore, "load", lambda: link(unsold, "bob"), monkeypatch)
    assert ok(sell(unsold, "S-1", "10.00", customer_id="ada"))["instrument"]["customer_id"] == "ada"
    assert sorted(customer("ada")["links"]["instruments"]) == sorted([number, unsold])
    assert customer("bob")["links"]["instruments"] == []


def test_two_customer_updates_racing_lose_neither(world, table, monkeypatch):
    for group_id in ("vip", "staff"):
        ok(
            call(
                "api_put_customer_group", ADMIN, path={"customer_group_id": group_id}, body={"name": group_id}
            )
        )
    put = lambda body: call("api_put_customer", ADMIN, path={"customer_id": "ada"}, body=body)  # noqa: E731
    raced = between(
        CustomerStore, "customer", lambda: put({"first_name": "A", "customer_groups": ["vip"]}), monkeypatch
    )
    last = ok(put({"first_name": "B", "customer_groups": ["staff"]}), 200)
    assert raced[0].status == 200
    assert (last["first_name"], last["customer_groups"]) == ("B", ["staff"])
    assert [c["customer_id"] for c in group_members("staff")] == ["ada"]
    assert group_members("vip") == []


def group_members(customer_group_id: str) -> list[dict[str, str]]:
    path = {"customer_group_id": customer_group_id}
    return ok(call("api_list_customer_group_customers", ADMIN, path=path), 200)["customers"]  # type: ignore[no-any-return]


def test_two_merchants_racing_for_one_store_id_get_it_once(world, table, monkeypatch):
    body = lambda m: {"name": m, "store_id": "S-SHARED", "merchant_groups": ["stores"]}  # noqa: E731
    put = lambda m: call("api_put_merchant", ADMIN, path={"merchant_id": m}, body=body(m))  # noqa: E731
    raced = between(MerchantStore, "merchant", lambda: put("m-b"), monkeypatch)
    refused(put("m-a"), 409, "store_id_taken")
    assert raced[0].status == 201
    claims = [i for i in stored_items(table) if "S-SHARED" in i and "store_claim" in i]
    assert len(claims) == 1 and "m-b" in claims[0]


def test_the_same_batch_racing_itself_issues_its_cards_once(world, table, monkeypatch):
    raced = between(SeriesStore, "batch", lambda: create_batch("gift", "B-TWIN", 5), monkeypatch)
    first = ok(create_batch("gift", "B-TWIN", 5))
    assert raced[0].status == 201 and raced[0].body == first
    assert first["issued"] == 5 and len(batch_numbers(table, "B-TWIN")) == 5
    assert ok(call("api_get_series", ADMIN, path={"series_id": "gift"}), 200)["issued"] == 5


def test_admin_puts_racing_themselves_answer_or_ask_for_a_retry(world, table, monkeypatch):
    """The same PUT run between another's read and its write: the same answer, or a 409 that a
    retry turns into it; never a 5xx, and one item written."""
    cases: list[tuple[Any, str, str, dict[str, str], dict[str, Any]]] = [
        (
            MerchantStore,
            "merchant_group",
            "api_put_merchant_group",
            {"merchant_group_id": "more"},
            {"name": "M"},
        ),
        (CustomerStore, "customer", "api_put_customer", {"customer_id": "cy"}, {"first_name": "Cy"}),
        (
            CustomerStore,
            "customer_group",
            "api_put_customer_group",
            {"customer_group_id": "vip"},
            {"name": "V"},
        ),
    ]
    for store, read, event, path, body in cases:

        def send(event: str = event, path: dict[str, str] = path, body: dict[str, Any] = body) -> Reply:
            return call(event, ADMIN, path=path, body=body)

        raced = between(store, read, send, monkeypatch)
        first = send()
        assert raced[0].status == 201, (event, raced[0].body)
        assert first.status in (200, 201) or (first.status, first.body["code"]) == (
            409,
            "concurrent_update",
        ), (event, first.body)
        again = send()
        assert again.status == 200, (event, again.body)


def test_a_merchant_put_racing_itself_answers_as_a_replay(world, table, monkeypatch):
    """The same merchant PUT run between another one's read and its write: the late one reads
    the merchant again and answers 200 as a replay (not 409); a different change racing it is
    made on top of it, its store id claimed and the old claim released."""
    body = {"name": "M7", "store_id": "S-7", "merchant_groups": ["stores"]}
    send = lambda b=body: call("api_put_merchant", ADMIN, path={"merchant_id": "m-7"}, body=b)  # noqa: E731
    raced = between(MerchantStore, "merchant", send, monkeypatch)
    late = send()
    assert raced[0].status == 201, raced[0].body
    assert (late.status, late.body) == (200, raced[0].body)
    monkeypatch.undo()
    raced = between(MerchantStore, "merchant", lambda: send({**body, "store_id": "S-8"}), monkeypatch)
    moved = ok(send({**body, "store_id": "S-9"}), 200)
    assert raced[0].status == 200 and (moved["store_id"], moved["version"]) == ("S-9", 3)
    claims = sorted(i for i in stored_items(table) if '"store_claim"' in i and '"m-7"' in i)
    assert len(claims) == 1 and "STORE#S-9" in claims[0], claims


def test_a_series_created_twice_at_once_answers_the_replay_not_an_overlap_with_itself(
    world, table, monkeypatch
):
    """The same series PUT run between another one's reads and its write: the late one finds
    the series it was about to create (200, as a replay), not a prefix overlap with itself."""
    send = lambda: call("api_put_series", ADMIN, path={"series_id": "extra"}, body=SPLIT_LIKE)  # noqa: E731
    raced = between(SeriesStore, "series", send, monkeypatch)
    late = send()
    assert raced[0].status == 201, raced[0].body
    assert (late.status, late.body) == (200, raced[0].body)
    # both read before either wrote: the loser's transaction finds the id taken, reads it again
    monkeypatch.undo()
    raced = between(SeriesStore, "all_series", lambda: send_other(), monkeypatch)
    assert (
        ok(call("api_put_series", ADMIN, path={"series_id": "more"}, body=OTHER_LIKE), 200) == raced[0].body
    )
    assert len([i for i in stored_items(table) if '"type": {"S": "series"}' in i and "7008" in i]) == 1


def send_other() -> Reply:
    reply = call("api_put_series", ADMIN, path={"series_id": "more"}, body=OTHER_LIKE)
    assert reply.status == 201, reply.body
    return reply


def test_a_series_changed_while_a_batch_draws_keeps_its_counter(world, table, monkeypatch):
    change = lambda: put_series_name("gift", "Renamed")  # noqa: E731
    raced = between(SeriesStore, "reserve", change, monkeypatch)
    ok(create_batch("gift", "B-COUNT", 4))
    assert raced[0].status == 200, raced[0].body
    series = ok(call("api_get_series", ADMIN, path={"series_id": "gift"}), 200)
    assert (series["name"], series["issued"]) == ("Renamed", 4)
    later = ok(create_batch("gift", "B-COUNT-2", 2))
    assert later["issued"] == 2 and not set(batch_numbers(table, "B-COUNT")) & set(
        batch_numbers(table, "B-COUNT-2")
    )


def put_series_name(series_id: str, name: str) -> Reply:
    spec = ok(call("api_get_series", ADMIN, path={"series_id": series_id}), 200)
    body = {
        k: v
        for k, v in spec.items()
        if k not in ("series_id", "issued", "version", "created_at", "updated_at")
    }
    return call("api_put_series", ADMIN, path={"series_id": series_id}, body={**body, "name": name})
