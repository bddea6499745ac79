"""Customer service adjustments: through the ledger, idempotent, never below zero, audited."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP, SHOP, order_body
from tests.support.api import call, lambda_container, load_event
from tests.support.concurrency import all_at_once, invoke

GOODWILL = {"kind": "nq", "points": 250, "reason_code": "goodwill", "comment": "late delivery of order 1001"}


def adjust(body: dict[str, Any] | None = None, key: str = "adj-1", caller=ADMIN, **kwargs):
    return call(
        "api_adjust_points", caller, body=body or GOODWILL, headers={"Idempotency-Key": key}, **kwargs
    )


def ledger() -> list[dict]:
    reply = call("api_get_ledger", SHOP)
    assert reply.status == 200
    return reply.body["entries"]


@pytest.fixture
def earned(member) -> dict:
    reply = call("api_earn_order", SHOP)  # 1299 NQ available, 129 Q
    assert reply.status == 201, reply.body
    return reply.body


def test_a_credit_is_a_ledger_entry_of_its_own(earned):
    reply = adjust()
    assert reply.status == 201, reply.body
    body = reply.body
    assert body == {
        "adjustment_id": body["adjustment_id"],
        "card_code": CARD,
        "kind": "nq",
        "points": 250,
        "reason_code": "goodwill",
        "comment": "late delivery of order 1001",
        "not_credited": 0,
        "balance": {"nq": 1549, "q": 129},
    }
    newest = ledger()[0]
    assert newest["entry_id"] == body["adjustment_id"]
    assert (newest["kind"], newest["nq"], newest["q"], newest["reason_code"]) == (
        "adjustment",
        250,
        0,
        "goodwill",
    )
    assert newest["reference"] == "adj-1" and newest["nq_balance"] == 1549
    member = call("api_get_member", SHOP).body
    assert member["balances"]["nq"]["available"] == 1549  # available at once


def test_the_same_key_again_answers_the_same_and_changes_nothing(earned):
    first = adjust()
    again = adjust()
    assert (again.status, again.body) == (first.status, first.body)
    assert [e["kind"] for e in ledger()].count("adjustment") == 1
    other = adjust({**GOODWILL, "points": 300})
    assert (other.status, other.body["code"]) == (409, "idempotency_key_reused")
    missing = call("api_adjust_points", ADMIN, headers={"Idempotency-Key": ""})
    assert missing.status == 422


def test_a_debit_never_takes_the_balance_below_zero(earned):
    before = ledger()
    refused = adjust({**GOODWILL, "points": -1300, "reason_code": "fraud"}, key="adj-fraud")
    assert (refused.status, refused.body["code"]) == (409, "insufficient_points")
    assert ledger() == before
    taken = adjust({**GOODWILL, "points": -1299, "reason_code": "fraud"}, key="adj-fraud-2")
    assert taken.status == 201 and taken.body["balance"] == {"nq": 0, "q": 129}


def test_a_debit_takes_pending_points_when_the_available_ones_are_short(member, clock):
    body = order_body(order_id="WEB-2", ordered_at="2026-12-09T10:00:00+01:00")
    assert call("api_earn_order", SHOP, body=body).status == 201  # 1299 pending
    reply = adjust({**GOODWILL, "points": -1000, "reason_code": "correction"})
    assert reply.status == 201, reply.body
    nq = call("api_get_member", SHOP).body["balances"]["nq"]
    assert (nq["available"], nq["pending"]) == (0, 299)


def test_q_adjustments_move_the_q_points_that_place_tiers(earned):
    reply = adjust({"kind": "q", "points": 1000, "reason_code": "migration"}, key="adj-q")
    assert reply.status == 201 and reply.body["balance"] == {"nq": 1299, "q": 1129}
    assert call("api_get_member", SHOP).body["balances"]["q"]["valid"] == 1129
    reply = adjust({"kind": "q", "points": -1129, "reason_code": "correction"}, key="adj-q2")
    assert reply.status == 201 and reply.body["balance"]["q"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {**GOODWILL, "points": 0},
        {**GOODWILL, "points": 1.5},
        {**GOODWILL, "points": "10"},
        {**GOODWILL, "reason_code": "because"},
        {**GOODWILL, "kind": "vip"},
        {**GOODWILL, "comment": "x" * 501},
        {**GOODWILL, "extra": 1},
    ],
)
def test_invalid_adjustments_are_refused(earned, body):
    reply = adjust(body)
    assert reply.status == 422, reply.body
    assert [e["kind"] for e in ledger()] == ["earn"]


@pytest.mark.parametrize("comment", [None, "", " \t "])
def test_the_reason_other_needs_a_comment_that_says_why(earned, comment):
    """api.md: `other` (say why in the comment): without one, nothing tells the next agent why."""
    body = {"kind": "nq", "points": 10, "reason_code": "other"}
    if comment is not None:
        body["comment"] = comment
    reply = adjust(body)
    assert reply.status == 422, reply.body
    assert reply.body["details"][0]["field"] == "comment"
    assert reply.body["details"][0]["reason"] == "comment_required"
    assert [e["kind"] for e in ledger()] == ["earn"]
    assert adjust({**body, "comment": "points of a store event"}).status == 201
    assert (
        adjust({**GOODWILL, "comment": ""}, key="adj-2").status == 201
    )  # the other codes say why themselves


def test_only_admin_keys_adjust_and_only_their_group(earned):
    assert adjust(caller=SHOP).status == 403
    reply = adjust(caller=OTHER_GROUP)
    assert (reply.status, reply.body["code"]) == (404, "member_not_found")
    assert [e["kind"] for e in ledger()] == ["earn"]


def test_an_admin_key_reads_an_adjustments_comment_in_the_ledger_a_shop_key_does_not(earned):
    """The comment is customer service's free text: the ledger shows it to an admin key (as the
    timeline does), never to a shop key."""
    assert adjust().status == 201
    admin = call("api_get_ledger", ADMIN)
    assert admin.status == 200, admin.body
    entries = admin.body["entries"]
    assert [(e["kind"], e.get("comment")) for e in entries] == [
        ("adjustment", "late delivery of order 1001"),
        ("earn", None),
    ]
    assert "late delivery" not in json.dumps(call("api_get_ledger", SHOP).body)


def test_adjustments_are_audited_without_the_comment(earned):
    assert adjust().status == 201
    refused = adjust({**GOODWILL, "points": -99_999}, key="adj-too-much")
    assert refused.status == 409
    reply = call("api_list_audit", ADMIN, query={"object": f"members/{CARD}"})
    records = [r for r in reply.body["items"] if r["route"].endswith("/adjustments")]
    assert sorted((r["status"], r["summary"]) for r in records) == [
        (201, "kind=nq points=250 reason_code=goodwill; fields: comment"),
        (409, "kind=nq points=-99999 reason_code=goodwill; fields: comment; refused: insufficient_points"),
    ]
    assert "late delivery" not in json.dumps(reply.body)


def test_concurrent_retries_of_one_adjustment_make_one_entry(moto_server):
    from loyalty_engine.handlers.api_context import default_context
    from tests.support.clock import FakeClock

    default_context().clock = FakeClock()
    setup = lambda_container()
    assert invoke(setup, "api_put_program", ADMIN).status == 201
    assert invoke(setup, "api_enrol_member", SHOP).status == 201
    handlers = [lambda_container() for _ in range(8)]

    def one(handler):
        def run():
            return invoke(handler, "api_adjust_points", ADMIN)

        return run

    replies = all_at_once([one(h) for h in handlers])
    assert {r.status for r in replies} == {201}, [r.body for r in replies]
    assert len({json.dumps(r.body, sort_keys=True) for r in replies}) == 1
    entries = invoke(setup, "api_get_ledger", SHOP).body["entries"]
    assert [e["kind"] for e in entries] == ["adjustment"]
    assert load_event("api_adjust_points")["headers"]["Idempotency-Key"] == entries[0]["reference"]


def test_a_q_adjustment_moves_the_tier_at_the_next_upgrade_run(member, clock):
    from datetime import UTC, datetime

    from loyalty_engine.tiers.jobs import JobRequest
    from loyalty_engine.tiers.run_use_cases import run_now
    from tests.support.jobs import services

    before = call("api_get_member", SHOP).body["tier"]
    reply = adjust({"kind": "q", "points": 2000, "reason_code": "migration"}, key="adj-gold")
    assert reply.status == 201
    assert call("api_get_member", SHOP).body["tier"] == before, "no tier change outside a run"
    at = datetime(2026, 12, 11, 2, tzinfo=UTC)  # the daily upgrade run, 03:00 GMT+1
    clock.now = at
    run = run_now(
        services(), JobRequest(group="demo", program_id="club", job="tier-upgrade", scheduled_at=at)
    )
    assert (run.state, run.changed) == ("completed", 1)
    assert call("api_get_member", SHOP).body["tier"]["name"] == "Gold"
    kinds = [i["kind"] for i in call("api_get_timeline", ADMIN).body["items"]]
    assert kinds[:2] == ["upgrade_run", "adjustment"]
