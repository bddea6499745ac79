"""The domain events' rules: which stream record makes which event (pure, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_engine.events import models as m
from loyalty_engine.events.bus_store import EventBus, entry
from loyalty_engine.events.use_cases import publish
from tests.support.stream_records import AT, MEMBER_PK, events, ledger_entry, record


def test_an_earn_entry_is_one_points_earned_event_with_balances_after() -> None:
    (event,) = events(record("INSERT", MEMBER_PK, "E#00000000000000000007#000", ledger_entry("earn")))
    assert isinstance(event, m.PointsEarned)
    assert (event.kind, event.group, event.card_code) == ("points.earned", "demo", "2990000000017")
    assert (event.nq, event.q, event.nq_balance, event.q_balance) == (120, 12, 620, 40)
    assert event.occurred_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert event.recorded_at == datetime.fromtimestamp(1772359200, UTC)
    detail = m.PointsEarned.model_validate_json(event.model_dump_json())
    assert detail == event
    assert '"occurred_at":"2026-03-01T10:00:00Z"' in event.model_dump_json()


def test_entry_kinds_map_to_their_event_kinds_and_unknown_kinds_are_adjustments() -> None:
    kinds = {
        k: events(record("INSERT", MEMBER_PK, "E#1#0", ledger_entry(k)))[0].kind
        for k in ("earn", "burn", "payment", "return", "payment_reversal", "expire", "adjustment")
    }
    assert kinds == {
        "earn": "points.earned",
        "burn": "points.burned",
        "payment": "points.burned",
        "return": "points.returned",
        "payment_reversal": "points.returned",
        "expire": "points.expired",
        "adjustment": "points.adjusted",
    }


def test_the_other_items_of_a_transaction_make_no_event() -> None:
    pk = MEMBER_PK
    assert events(record("INSERT", pk, "LOTS#nq#202703", {"type": "lots", "lots": []})) == []
    assert events(record("INSERT", pk, "ORDER#o-1", {"type": "order", "status": 201})) == []
    member = {"type": "member", "card_code": "2990000000017", "program_id": "p", "version": 3}
    assert events(record("MODIFY", pk, "MEMBER", member, old={**member, "version": 2})) == []
    # an append-only item written again (a retried chunk) is not a second change
    assert events(record("MODIFY", pk, "E#1#0", ledger_entry("earn"), old=ledger_entry("earn"))) == []
    assert events(record("REMOVE", pk, "E#1#0", None, old=ledger_entry("earn"))) == []


def test_an_enrolment_is_the_member_item_inserted() -> None:
    member = {
        "type": "member",
        "card_code": "2990000000017",
        "program_id": "silver",
        "subscribed_at": AT,
        "created_at": AT,
        "version": 1,
    }
    (event,) = events(record("INSERT", MEMBER_PK, "MEMBER", member))
    assert isinstance(event, m.MemberEnrolled)
    assert (event.program_id, event.card_code) == ("silver", "2990000000017")


def test_tier_changes_by_cause() -> None:
    base = {"type": "tier_change", "at": AT, "q_points": 300, "member_version": 4, "vip_tiers": []}
    up = {**base, "cause": "upgrade_run", "previous_tier": None, "new_tier": {"rank": 1, "name": "Gold"}}
    (event,) = events(record("INSERT", MEMBER_PK, "TIER#4", up))
    assert isinstance(event, m.TierUpgraded) and event.new_tier == m.TierRef(rank=1, name="Gold")
    grant = {**base, "cause": "vip_grant", "vip_tier": "staff", "vip_tiers": ["staff"], "source": "api"}
    (event,) = events(record("INSERT", MEMBER_PK, "TIER#5", grant))
    assert isinstance(event, m.VipGranted) and event.vip_tier == "staff"


def attribution(**extra: Any) -> dict[str, Any]:
    return {
        "type": "attribution",
        "attribution_id": "a1",
        "reward_id": "r1",
        "card_code": "2990000000017",
        "program_id": "silver",
        "quantity": 3,
        "codes": [],
        "earned_at": AT,
        "valid_from": AT,
        "valid_until": "2027-03-01T10:00:00Z",
        "nqp_spent": 500,
        "source": "api:k1",
        "created_at": AT,
        "burned": 0,
        "burns": [],
        "burn_sources": [],
        **extra,
    }


def burn(source: str, quantity: int, after: int) -> dict[str, Any]:
    return {"source": source, "burned_at": AT, "quantity": quantity, "recorded_at": AT, "burned_after": after}


def test_an_attribution_then_each_new_burn_source_is_one_event() -> None:
    pk = "G#demo#A#a1"
    (attributed,) = events(record("INSERT", pk, "ATTRIBUTION", attribution()))
    assert isinstance(attributed, m.RewardAttributed) and attributed.quantity == 3
    one = attribution(burned=1, burns=[burn("api:b1", 1, 1)], burn_sources=["api:b1"])
    two = attribution(
        burned=3, burns=[burn("api:b1", 1, 1), burn("api:b2", 2, 3)], burn_sources=["api:b1", "api:b2"]
    )
    (first,) = events(record("MODIFY", pk, "ATTRIBUTION", one, old=attribution()))
    (second,) = events(record("MODIFY", pk, "ATTRIBUTION", two, old=one))
    assert isinstance(second, m.RewardBurned)
    assert (second.quantity, second.burned, second.remaining, second.source) == (2, 3, 0, "api:b2")
    assert first.event_id != second.event_id
    assert events(record("MODIFY", pk, "ATTRIBUTION", two, old=two)) == []


def test_an_import_job_reaching_a_final_state_once() -> None:
    pk = "G#demo#IMPORT#i1"
    job = {
        "type": "import_job",
        "import_id": "i1",
        "file_name": "f.csv",
        "key": "incoming/demo/f.csv",
        "version": "v",
        "size": 10,
        "received_at": AT,
        "state": "running",
        "progress": {"lines_total": 3, "lines_read": 3, "applied": 2, "skipped": 1, "unchanged": 0},
    }
    done = {**job, "state": "completed", "finished_at": AT}
    (event,) = events(record("MODIFY", pk, "JOB", done, old=job))
    assert isinstance(event, m.ImportCompleted) and event.counts.skipped == 1
    assert events(record("MODIFY", pk, "JOB", done, old=done)) == []
    rejected = {**job, "state": "rejected", "rejection": {"code": "bad_header", "message": "no"}}
    (event,) = events(record("MODIFY", pk, "JOB", rejected, old=job))
    assert isinstance(event, m.ImportRejected) and (event.state, event.code) == ("rejected", "bad_header")


def test_instrument_movements_in_cents() -> None:
    pk = "G#demo#I#60001234567890"
    movement = {
        "type": "instrument_entry",
        "entry_no": 2,
        "kind": "redemption",
        "amount": "-12.50",
        "balance_after": "37.50",
        "status_after": "active",
        "reference": "red-1",
        "at": AT,
    }
    (event,) = events(record("INSERT", pk, "E#00000002", movement))
    assert isinstance(event, m.InstrumentRedeemed)
    assert (event.amount_cents, event.balance_after_cents, event.number) == (-1250, 3750, "60001234567890")


@st.composite
def any_record(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(["INSERT", "MODIFY", "REMOVE"]))
    kind = draw(st.sampled_from(["earn", "burn", "return", "expire", "payment", "payment_reversal", "x"]))
    sk = f"E#{draw(st.integers(1, 10**6)):020d}#{draw(st.integers(0, 9)):03d}"
    entry_item = ledger_entry(kind, nq=draw(st.integers(-(10**6), 10**6)))
    burns = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True))
    old_burns = draw(st.lists(st.sampled_from(burns), unique=True)) if burns else []
    chosen = draw(st.sampled_from(["entry", "attribution"]))
    if chosen == "entry":
        return record(name, MEMBER_PK, sk, None if name == "REMOVE" else entry_item, seq=sk)
    new = attribution(burns=[burn(s, 1, i + 1) for i, s in enumerate(burns)], quantity=4)
    old = attribution(burns=[burn(s, 1, i + 1) for i, s in enumerate(old_burns)], quantity=4)
    return record(name, "G#demo#A#a1", "ATTRIBUTION", None if name == "REMOVE" else new, old=old)


@settings(max_examples=200, deadline=None)
@given(any_record())
def test_the_same_record_always_makes_the_same_events_with_distinct_ids(rec: dict[str, Any]) -> None:
    first, again = events(rec), events(rec)
    assert first == again  # the redelivery of a record: the same ids
    ids = [event.event_id for event in first]
    assert len(ids) == len(set(ids))
    for event in first:
        assert m.MODELS_BY_KIND[event.kind].model_validate_json(event.model_dump_json()) == event


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(["earn", "burn", "return", "expire", "payment", "adjust"]), min_size=1, max_size=8
    )
)
def test_one_change_per_entry_one_event_per_entry(kinds: list[str]) -> None:
    """A member's successive changes (each: member, lots, entry, record): one event each."""
    made: list[m.DomainEvent] = []
    member = {"type": "member", "card_code": "2990000000017", "program_id": "p"}
    for version, kind in enumerate(kinds, start=2):
        made += events(record("MODIFY", MEMBER_PK, "MEMBER", {**member, "version": version}, old=member))
        made += events(
            record("INSERT", MEMBER_PK, f"LOTS#nq#2027{version:02d}", {"type": "lots", "lots": []})
        )
        made += events(record("INSERT", MEMBER_PK, f"E#{version:020d}#000", ledger_entry(kind)))
        made += events(record("INSERT", MEMBER_PK, f"BURN#b{version}", {"type": "burn"}))
    assert len(made) == len(kinds)
    assert len({event.event_id for event in made}) == len(kinds)


