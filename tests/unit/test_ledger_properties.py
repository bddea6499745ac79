"""Property tests of the pure ledger functions (no AWS).

Random sequences of credits, burns, reversals, expiries and clock moves are applied to a
member's lots; after every step the lots, the entries and the balances must agree.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty_engine.kernel.errors import InsufficientPoints
from loyalty_engine.points import ledger
from loyalty_engine.points.ledger import LedgerEntry, Lot
from loyalty_engine.points.orders import proportional_reversal

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FAR = datetime.max.replace(tzinfo=UTC)
KINDS = ("nq", "q")

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# --- operations -------------------------------------------------------------------------------

credits = st.tuples(
    st.just("credit"),
    st.integers(0, 2_000),  # nq
    st.integers(0, 500),  # q
    st.integers(0, 96),  # ordered this many hours before now
    st.integers(0, 400),  # holding period (hours)
    st.one_of(st.none(), st.integers(1, 3_000)),  # validity (hours), None = never expires
    st.one_of(st.just(0), st.integers(1, 6_000)),  # maximum NQ balance (0 = unlimited)
)
burns = st.tuples(st.just("burn"), st.integers(1, 3_000))
reversals = st.tuples(st.just("reverse"), st.integers(0, 50), st.integers(0, 2_500), st.integers(0, 600))
advances = st.tuples(st.just("advance"), st.integers(0, 2_000))
expiries = st.tuples(st.just("expire"))
operations = st.lists(st.one_of(credits, credits, burns, burns, reversals, advances, expiries), max_size=40)


class Ids:
    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"E{next(self._counter):05d}"


# --- references and checks --------------------------------------------------------------------
# The rules restated, independently of the code under test: a lot is expired from its
# expires_at on, available from its available_at on (until it expires), pending before.


def expired(lot: Lot, now: datetime) -> bool:
    return lot.expires_at is not None and now >= lot.expires_at


def spendable(lot: Lot, now: datetime) -> bool:
    return lot.available_at <= now and not expired(lot, now)


def total(lots: list[Lot], kind: str) -> int:
    return sum(lot.points for lot in lots if lot.kind == kind)


def available_points(lots: list[Lot], kind: str, now: datetime) -> int:
    return sum(lot.points for lot in lots if lot.kind == kind and spendable(lot, now))


def pending_points(lots: list[Lot], kind: str, now: datetime) -> int:
    return sum(
        lot.points for lot in lots if lot.kind == kind and lot.available_at > now and not expired(lot, now)
    )


def live_points(lots: list[Lot], kind: str, now: datetime) -> int:
    return sum(lot.points for lot in lots if lot.kind == kind and not expired(lot, now))


def points_by_lot(lots: list[Lot]) -> Counter:
    return Counter({(lot.kind, lot.lot_id): lot.points for lot in lots})


def reference_burn(lots: list[Lot], points: int, now: datetime) -> Counter:
    """Take one point at a time from the available NQ lot that expires first (never-expiring last)."""
    left = points_by_lot([lot for lot in lots if lot.kind == "nq" and spendable(lot, now)])
    expiry = {("nq", lot.lot_id): lot.expires_at or FAR for lot in lots if lot.kind == "nq"}
    taken: Counter = Counter()
    for _ in range(points):
        candidates = [key for key, have in left.items() if have > 0]
        assert candidates, "the reference was asked for more than is available"
        key = min(candidates, key=lambda k: expiry[k])
        left[key] -= 1
        taken[key] += 1
    return taken


def taken_by_expiry(taken: Counter, lots: list[Lot]) -> Counter:
    """Points taken per expiry date: within one expiry date any split between lots is as good."""
    expiry = {(lot.kind, lot.lot_id): lot.expires_at or FAR for lot in lots}
    grouped: Counter = Counter()
    for key, points in taken.items():
        grouped[expiry[key]] += points
    return +grouped


def check_entry_explains_change(before: list[Lot], after: list[Lot], entry: LedgerEntry) -> None:
    """The entry's movements are exactly the change of the lots, and its totals add them up."""
    change = Counter(points_by_lot(after))
    change.subtract(points_by_lot(before))
    moved = Counter()
    for movement in entry.movements:
        moved[(movement.kind, movement.lot_id)] += movement.points
    assert {k: v for k, v in change.items() if v} == {k: v for k, v in moved.items() if v}
    assert entry.nq == sum(m.points for m in entry.movements if m.kind == "nq")
    assert entry.q == sum(m.points for m in entry.movements if m.kind == "q")


