"""Where a member's lots live: beside the member item, new lots in a small open chunk, the others
in chunks by month of expiry, so that no item grows without bound, an earn rewrites under 1 KB
of lots, and earns and burns keep their two round trips however many lots the member holds;
expired Q lots kept as history for tier runs decided late."""

from __future__ import annotations

import os
import zlib
from datetime import UTC, datetime, timedelta

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.dynamo import client, deserialize
from loyalty_engine.kernel.ids import new_id
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY
from loyalty_engine.points.ledger import Lot
from loyalty_engine.points.lots import MONTH_CHUNK_BYTES, OPEN, OPEN_CHUNK_BYTES, summarize, unpack
from loyalty_engine.points.member_store import MemberWrite
from loyalty_engine.tiers.jobs import JobRequest
from loyalty_engine.tiers.run_use_cases import run_now
from tests.integration.conftest import CARD, SHOP, order_body
from tests.support.api import call
from tests.support.jobs import services
from tests.support.lots import lot_items


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
    write = MemberWrite(member=new, lots_before=member.lots, lot_slots=member.lot_slots)
    store.commit("demo", write, expected_version=member.version)


def _item(sk: str) -> dict:
    response = client().get_item(
        TableName=os.environ["TABLE_NAME"],
        Key={PARTITION_KEY: {"S": keys.member_pk("demo", CARD)}, SORT_KEY: {"S": sk}},
        ConsistentRead=True,
    )
    return response.get("Item", {})


def _lot_items() -> dict[str, dict]:
    """The member's chunk items by sort key."""
    return lot_items(CARD)


def _written_sks(params: dict) -> list[str]:
    return sorted(
        next(iter(action.values()))["Item"][SORT_KEY]["S"]
        if "Put" in action
        else next(iter(action.values()))["Key"][SORT_KEY]["S"]
        for action in params["TransactItems"]
    )


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


def test_an_earn_rewrites_the_member_and_the_open_chunk_only(member, clock):
    _give_lots(300, clock())  # written at once: too many for the open chunk, so into their months
    before = _lot_items()
    assert keys.lot_chunk_sk(OPEN) not in before
    calls: list[dict] = []
    client().meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems", lambda params, **_: calls.append(params)
    )
    assert call("api_earn_order", SHOP, body=order_body(order_id="ONE-MORE")).status == 201
    (params,) = calls
    # the member, the order's record, its ledger entry, and the open chunk: nothing else,
    # however many lots
    assert _written_sks(params) == sorted(
        [keys.MEMBER_SK, keys.order_sk("ONE-MORE"), keys.lot_chunk_sk(OPEN), *_entry_sks(params)]
    )
    after = _lot_items()
    assert {sk: item for sk, item in after.items() if sk != keys.lot_chunk_sk(OPEN)} == before


def _entry_sks(params: dict) -> list[str]:
    return [sk for sk in _written_sks(params) if sk.startswith(keys.ENTRY_PREFIX)]


def test_many_orders_expiring_in_one_month_never_make_a_large_item(member, clock):
    """300 orders of one day: their lots expire in the same month. Every earn rewrites the open
    chunk (under 1 KB packed); about every 40th moves it into the month's chunks, which stay
    under 16 KB of text each (packed, a fifth of it); the balance is the sum of every lot; a
    burn of most of them is one write."""
    calls: list[dict] = []
    client().meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems", lambda params, **_: calls.append(params)
    )
    earned = 0
    for n in range(300):
        body = order_body(order_id=f"DAY-{n:03d}", amount="10.00", lines=[])
        reply = call("api_earn_order", SHOP, body=body)
        assert reply.status == 201, reply.body
        earned += reply.body["earned"]["nq"]
    lot_writes = [[sk for sk in _written_sks(params) if sk.startswith(keys.LOTS_PREFIX)] for params in calls]
    assert all(keys.lot_chunk_sk(OPEN) in sks for sks in lot_writes)
    moves = [sks for sks in lot_writes if len(sks) > 1]
    assert 300 // 60 <= len(moves) <= 300 // 20, len(moves)
    open_writes = [  # every write of the open chunk (the earn that moves it leaves it empty: none)
        deserialize(action["Put"]["Item"]["lots"])
        for params in calls
        for action in params["TransactItems"]
        if "Put" in action and action["Put"]["Item"][SORT_KEY]["S"] == keys.lot_chunk_sk(OPEN)
    ]
    assert len(open_writes) == 300 - len(moves) and all(len(lots) <= OPEN_CHUNK_BYTES for lots in open_writes)
    items = _lot_items()
    packed = {sk: deserialize(raw["lots"]) for sk, raw in items.items()}
    texts = {sk: len(zlib.decompress(value)) for sk, value in packed.items()}
    assert all(size <= MONTH_CHUNK_BYTES for size in texts.values()), texts
    assert all(len(packed[sk]) * 3 < texts[sk] for sk in packed if sk != keys.lot_chunk_sk(OPEN))
    # at least two chunks of the month, and the open chunk unless the last earn just moved it
    assert len([sk for sk in items if sk != keys.lot_chunk_sk(OPEN)]) >= 2, sorted(items)
    balances = call("api_get_member", SHOP).body["balances"]
    assert balances["nq"]["available"] + balances["nq"]["pending"] == earned
    calls.clear()
    calls_made = _dynamodb_calls()
    burned = call(
        "api_burn_points", SHOP, body={"burn_id": "DAY-B", "points": balances["nq"]["available"] - 5}
    )
    assert burned.status == 201, burned.body
    assert calls_made == ["Query", "TransactWriteItems"]
    assert burned.body["balances"]["nq"]["available"] == 5


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
    assert not any(
        lot.kind == "q" for raw in _lot_items().values() for lot in unpack(deserialize(raw["lots"]))
    )
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


