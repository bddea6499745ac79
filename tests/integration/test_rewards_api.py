"""The reward catalog and buying rewards through the real API handler on moto (burns and a
member's rewards: test_reward_burns_api.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integration.conftest import ADMIN, CARD, SHOP
from tests.support.api import call
from tests.support.fast_clients import shared_botocore_loader
from tests.support.rewards import (
    GENERATED,
    burn,
    buy,
    coffee,
    nq_available,
    put_reward,
    without_idempotency_key,
)


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


# --- catalog ---------------------------------------------------------------------------


def test_put_creates_then_replaces(program, clock):
    created = put_reward()
    assert created.status == 201, created.body
    assert (created.body["external_id"], created.body["nqp_value"]) == ("coffee", 100)
    assert (created.body["attributed"], created.body["remaining"], created.body["updated_by"]) == (
        0,
        500,
        "api",
    )
    clock.advance(hours=1)
    replaced = put_reward(name="Large coffee", nqp_value=150)
    assert replaced.status == 200, replaced.body
    assert (replaced.body["name"], replaced.body["nqp_value"]) == ("Large coffee", 150)
    assert replaced.body["created_at"] == created.body["created_at"]
    assert replaced.body["updated_at"] != created.body["updated_at"]
    got = call("api_get_reward", SHOP, path={"external_id": "coffee"})
    assert got.status == 200
    assert got.body == replaced.body


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"is_limited": False, "max_attribution_count": 0}, "no_stock", "max_attribution_count"),
        ({"is_limited": True, "max_attribution_count": 0}, "limited_without_stock", "max_attribution_count"),
        ({"is_limited": False, "max_attribution_count": None}, "stock_undefined", "max_attribution_count"),
        (
            {"is_auto_generated": True, "is_limited": False, "max_attribution_count": 5},
            "stock_with_auto_generation",
            "max_attribution_count",
        ),
        ({"monetary_type": None}, "monetary_incomplete", "monetary_type"),
        ({"monetary_value": None}, "monetary_incomplete", "monetary_value"),
        ({"monetary_type": "percentage", "monetary_value": "150"}, "invalid_value", "monetary_value"),
        (
            {"forced_validity": True, "forced_validity_start": "2027-01-01T00:00:00Z"},
            "forced_validity_incomplete",
            "forced_validity_end",
        ),
        (
            {
                "forced_validity": True,
                "forced_validity_start": "2027-02-01T00:00:00Z",
                "forced_validity_end": "2027-01-01T00:00:00Z",
            },
            "invalid_validity_window",
            "forced_validity_end",
        ),
    ],
)
def test_put_refuses_broken_rules_with_their_reason(program, overrides, code, field):
    reply = put_reward(**overrides)
    assert reply.status == 422, reply.body
    assert reply.body["code"] == code
    assert reply.body["details"] == [{"field": field, "reason": code}]
    missing = call("api_get_reward", SHOP, path={"external_id": "coffee"})
    assert (missing.status, missing.body["code"]) == (404, "reward_not_found")


@pytest.mark.parametrize(
    "body",
    [
        coffee(colour="red"),  # unknown field
        coffee(nqp_value=-1),
        coffee(validity_interval_type="fortnight"),
        coffee(custom={"c32": "x"}),
        {k: v for k, v in coffee().items() if k != "name"},
    ],
)
def test_put_refuses_invalid_bodies(program, body):
    reply = call("api_put_reward", ADMIN, path={"external_id": "coffee"}, body=body)
    assert reply.status == 422, reply.body
    assert reply.body["code"] == "validation_error"


def test_put_needs_the_admin_scope(program):
    reply = call("api_put_reward", SHOP, path={"external_id": "coffee"}, body=coffee())
    assert reply.status == 403


def test_list_pages_with_a_cursor(program):
    ids = ["a-1", "b-2", "c-3", "d-4", "e-5"]
    for external_id in ids:
        assert put_reward(external_id).status == 201
    seen: list[str] = []
    query = {"limit": "2"}
    pages = 0
    while True:
        page = call("api_list_rewards", SHOP, query=query)
        assert page.status == 200, page.body
        pages += 1
        assert len(page.body["rewards"]) <= 2
        seen += [r["external_id"] for r in page.body["rewards"]]
        assert all(r["remaining"] == 500 for r in page.body["rewards"])
        if not page.body["next_cursor"]:
            break
        query = {"limit": "2", "cursor": page.body["next_cursor"]}
    assert seen == ids
    assert pages in (3, 4)  # the last page may come back empty
    bad = call("api_list_rewards", SHOP, query={"cursor": "bm90LWEtcmV3YXJk"})
    assert (bad.status, bad.body["code"]) == (422, "invalid_cursor")


def test_unknown_reward_is_404(program):
    reply = call("api_get_reward", SHOP, path={"external_id": "nothing"})
    assert (reply.status, reply.body["code"]) == (404, "reward_not_found")


# --- buying ----------------------------------------------------------------------------


def test_buy_spends_points_once_per_idempotency_key(funded, clock):
    assert put_reward().status == 201
    first = buy()
    assert first.status == 201, first.body
    attribution = first.body
    assert (attribution["reward_id"], attribution["card_code"], attribution["quantity"]) == (
        "coffee",
        CARD,
        1,
    )
    assert attribution["nqp_spent"] == 100
    assert len(attribution["codes"]) == 1 and GENERATED.match(attribution["codes"][0])
    assert (attribution["earned_at"], attribution["valid_from"]) == (
        "2026-12-10T12:00:00Z",
        "2026-12-10T12:00:00Z",
    )
    assert attribution["valid_until"] == "2027-01-09T12:00:00Z"  # 30 days
    assert nq_available() == 1199

    again = buy()
    assert (again.status, again.body) == (201, attribution)
    assert nq_available() == 1199
    assert call("api_get_reward", SHOP, path={"external_id": "coffee"}).body["attributed"] == 1

    reused = buy(quantity=2)
    assert (reused.status, reused.body["code"]) == (409, "idempotency_key_reused")
    assert nq_available() == 1199

    ledger = call("api_get_ledger", SHOP).body["entries"]
    burns = [e for e in ledger if e["kind"] == "burn"]
    assert [(e["nq"], e["reference"]) for e in burns] == [(-100, f"reward:{attribution['attribution_id']}")]

    owned = call("api_list_member_rewards", SHOP).body["attributions"]
    assert owned == [{**attribution, "status": "available"}]  # a read adds its state now


@pytest.mark.parametrize("char", ["\t", "\n", "\r"])
def test_a_store_id_is_one_line_on_a_buy_and_a_burn(funded, char):
    """Ids refuse tab, LF and CR (api.md, Hostile input); they were kept as sent."""
    assert put_reward().status == 201
    refused = buy("buy-ctl", store_id=f"store{char}12")
    assert (refused.status, refused.body["code"]) == (422, "invalid_character"), refused.body
    assert nq_available() == 1299
    bought = buy("buy-ok")
    assert bought.status == 201, bought.body
    refused = burn(bought.body["attribution_id"], store_id=f"store{char}12")
    assert (refused.status, refused.body["code"]) == (422, "invalid_character"), refused.body


def test_buy_needs_an_idempotency_key(funded):
    assert put_reward().status == 201
    reply = without_idempotency_key("api_buy_reward", {"card_code": CARD}, {"reward_id": "coffee"})
    assert reply.status == 422, reply.body
    assert reply.body["code"] == "idempotency_key_required"
    blank = buy(key="")
    assert blank.status == 422
    assert blank.body["code"] in {"idempotency_key_required", "validation_error"}
    assert nq_available() == 1299


def test_buy_without_enough_points_changes_nothing(funded):
    assert put_reward().status == 201
    reply = buy(quantity=13)  # 1300 points
    assert (reply.status, reply.body["code"]) == (409, "insufficient_points")
    assert nq_available() == 1299
    assert call("api_get_reward", SHOP, path={"external_id": "coffee"}).body["attributed"] == 0
    assert call("api_list_member_rewards", SHOP).body["attributions"] == []
    assert buy(quantity=12).status == 201
    assert nq_available() == 99


def test_buy_beyond_the_stock_is_refused(funded):
    assert put_reward(max_attribution_count=2, nqp_value=10).status == 201
    assert buy("k-1").status == 201
    too_many = buy("k-2", quantity=2)
    assert (too_many.status, too_many.body["code"]) == (409, "out_of_stock")
    last = buy("k-3")
    assert last.status == 201 and GENERATED.match(last.body["codes"][0])
    gone = buy("k-4")
    assert (gone.status, gone.body["code"]) == (409, "out_of_stock")
    view = call("api_get_reward", SHOP, path={"external_id": "coffee"}).body
    assert (view["attributed"], view["remaining"]) == (2, 0)
    assert nq_available() == 1299 - 20


def test_buy_of_more_units_than_an_attribution_holds_is_refused(funded):
    """An attribution holds at most 100 units (its burns are kept on its item, which DynamoDB caps
    at 400 KB), as an earnreward line does: a buy of 1,000 units was accepted, and its burns
    later failed with a 5xx once the item passed 400 KB."""
    assert put_reward(nqp_value=0).status == 201
    too_many = buy("k-many", quantity=101)
    assert too_many.status == 422, too_many.body
    assert too_many.body["details"][0]["field"] == "quantity"
    assert call("api_get_reward", SHOP, path={"external_id": "coffee"}).body["attributed"] == 0
    assert buy("k-most", quantity=100).status == 201


def test_buy_of_an_auto_generated_reward_generates_codes(funded):
    assert (
        put_reward(is_auto_generated=True, is_limited=False, max_attribution_count=None, nqp_value=0).status
        == 201
    )
    reply = buy(quantity=3)
    assert reply.status == 201, reply.body
    codes = reply.body["codes"]
    assert len(codes) == len(set(codes)) == 3
    assert all(GENERATED.match(code) for code in codes)
    assert call("api_get_reward", SHOP, path={"external_id": "coffee"}).body["remaining"] is None
    assert nq_available() == 1299  # free


def test_an_unlimited_reward_made_limited_caps_the_total_bought(funded):
    """Units bought while a reward was unlimited count: 4 bought, then limited to 3 (PUT),
    and the next buy is out of stock."""
    unlimited = {"is_auto_generated": True, "is_limited": False, "max_attribution_count": None}
    assert put_reward(nqp_value=10, **unlimited).status == 201
    for n in range(4):
        assert buy(f"u-{n}").status == 201
    view = call("api_get_reward", SHOP, path={"external_id": "coffee"}).body
    assert (view["attributed"], view["remaining"]) == (4, None)
    limited = put_reward(nqp_value=10, **(unlimited | {"is_limited": True, "max_attribution_count": 3}))
    assert limited.status == 200, limited.body
    assert (limited.body["attributed"], limited.body["remaining"]) == (4, 0)
    refused = buy("u-4")
    assert (refused.status, refused.body["code"]) == (409, "out_of_stock")
    view = call("api_get_reward", SHOP, path={"external_id": "coffee"}).body
    assert (view["attributed"], view["remaining"]) == (4, 0)
    assert len(call("api_list_member_rewards", SHOP).body["attributions"]) == 4
    assert nq_available() == 1299 - 40
    assert buy("u-0").status == 201  # a replay answers as the first time, nothing counted again
    assert call("api_get_reward", SHOP, path={"external_id": "coffee"}).body["attributed"] == 4


def test_buy_for_unknown_reward_or_member(funded):
    assert put_reward().status == 201
    nothing = buy(reward_id="nothing")
    assert (nothing.status, nothing.body["code"]) == (404, "reward_not_found")
    stranger = buy(card="2990000000999")
    assert (stranger.status, stranger.body["code"]) == (404, "member_not_found")


def test_a_reward_whose_forced_validity_has_ended_cannot_be_bought(funded, clock):
    window = {
        "forced_validity_start": "2026-11-01T00:00:00+01:00",
        "forced_validity_end": "2026-12-10T13:00:00+01:00",
    }
    assert put_reward(forced_validity=True, **window).status == 201  # ends at 12:00 UTC: the clock's now
    ended = buy()
    assert (ended.status, ended.body["code"]) == (409, "reward_expired"), ended.body
    assert ended.body["details"] == [
        {"field": "reward_id", "reason": "reward_expired", "forced_validity_end": "2026-12-10T12:00:00+00:00"}
    ]
    assert nq_available() == 1299  # nothing spent
    assert call("api_get_reward", SHOP, path={"external_id": "coffee"}).body["attributed"] == 0
    assert call("api_list_member_rewards", SHOP).body["attributions"] == []
    assert call("api_get_ledger", SHOP).body["entries"][0]["kind"] == "earn"
    clock.now = clock.now.replace(second=0, minute=59, hour=11)  # one minute before the end: it can
    bought = buy("buy-2")
    assert bought.status == 201, bought.body
    assert (bought.body["valid_from"], bought.body["valid_until"]) == (
        "2026-10-31T23:00:00Z",
        "2026-12-10T12:00:00Z",
    )
    clock.advance(minutes=1)
    assert (buy("buy-2").status, buy("buy-2").body) == (201, bought.body), (
        "a replay after the end is answered"
    )


def test_a_reward_whose_forced_validity_has_not_started_can_be_bought_and_used_from_its_start(funded, clock):
    window = {"forced_validity_start": "2026-12-24", "forced_validity_end": "2027-01-02"}
    assert (
        put_reward(forced_validity=True, **{k: f"{v}T00:00:00+01:00" for k, v in window.items()}).status
        == 201
    )
    early = buy()
    assert early.status == 201, early.body
    assert (early.body["valid_from"], early.body["valid_until"]) == (
        "2026-12-23T23:00:00Z",
        "2027-01-01T23:00:00Z",
    )
    assert nq_available() == 1199
    too_soon = burn(early.body["attribution_id"])
    assert (too_soon.status, too_soon.body["code"]) == (422, "burn_outside_validity")
    clock.now = clock.now.replace(day=24)
    assert burn(early.body["attribution_id"], key="use-2").status == 201


def test_a_rewards_validity_counts_in_the_programs_wall_time(funded, clock):
    """Seed 002's dates are GMT+1. A reward valid 1 month, bought on 1 March 00:30 GMT+1, is valid
    until 1 April 00:30 GMT+1; it was counted in UTC (28 February 23:30 + 1 month: 29 March)."""
    assert (
        put_reward(validity_interval_count=1, validity_interval_type="months", holding_days=0).status == 201
    )
    clock.now = datetime(2027, 2, 28, 23, 30, tzinfo=UTC)  # 1 March 2027 00:30 GMT+1
    bought = buy()
    assert bought.status == 201, bought.body
    assert (bought.body["valid_from"], bought.body["valid_until"]) == (
        "2027-02-28T23:30:00Z",
        "2027-03-31T23:30:00Z",  # 1 April 00:30 GMT+1
    )