def check_invariants(lots: list[Lot], entries: list[LedgerEntry], now: datetime) -> None:
    for lot in lots:
        assert lot.points >= 0, lot
    assert len({(lot.kind, lot.lot_id) for lot in lots}) == len(lots), "a lot appears twice"
    running = {"nq": 0, "q": 0}
    for entry in entries:
        running["nq"] += entry.nq
        running["q"] += entry.q
        assert entry.nq_balance == running["nq"], entry
        assert entry.q_balance == running["q"], entry
        assert entry.nq_balance >= 0 and entry.q_balance >= 0, entry
        assert entry.not_credited >= 0 and entry.unrecovered >= 0, entry
    for kind in KINDS:
        assert ledger.balance(lots, kind) == total(lots, kind) == running[kind]
        assert ledger.available(lots, kind, now) == available_points(lots, kind, now)
        assert ledger.pending(lots, kind, now) == pending_points(lots, kind, now)
        assert ledger.live(lots, kind, now) == live_points(lots, kind, now)


# --- the sequence property ---------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(operations)
def test_any_sequence_keeps_lots_entries_and_balances_consistent(ops):
    new_id = Ids()
    now = T0
    lots: list[Lot] = []
    entries: list[LedgerEntry] = []
    credited: list[str] = []  # lot ids of past credits, for reversals

    for op in ops:
        before = list(lots)
        if op[0] == "credit":
            _, nq, q, back, hold, validity, max_balance = op
            base = now - timedelta(hours=back)
            entry_id = new_id()
            expires_at = base + timedelta(hours=validity) if validity is not None else None
            lots, entry = ledger.credit(
                lots,
                entry_id=entry_id,
                at=now,
                reference=f"O-{entry_id}",
                order_id=f"O-{entry_id}",
                nq=nq,
                q=q,
                nq_available_at=base + timedelta(hours=hold),
                nq_expires_at=expires_at,
                q_available_at=base,
                q_expires_at=expires_at,
                nq_max_balance=max_balance,
            )
            room = max(0, max_balance - total(before, "nq")) if max_balance else nq
            assert entry.nq == min(nq, room)
            assert entry.nq + entry.not_credited == nq
            assert entry.q == q
            assert entry.kind == "earn"
            if max_balance and nq:
                assert total(lots, "nq") <= max(max_balance, total(before, "nq"))
            credited.append(entry_id)
            entries.append(entry)
        elif op[0] == "burn":
            points = op[1]
            have = available_points(lots, "nq", now)
            if points > have:
                with pytest.raises(InsufficientPoints) as refused:
                    ledger.burn(lots, points=points, now=now, entry_id=new_id(), reference="B")
                assert refused.value.details[0]["available"] == have
                assert lots == before  # nothing changed, the input was not mutated
                continue
            expected = reference_burn(lots, points, now)
            lots, entry = ledger.burn(lots, points=points, now=now, entry_id=new_id(), reference="B")
            taken = Counter({(m.kind, m.lot_id): -m.points for m in entry.movements})
            assert all(kind == "nq" for kind, _ in taken), "a burn touched Q points"
            assert all(spendable(lot, now) for lot in before if (lot.kind, lot.lot_id) in taken), (
                "a burn took points from a pending or expired lot"
            )
            assert taken_by_expiry(taken, before) == taken_by_expiry(expected, before)
            assert entry.nq == -points and entry.q == 0
            assert available_points(lots, "nq", now) == have - points
            entries.append(entry)
        elif op[0] == "reverse":
            _, which, nq, q = op
            lot_id = credited[which % len(credited)] if credited else "NONE"
            live = {kind: live_points(lots, kind, now) for kind in KINDS}
            lots, entry = ledger.reverse(
                lots, nq=nq, q=q, lot_id=lot_id, now=now, entry_id=new_id(), reference="R"
            )
            assert -entry.nq == min(nq, live["nq"]) and -entry.q == min(q, live["q"])
            assert entry.unrecovered == (nq - min(nq, live["nq"])) + (q - min(q, live["q"]))
            untouchable = {(lot.kind, lot.lot_id) for lot in before if expired(lot, now)}
            assert not untouchable & {(m.kind, m.lot_id) for m in entry.movements}, "took from an expired lot"
            own = {lot.kind: lot.points for lot in before if lot.lot_id == lot_id and not expired(lot, now)}
            for kind, wanted in (("nq", nq), ("q", q)):
                from_own = -sum(m.points for m in entry.movements if m.kind == kind and m.lot_id == lot_id)
                assert from_own == min(wanted, own.get(kind, 0)), "the order's own lot is not taken first"
            entries.append(entry)
        elif op[0] == "advance":
            now += timedelta(hours=op[1])
            continue
        else:  # expire
            lots, expire_entries = ledger.expire_due(lots, now, new_id)
            due = [lot for lot in before if expired(lot, now) and lot.points > 0]
            assert len(expire_entries) == (1 if due else 0)
            assert not any(expired(lot, now) for lot in lots)
            assert points_by_lot(lots) == points_by_lot([lot for lot in before if not expired(lot, now)])
            for entry in expire_entries:
                assert entry.kind == "expire" and entry.reference is None
                assert entry.nq == -total(due, "nq") and entry.q == -total(due, "q")
                assert entry.at <= now
            entries.extend(expire_entries)
            if not expire_entries:
                continue
            entry = expire_entries[0]
        check_entry_explains_change(before, lots, entry)
        check_invariants(lots, entries, now)
    check_invariants(lots, entries, now)