def _as_legacy_buckets(lots: list[Lot]) -> None:
    """Replace the member's chunks by the items the previous layout (c187073) wrote for these
    lots: one per kind and month of expiry, `LOTS#<kind>#<YYYYMM|never>`, with `kind` and
    `bucket` attributes and lots of five fields (no kind)."""
    from loyalty_engine.kernel.dynamo import to_item
    from loyalty_engine.kernel.records import item
    from loyalty_engine.points.lots import by_bucket, encode

    pk = keys.member_pk("demo", CARD)
    for sk in _lot_items():
        client().delete_item(
            TableName=os.environ["TABLE_NAME"], Key={PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}}
        )
    for (kind, bucket), mine in by_bucket(lots).items():
        data = {"kind": kind, "bucket": bucket, "lots": "[" + ",".join(encode(lot) for lot in mine) + "]"}
        client().put_item(
            TableName=os.environ["TABLE_NAME"],
            Item=to_item(item(pk, f"{keys.LOTS_PREFIX}{kind}#{bucket}", "lots", data)),
        )


def test_lots_stored_by_the_previous_layout_keep_their_kind(member, clock):
    """A member whose lots were written before the chunks (one bucket item per kind and month)
    is read with its Q lots as Q lots, and its next write keeps them Q."""
    assert call("api_earn_order", SHOP, body=order_body(order_id="OLD-1")).status == 201
    before = call("api_get_member", SHOP).body["balances"]
    assert before["q"]["valid"] > 0
    stored, _ = default_context().members.load("demo", CARD, [])
    assert stored is not None
    _as_legacy_buckets(stored.lots)
    assert call("api_get_member", SHOP).body["balances"] == before
    assert call("api_earn_order", SHOP, body=order_body(order_id="OLD-2")).status == 201
    after, _ = default_context().members.load("demo", CARD, [])
    assert after is not None
    assert sum(lot.points for lot in after.lots if lot.kind == "q") == 2 * before["q"]["valid"]
    assert sum(lot.points for lot in after.lots if lot.kind == "nq") == 2 * (
        before["nq"]["available"] + before["nq"]["pending"]
    )


def test_a_member_with_many_lot_buckets_of_the_previous_layout_can_still_be_written(member, clock):
    """Three years of monthly orders left 72 bucket items (36 months, 2 kinds) under the previous
    layout: the first write after the change must not move them all at once (a transaction
    holds at most 100 actions)."""
    now = clock()
    lots = [
        Lot(
            lot_id=f"M{month:02d}",
            kind=kind,
            points=10,
            available_at=now - timedelta(days=1),
            expires_at=now + timedelta(days=31 * month + 5),
        )
        for month in range(36)
        for kind in ("nq", "q")
    ]
    store = default_context().members
    current, _ = store.load("demo", CARD, [])
    assert current is not None
    store.commit(
        "demo",
        MemberWrite(
            member=current.model_copy(
                update={"lots": lots, "version": current.version + 1, "points": summarize(lots, None)}
            )
        ),
        expected_version=current.version,
    )
    _as_legacy_buckets(lots)
    assert len(_lot_items()) == 72
    reply = call("api_burn_points", SHOP, body={"burn_id": "AFTER-UPGRADE", "points": 10})
    assert reply.status == 201, reply.body
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == 350
