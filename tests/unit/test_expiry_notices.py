"""Which lots the daily expiry job notices as expiring soon (pure), and the event a notice makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_engine.points.expiry_notices import may_have_notices, notices_due
from loyalty_engine.points.ledger import Lot
from loyalty_engine.points.lots import summarize
from tests.support.stream_records import MEMBER_PK, events, record

AT = datetime(2027, 2, 10, 23, tzinfo=UTC)


def lot(lot_id: str, days: float | None, points: int = 10, kind: str = "nq") -> Lot:
    expires = None if days is None else AT + timedelta(days=days)
    return Lot(
        lot_id=lot_id, kind=kind, points=points, available_at=AT - timedelta(days=400), expires_at=expires
    )


def test_lots_expiring_within_the_period_with_points_left_are_noticed() -> None:
    lots = [lot("a", 1), lot("b", 30), lot("c", 30.01), lot("d", None), lot("e", 5, points=0), lot("f", -1)]
    assert [n.lot_id for n in notices_due(lots, AT, 30)] == ["a", "b"]
    assert notices_due(lots, AT, 0) == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.one_of(st.none(), st.floats(-10, 100)), st.integers(0, 50)), max_size=8),
    st.integers(0, 60),
)
def test_the_summary_never_hides_a_lot_due_for_a_notice(specs: list, days: int) -> None:
    lots = [lot(f"l{i}", d, p) for i, (d, p) in enumerate(specs)]
    due = notices_due(lots, AT, days)
    if due:
        assert may_have_notices(summarize(lots, None), AT, days)


def test_a_notice_item_is_one_points_expiring_soon_event() -> None:
    notice = {
        "type": "expiry_notice",
        "lot_id": "01LOT",
        "point_kind": "q",
        "points": 100,
        "expires_at": "2027-03-10T12:00:00Z",
        "noticed_at": "2027-02-10T23:00:00Z",
    }
    (event,) = events(record("INSERT", MEMBER_PK, "NOTICE#q#01LOT", notice))
    assert (event.kind, event.points, event.point_kind) == ("points.expiring_soon", 100, "q")
    assert events(record("MODIFY", MEMBER_PK, "NOTICE#q#01LOT", notice, old=notice)) == []