class FlakyClient:
    """PutEvents that refuses the entries named, `refusals` times each."""

    def __init__(self, refusals: dict[str, int]):
        self.refusals = dict(refusals)
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        results = []
        for item in Entries:
            key = item["Detail"]
            left = next((n for k, n in self.refusals.items() if k in key), 0)
            if left:
                for k in self.refusals:
                    if k in key:
                        self.refusals[k] -= 1
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "x"})
            else:
                results.append({"EventId": "e"})
        return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}


def earn_records(count: int) -> list[dict[str, Any]]:
    return [
        record(
            "INSERT",
            MEMBER_PK,
            f"E#{n:020d}#000",
            ledger_entry("earn", entry_id=f"entry-{n:03d}"),
            seq=str(n),
        )
        for n in range(count)
    ]


def test_publish_puts_ten_entries_per_request_and_retries_refused_entries() -> None:
    flaky = FlakyClient({"entry-003": 2})
    outcome = publish(earn_records(23), EventBus(flaky, "loyalty-engine-test"))
    assert outcome.failed == {}
    assert len(outcome.events) == 23
    assert [len(call) for call in flaky.calls] == [10, 1, 1, 10, 3]
    assert all(
        e["EventBusName"] == "loyalty-engine-test" and e["Source"] == "loyalty-engine" for e in flaky.calls[0]
    )


def test_a_persistently_refused_entry_fails_its_record_only() -> None:
    flaky = FlakyClient({"entry-004": 100})
    outcome = publish(earn_records(6), EventBus(flaky, "bus"))
    assert list(outcome.failed) == ["4"]
    assert len(outcome.events) == 5


def test_an_entry_carries_the_kind_as_detail_type() -> None:
    (event,) = events(record("INSERT", MEMBER_PK, "E#1#0", ledger_entry("burn")))
    put = entry(event, "bus")
    assert put["DetailType"] == "points.burned" and '"kind":"points.burned"' in put["Detail"]