# --- burns in detail ----------------------------------------------------------------------------

lot_specs = st.lists(
    st.tuples(
        st.integers(1, 500),  # points
        st.integers(-200, 200),  # available_at (hours from now)
        st.one_of(st.none(), st.integers(-100, 400)),  # expires_at (hours from now)
        st.sampled_from(KINDS),
    ),
    max_size=12,
)


def make_lots(specs) -> list[Lot]:
    return [
        Lot(
            lot_id=f"L{n:03d}",
            kind=kind,
            points=points,
            available_at=T0 + timedelta(hours=available),
            expires_at=None if expires is None else T0 + timedelta(hours=expires),
        )
        for n, (points, available, expires, kind) in enumerate(specs)
    ]


@PROPERTY_SETTINGS
@given(lot_specs, st.integers(1, 6_000))
def test_burn_takes_soonest_expiring_available_lots_or_nothing(specs, points):
    lots = make_lots(specs)
    snapshot = [lot.model_copy() for lot in lots]
    have = available_points(lots, "nq", T0)
    if points > have:
        with pytest.raises(InsufficientPoints) as refused:
            ledger.burn(lots, points=points, now=T0, entry_id="B1", reference="B1")
        assert refused.value.code == "insufficient_points"
        assert refused.value.details == [{"field": "points", "requested": points, "available": have}]
        assert lots == snapshot
        return
    after, entry = ledger.burn(lots, points=points, now=T0, entry_id="B1", reference="B1")
    assert lots == snapshot, "burn mutated its input"
    taken = Counter({(m.kind, m.lot_id): -m.points for m in entry.movements})
    assert taken_by_expiry(taken, lots) == taken_by_expiry(reference_burn(lots, points, T0), lots)
    assert sum(taken.values()) == points
    # No untouched available lot expires before a lot the burn used.
    used = [lot for lot in lots if (lot.kind, lot.lot_id) in taken]
    spared = [lot for lot in after if lot.kind == "nq" and spendable(lot, T0)]
    if used and spared:
        assert max(lot.expires_at or FAR for lot in used) <= min(lot.expires_at or FAR for lot in spared)
    check_entry_explains_change(lots, after, entry)
    assert total(after, "q") == total(lots, "q")
    assert pending_points(after, "nq", T0) == pending_points(lots, "nq", T0)


@PROPERTY_SETTINGS
@given(lot_specs)
def test_burning_everything_available_leaves_only_pending_expired_and_q(specs):
    lots = make_lots(specs)
    have = available_points(lots, "nq", T0)
    if have == 0:
        return
    after, _ = ledger.burn(lots, points=have, now=T0, entry_id="B1", reference="B1")
    assert available_points(after, "nq", T0) == 0
    assert all(lot.points > 0 for lot in after)
    assert all(not (lot.kind == "nq" and spendable(lot, T0)) for lot in after)


# --- proportional reversal ----------------------------------------------------------------------


@st.composite
def split_orders(draw):
    """An order amount (in units of 0.01 or 0.0001) and a split of it into positive parts."""
    unit = draw(st.sampled_from([Decimal("0.01"), Decimal("0.0001"), Decimal(1)]))
    units = draw(st.integers(1, 10**7))
    cuts = draw(st.lists(st.integers(1, max(1, units - 1)), max_size=8, unique=True)) if units > 1 else []
    bounds = [0, *sorted(cuts), units]
    parts = [unit * (b - a) for a, b in itertools.pairwise(bounds)]
    earned = draw(st.integers(0, 10**7))
    return earned, unit * units, parts


@PROPERTY_SETTINGS
@given(split_orders())
def test_partial_returns_add_up_to_exactly_what_was_earned(case):
    earned, amount, parts = case
    assert sum(parts) == amount
    reversed_so_far = Decimal(0)
    total = 0
    for part in parts:
        reversed_so_far += part
        now = proportional_reversal(earned, total, amount, reversed_so_far)
        assert now >= 0
        total += now
        assert total <= earned
        # cumulative rounding: after each return, floor(earned x returned / amount) is reversed
        assert total == int((earned * reversed_so_far / amount).to_integral_value(ROUND_FLOOR))
    assert total == earned


@PROPERTY_SETTINGS
@given(split_orders(), st.integers(0, 8))
def test_partial_returns_never_exceed_what_was_earned(case, keep):
    earned, amount, parts = case
    partial = parts[: min(keep, len(parts) - 1)]  # the order is never returned whole
    total, returned = 0, Decimal(0)
    for part in partial:
        returned += part
        total += proportional_reversal(earned, total, amount, returned)
    assert 0 <= total <= earned
    assert total * amount <= earned * returned  # never more than the returned share
    if earned and returned < amount:
        assert total < earned


def test_reversal_of_a_zero_amount_order_is_nothing():
    assert proportional_reversal(100, 0, Decimal(0), Decimal(0)) == 0
