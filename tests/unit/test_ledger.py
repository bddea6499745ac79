from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest

from loyalty_engine.kernel.errors import InsufficientPoints
from loyalty_engine.points import ledger
from loyalty_engine.points.orders import proportional_reversal

T0 = datetime(2027, 1, 1, tzinfo=UTC)
_ids = count()


def new_id() -> str:
    return f"{next(_ids):026d}"


def _credit(lots, nq, *, days_valid=None, available_after=0, q=0, lot="L"):
    expires = T0 + timedelta(days=days_valid) if days_valid else None
    return ledger.credit(
        lots,
        entry_id=lot,
        at=T0,
        reference=lot,
        order_id=lot,
        nq=nq,
        q=q,
        nq_available_at=T0 + timedelta(days=available_after),
        nq_expires_at=expires,
        q_available_at=T0,
        q_expires_at=expires,
    )


def test_burn_takes_soonest_expiring_first_and_never_expiring_last():
    lots, _ = _credit([], 100, lot="forever")
    lots, _ = _credit(lots, 50, days_valid=30, lot="soon")
    lots, _ = _credit(lots, 70, days_valid=60, lot="later")
    lots, entry = ledger.burn(lots, points=80, now=T0, entry_id="B", reference="b1")
    assert [(m.lot_id, m.points) for m in entry.movements] == [("soon", -50), ("later", -30)]
    assert {lot.lot_id: lot.points for lot in lots} == {"forever": 100, "later": 40}
    assert entry.nq == -80 and entry.nq_balance == 140


def test_pending_points_cannot_be_burned():
    lots, _ = _credit([], 100, available_after=14)
    with pytest.raises(InsufficientPoints) as refused:
        ledger.burn(lots, points=1, now=T0, entry_id="B", reference="b")
    assert refused.value.details[0]["available"] == 0
    assert ledger.pending(lots, "nq", T0) == 100


def test_max_balance_refuses_the_excess():
    lots, _ = _credit([], 900)
    lots, entry = ledger.credit(
        lots,
        entry_id="E2",
        at=T0,
        reference="o2",
        order_id="o2",
        nq=300,
        q=0,
        nq_available_at=T0,
        nq_expires_at=None,
        q_available_at=T0,
        q_expires_at=None,
        nq_max_balance=1000,
    )
    assert (entry.nq, entry.not_credited, entry.nq_balance) == (100, 200, 1000)


def test_expiry_removes_what_is_left_of_a_lot():
    lots, _ = _credit([], 100, days_valid=10, q=5)
    lots, _ = ledger.burn(lots, points=30, now=T0, entry_id="B", reference="b")
    lots, entries = ledger.expire_due(lots, T0 + timedelta(days=10), new_id)
    assert lots == []
    (entry,) = entries
    assert (entry.kind, entry.nq, entry.q, entry.nq_balance) == ("expire", -70, -5, 0)


def test_reverse_prefers_the_orders_own_lot_and_records_the_shortfall():
    lots, _ = _credit([], 100, lot="other", days_valid=5)
    lots, _ = _credit(lots, 50, lot="order")
    lots, entry = ledger.reverse(lots, nq=60, q=0, lot_id="order", now=T0, entry_id="R", reference="r")
    assert [(m.lot_id, m.points) for m in entry.movements] == [("order", -50), ("other", -10)]
    lots, entry = ledger.reverse(lots, nq=500, q=0, lot_id="order", now=T0, entry_id="R2", reference="r2")
    assert entry.unrecovered == 410 and ledger.balance(lots, "nq") == 0


@pytest.mark.parametrize(
    ("parts", "expected"),
    [(["30", "99.90"], [300, 999]), (["0.01", "0.01", "129.88"], [0, 0, 1299])],
)
def test_partial_returns_add_up_to_the_full_reversal(parts, expected):
    done, returned, got = 0, Decimal(0), []
    for part in parts:
        returned += Decimal(part)
        step = proportional_reversal(1299, done, Decimal("129.90"), returned)
        done += step
        got.append(step)
    assert got == expected and done == 1299


def test_compaction_merges_only_available_never_expiring_lots():
    lots, _ = _credit([], 10, lot="a")
    lots, _ = _credit(lots, 20, lot="b")
    lots, _ = _credit(lots, 30, lot="pending", available_after=5)
    lots, _ = _credit(lots, 40, lot="expiring", days_valid=30)
    compacted = ledger.compact(lots, T0)
    assert sorted((lot.lot_id, lot.points) for lot in compacted) == [
        ("a", 30),
        ("expiring", 40),
        ("pending", 30),
    ]
    assert ledger.balance(compacted, "nq") == ledger.balance(lots, "nq")
    assert ledger.compact(compacted, T0) is compacted  # nothing left to merge


def test_reverse_takes_nothing_from_others_once_the_orders_lot_expired():
    lots, _ = _credit([], 100, lot="other")
    lots, entry = ledger.reverse(
        lots, nq=50, q=0, lot_id="gone", now=T0, entry_id="R", reference="r", own_expired=frozenset({"nq"})
    )
    assert entry.nq == 0 and entry.unrecovered == 50 and ledger.balance(lots, "nq") == 100
