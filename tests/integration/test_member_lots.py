"""Where a member's lots live: beside the member item, by kind and month of expiry, so that the
member item stays small and earns and burns keep their two round trips however many lots the
member holds; expired Q lots kept as history for tier runs decided late."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.ids import new_id
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY
from loyalty_engine.points.ledger import Lot
from loyalty_engine.points.lots import summarize
from loyalty_engine.points.member_store import MemberWrite
from loyalty_engine.tiers.jobs import JobRequest
from loyalty_engine.tiers.run_use_cases import run_now
from tests.integration.conftest import CARD, SHOP, order_body
from tests.support.api import call
from tests.support.jobs import services


def _dynamodb_calls() -> list[str]:
    calls: list[str] = []
    client().meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    return calls


def _give_lots(count: int, now: datetime) -> None:
    """`count` live NQ and as many Q lots, a few points each, expiring over the next three years
    (written straight through the store: enrolling them order by order would take minutes)."""
    store = default_context().members
    member, _ = store.load("demo", CARD, [])
    assert member is not None
    lots = []
    for n in range(count):
        expires = now + timedelta(days=30 + n * 1000 // count)
        lot_id = new_id()
        for kind in ("nq", "q"):
            lots.append(
                Lot(
                    lot_id=lot_id,
                    kind=kind,
                    points=3,
                    available_at=now - timedelta(days=1),
                    expires_at=expires,
                )
            )
    new = member.model_copy(
        update={"lots": lots, "version": member.version + 1, "points": summarize(lots, None)}
    )
    store.commit("demo", MemberWrite(member=new, lots_before=member.lots), expected_version=member.version)


def _item(sk: str) -> dict:
    response = client().get_item(
        TableName=os.environ["TABLE_NAME"],
        Key={PARTITION_KEY: {"S": keys.member_pk("demo", CARD)}, SORT_KEY: {"S": sk}},
        ConsistentRead=True,
    )
    return response.get("Item", {})


def test_a_member_with_5000_live_lots_still_earns_and_burns_in_two_round_trips(member, clock):
    _give_lots(5000, clock())
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == 15_000
    calls = _dynamodb_calls()
    earned = call("api_earn_order", SHOP, body=order_body(order_id="BIG-1"))
    assert earned.status == 201, earned.body
    assert calls == ["Query", "TransactWriteItems"]
    calls.clear()
    burned = call("api_burn_points", SHOP, body={"burn_id": "BIG-B1", "points": 4_000})
    assert burned.status == 201, burned.body
    assert calls == ["Query", "TransactWriteItems"]
    # soonest-expiring first: 4,000 points are the 1,334 lots that expire first
    assert burned.body["balances"]["nq"]["available"] == 15_000 + 1299 - 4_000
    member_item = _item(keys.MEMBER_SK)
    assert "lots" not in member_item and len(str(member_item)) < 2_000


def test_a_replay_is_answered_from_its_record_even_when_the_decision_would_now_refuse(member, clock):
    call("api_earn_order", SHOP)  # 1,299 points
    first = call("api_burn_points", SHOP, body={"burn_id": "B-1", "points": 1_000})
    assert first.status == 201
    assert call("api_burn_points", SHOP, body={"burn_id": "B-2", "points": 299}).status == 201
    calls = _dynamodb_calls()
    again = call("api_burn_points", SHOP, body={"burn_id": "B-1", "points": 1_000})
    assert (again.status, again.body) == (first.status, first.body)
    assert calls == ["Query", "BatchGetItem"]  # refused by the balance, then answered from the record
    conflict = call("api_burn_points", SHOP, body={"burn_id": "B-1", "points": 999})
    assert conflict.status == 409 and conflict.body["code"] == "idempotency_key_reused"
    entries = call("api_get_ledger", SHOP).body["entries"]
    assert [e["kind"] for e in entries] == ["burn", "burn", "earn"]


def test_an_earn_rewrites_the_member_and_the_buckets_its_lots_land_in_only(member, clock):
    _give_lots(50, clock())
    before_nq = _item(keys.lot_bucket_sk("nq", "202701"))
    calls: list[dict] = []
    client().meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems", lambda params, **_: calls.append(params)
    )
    assert call("api_earn_order", SHOP, body=order_body(order_id="ONE-MORE")).status == 201
    (params,) = calls
    written = sorted(
        next(iter(action.values()))["Item"][SORT_KEY]["S"]
        if "Put" in action
        else next(iter(action.values()))["Key"][SORT_KEY]["S"]
        for action in params["TransactItems"]
    )
    # the member, the order's record, its ledger entry, and the two buckets of the month its
    # points expire in (ordered 2026-11-20, valid one year): nothing else, however many lots
    assert keys.MEMBER_SK in written
    assert keys.lot_bucket_sk("nq", "202711") in written and keys.lot_bucket_sk("q", "202711") in written
    assert len(written) == 5, written
    assert _item(keys.lot_bucket_sk("nq", "202701")) == before_nq


def test_expired_q_lots_stay_as_history_for_a_tier_run_decided_late(member, clock):
    # 600 Q points ordered 2026-11-20, valid one year: Silver from 500 (events/api_put_program.json)
    body = order_body(order_id="Q-1", amount="600.00", ordered_at="2026-11-20T15:04:05+01:00", lines=[])
    assert call("api_earn_order", SHOP, body=body).status == 201
    clock.now = datetime(2027, 11, 25, 12, tzinfo=UTC)
    expiry = run_now(
        services(),
        JobRequest(
            group="demo",
            program_id="club",
            job="expire-points",
            scheduled_at=datetime(2027, 11, 24, 23, tzinfo=UTC),
        ),
    )
    assert expiry.changed == 1
    assert call("api_get_member", SHOP).body["balances"]["q"]["valid"] == 0
    assert _item(keys.lot_bucket_sk("q", "202711")) == {}
    assert _item(keys.q_history_sk("202711"))  # the expired Q lot, kept
    # The upgrade run of 2027-11-01 never ran (downtime): replayed now, it decides as it would
    # have on time, when the 600 Q points were valid.
    upgrade = run_now(
        services(),
        JobRequest(
            group="demo",
            program_id="club",
            job="tier-upgrade",
            scheduled_at=datetime(2027, 11, 1, 2, tzinfo=UTC),
        ),
    )
    assert upgrade.changed == 1
    assert call("api_get_member", SHOP).body["tier"]["name"] == "Silver"
    # and a run as of today sees none of them
    assert (
        run_now(
            services(),
            JobRequest(
                group="demo",
                program_id="club",
                job="tier-upgrade",
                scheduled_at=datetime(2027, 11, 25, 2, tzinfo=UTC),
            ),
        ).changed
        == 0
    )
