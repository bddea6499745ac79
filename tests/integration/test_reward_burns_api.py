"""Members' rewards through the real API handler on moto: burns (idempotent, dated, only one's own)
and the list of a member's rewards, seen by its own group only."""

from __future__ import annotations

import pytest

from tests.integration.conftest import CARD, OTHER_GROUP, SHOP
from tests.support.api import call
from tests.support.fast_clients import shared_botocore_loader
from tests.support.rewards import OTHER_CARD, burn, buy, coffee, put_reward, without_idempotency_key


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


# --- burning an attribution ------------------------------------------------------------


@pytest.fixture
def bought(funded) -> dict:
    assert put_reward(nqp_value=10).status == 201
    reply = buy(quantity=3)
    assert reply.status == 201, reply.body
    return reply.body


def test_burn_is_idempotent_and_counts_units(bought, clock):
    attribution_id = bought["attribution_id"]
    first = burn(attribution_id)
    assert first.status == 201, first.body
    assert (first.body["burned"], first.body["remaining"]) == (1, 2)
    assert first.body["burn"]["store_id"] == "store-12"
    again = burn(attribution_id)
    assert (again.status, again.body) == (201, first.body)
    reused = burn(attribution_id, quantity=2)
    assert (reused.status, reused.body["code"]) == (409, "idempotency_key_reused")

    too_many = burn(attribution_id, key="use-2", quantity=3)
    assert (too_many.status, too_many.body["code"]) == (409, "insufficient_quantity")
    rest = burn(attribution_id, key="use-3", quantity=2)
    assert rest.status == 201, rest.body
    assert (rest.body["burned"], rest.body["remaining"]) == (3, 0)
    done = burn(attribution_id, key="use-4")
    assert (done.status, done.body["code"]) == (409, "already_burned")
    # a replay of an earlier burn still answers as it did then
    assert burn(attribution_id).body == first.body

    (stored,) = call("api_list_member_rewards", SHOP).body["attributions"]
    assert (stored["burned"], [b["quantity"] for b in stored["burns"]]) == (3, [1, 2])


def test_burn_dates(bought, clock):
    attribution_id = bought["attribution_id"]
    future = burn(attribution_id, burned_at="2026-12-10T12:00:01Z")
    assert (future.status, future.body["code"]) == (422, "burn_date_in_future")
    before = burn(attribution_id, burned_at="2026-12-10T11:59:59Z")
    assert (before.status, before.body["code"]) == (422, "burn_outside_validity")
    ok = burn(attribution_id, burned_at="2026-12-10T12:00:00Z")
    assert ok.status == 201, ok.body
    clock.advance(days=31)
    late = burn(attribution_id, key="use-late")
    assert (late.status, late.body["code"]) == (422, "burn_outside_validity")


def test_burn_of_another_cards_attribution_is_404(bought):
    reply = call("api_enrol_member", SHOP, body={"card_code": OTHER_CARD})
    assert reply.status == 201, reply.body
    stolen = burn(bought["attribution_id"], card=OTHER_CARD)
    assert (stolen.status, stolen.body["code"]) == (404, "attribution_not_found")
    unknown = burn("01JD0000000000000000000098")
    assert (unknown.status, unknown.body["code"]) == (404, "attribution_not_found")
    (stored,) = call("api_list_member_rewards", SHOP).body["attributions"]
    assert stored["burned"] == 0


def test_burn_needs_an_idempotency_key(bought):
    reply = without_idempotency_key(
        "api_burn_reward", {"card_code": CARD, "attribution_id": bought["attribution_id"]}, {"quantity": 1}
    )
    assert (reply.status, reply.body["code"]) == (422, "idempotency_key_required")


def test_member_rewards_pages_newest_first(funded, clock):
    assert put_reward(nqp_value=1).status == 201
    bought = []
    for n in range(5):
        clock.advance(minutes=1)
        reply = buy(f"k-{n}")
        assert reply.status == 201
        bought.append(reply.body["attribution_id"])
    seen: list[str] = []
    query = {"limit": "2"}
    while True:
        page = call("api_list_member_rewards", SHOP, query=query)
        assert page.status == 200, page.body
        seen += [a["attribution_id"] for a in page.body["attributions"]]
        if not page.body["next_cursor"]:
            break
        query = {"limit": "2", "cursor": page.body["next_cursor"]}
    assert seen == bought[::-1]
    stranger = call("api_list_member_rewards", SHOP, path={"card_code": "2990000000999"})
    assert (stranger.status, stranger.body["code"]) == (404, "member_not_found")


# --- tenants ---------------------------------------------------------------------------


def test_another_group_sees_nothing_of_demos_rewards(bought):
    attribution_id = bought["attribution_id"]
    assert call("api_get_reward", OTHER_GROUP, path={"external_id": "coffee"}).status == 404
    assert call("api_list_rewards", OTHER_GROUP, query={}).body == {"rewards": [], "next_cursor": None}
    bought_elsewhere = buy("other-1", caller=OTHER_GROUP)
    assert (bought_elsewhere.status, bought_elsewhere.body["code"]) == (404, "member_not_found")
    listed = call("api_list_member_rewards", OTHER_GROUP)
    assert (listed.status, listed.body["code"]) == (404, "member_not_found")
    burned = burn(attribution_id, key="other-2", caller=OTHER_GROUP)
    assert (burned.status, burned.body["code"]) == (404, "attribution_not_found")
    # demo-b's catalog is its own: the same external id does not touch demo's reward
    mine = call("api_put_reward", OTHER_GROUP, path={"external_id": "coffee"}, body=coffee(name="Intruder"))
    assert mine.status == 201
    assert call("api_get_reward", SHOP, path={"external_id": "coffee"}).body["name"] == "Coffee voucher"
    (stored,) = call("api_list_member_rewards", SHOP).body["attributions"]
    assert stored["burned"] == 0
