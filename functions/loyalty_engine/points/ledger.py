"""The points ledger as pure functions over a member's lots.

Each credit is a lot with `available_at` (end of the holding period) and `expires_at`.
A member's balance of a kind is the sum of its lots' remaining points, which is also the
sum of that kind's ledger entries: every function here returns the new lots together
with the entries that explain the change, and never lets a lot go below zero.
"""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from loyalty_engine.kernel.errors import InsufficientPoints
from loyalty_engine.kernel.model import DeferredModel

PointKind = Literal["nq", "q"]
EntryKind = Literal["earn", "burn", "return", "expire", "payment", "payment_reversal", "adjustment"]
NewId = Callable[[], str]


class Lot(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lot_id: str
    kind: PointKind
    points: int = Field(ge=0, description="Points still in the lot")
    available_at: datetime
    expires_at: datetime | None = None
    order_id: str | None = None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def is_available(self, now: datetime) -> bool:
        return self.available_at <= now and not self.is_expired(now)


class LotMovement(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lot_id: str
    kind: PointKind
    points: int  # signed: + credit, - debit


class LedgerEntry(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    entry_id: str
    at: datetime
    kind: EntryKind
    reference: str | None = Field(default=None, description="order id, burn id or return id")
    nq: int = Field(description="Signed change of NQ points")
    q: int = Field(description="Signed change of Q points")
    nq_balance: int = Field(description="NQ points after the entry (pending included)")
    q_balance: int = Field(description="Q points after the entry (pending included)")
    movements: list[LotMovement] = Field(default_factory=list)
    not_credited: int = Field(default=0, description="NQ points refused by the program's maximum balance")
    unrecovered: int = Field(default=0, description="Points a return could not take back (already spent)")
    reason_code: str | None = Field(default=None, description="An adjustment's reason code")
    occurred_at: datetime | None = Field(
        default=None,
        description="An earn's order time (`ordered_at`), when the change took effect, whenever it was "
        "recorded (`at`); absent for other entries",
        exclude_if=lambda occurred_at: occurred_at is None,  # other entries stay as they were
    )


def balance(lots: Iterable[Lot], kind: PointKind) -> int:
    return sum(lot.points for lot in lots if lot.kind == kind)


def available(lots: Iterable[Lot], kind: PointKind, now: datetime) -> int:
    return sum(lot.points for lot in lots if lot.kind == kind and lot.is_available(now))


def pending(lots: Iterable[Lot], kind: PointKind, now: datetime) -> int:
    return sum(
        lot.points for lot in lots if lot.kind == kind and lot.available_at > now and not lot.is_expired(now)
    )


def live(lots: Iterable[Lot], kind: PointKind, now: datetime) -> int:
    """Points not expired at `now`, pending included: what the member holds."""
    return sum(lot.points for lot in lots if lot.kind == kind and not lot.is_expired(now))


def _spend_order(lot: Lot) -> tuple[bool, datetime, datetime, str]:
    # Soonest-expiring first; lots that never expire last; then oldest first.
    return (lot.expires_at is None, lot.expires_at or lot.available_at, lot.available_at, lot.lot_id)


def _entry(
    lots: list[Lot],
    *,
    entry_id: str,
    at: datetime,
    kind: EntryKind,
    reference: str | None,
    movements: list[LotMovement],
    not_credited: int = 0,
    unrecovered: int = 0,
    occurred_at: datetime | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        entry_id=entry_id,
        at=at,
        kind=kind,
        reference=reference,
        nq=sum(m.points for m in movements if m.kind == "nq"),
        q=sum(m.points for m in movements if m.kind == "q"),
        nq_balance=balance(lots, "nq"),
        q_balance=balance(lots, "q"),
        movements=movements,
        not_credited=not_credited,
        unrecovered=unrecovered,
        occurred_at=occurred_at,
    )


def _take(lots: list[Lot], order: list[Lot], wanted: int) -> tuple[list[Lot], list[LotMovement], int]:
    """Debit up to `wanted` points from the lots in `order` (in that order); returns what was taken."""
    taken: dict[tuple[str, str], int] = {}
    left = wanted
    for lot in order:
        if left == 0:
            break
        part = min(lot.points, left)
        if part:
            taken[(lot.kind, lot.lot_id)] = part
            left -= part
    new_lots = []
    for lot in lots:
        part = taken.get((lot.kind, lot.lot_id), 0)
        if part:
            lot = lot.model_copy(update={"points": lot.points - part})
        if lot.points > 0:
            new_lots.append(lot)
    movements = [
        LotMovement(lot_id=lot_id, kind=kind, points=-part)  # type: ignore[arg-type]
        for (kind, lot_id), part in taken.items()
    ]
    return new_lots, movements, wanted - left


def expire_due(lots: list[Lot], now: datetime, new_id: NewId) -> tuple[list[Lot], list[LedgerEntry]]:
    """Remove what is left of every lot expired at `now`, as one `expire` entry."""
    expired = [lot for lot in lots if lot.is_expired(now) and lot.points > 0]
    if not expired:
        return [lot for lot in lots if lot.points > 0], []
    remaining = [lot for lot in lots if not lot.is_expired(now) and lot.points > 0]
    movements = [LotMovement(lot_id=lot.lot_id, kind=lot.kind, points=-lot.points) for lot in expired]
    at = max(lot.expires_at for lot in expired if lot.expires_at is not None)
    entry = _entry(remaining, entry_id=new_id(), at=at, kind="expire", reference=None, movements=movements)
    return remaining, [entry]


def credit(
    lots: list[Lot],
    *,
    entry_id: str,
    at: datetime,
    reference: str,
    order_id: str | None,
    nq: int,
    q: int,
    nq_available_at: datetime,
    nq_expires_at: datetime | None,
    q_available_at: datetime,
    q_expires_at: datetime | None,
    nq_max_balance: int = 0,
    occurred_at: datetime | None = None,
) -> tuple[list[Lot], LedgerEntry]:
    """Credit an earn as up to two lots (NQ, Q); NQ beyond the maximum balance is refused and recorded.
    `occurred_at`: the order's time, kept on the entry (its event's `occurred_at`)."""
    if nq < 0 or q < 0:
        raise ValueError("credits are not negative")
    not_credited = 0
    if nq_max_balance:
        room = max(0, nq_max_balance - balance(lots, "nq"))
        not_credited = max(0, nq - room)
        nq -= not_credited
    new_lots = list(lots)
    movements = []
    for kind, points, available_at, expires_at in (
        ("nq", nq, nq_available_at, nq_expires_at),
        ("q", q, q_available_at, q_expires_at),
    ):
        if points > 0:
            new_lots.append(
                Lot(
                    lot_id=entry_id,
                    kind=kind,  # type: ignore[arg-type]
                    points=points,
                    available_at=available_at,
                    expires_at=expires_at,
                    order_id=order_id,
                )
            )
            movements.append(LotMovement(lot_id=entry_id, kind=kind, points=points))  # type: ignore[arg-type]
    entry = _entry(
        new_lots,
        entry_id=entry_id,
        at=at,
        kind="earn",
        reference=reference,
        movements=movements,
        not_credited=not_credited,
        occurred_at=occurred_at,
    )
    return new_lots, entry


def burn(
    lots: list[Lot], *, points: int, now: datetime, entry_id: str, reference: str, kind: EntryKind = "burn"
) -> tuple[list[Lot], LedgerEntry]:
    """Spend available NQ points, soonest-expiring lots first; all or nothing."""
    order = sorted((lot for lot in lots if lot.kind == "nq" and lot.is_available(now)), key=_spend_order)
    have = sum(lot.points for lot in order)
    if points > have:
        raise InsufficientPoints(
            f"{points} points requested, {have} available",
            details=[{"field": "points", "requested": points, "available": have}],
        )
    new_lots, movements, _ = _take(lots, order, points)
    entry = _entry(new_lots, entry_id=entry_id, at=now, kind=kind, reference=reference, movements=movements)
    return new_lots, entry


def refund(
    lots: list[Lot],
    *,
    parts: list[tuple[int, datetime | None]],
    now: datetime,
    entry_id: str,
    reference: str,
) -> tuple[list[Lot], LedgerEntry]:
    """Give NQ points back (a payment's reversal): one new lot per `(points, expires_at)` part,
    available at once and expiring when the lot they were taken from expires. Parts whose
    expiry has passed are not credited (they would have expired anyway); the caller counts them."""
    new_lots = list(lots)
    movements: list[LotMovement] = []
    for position, (points, expires_at) in enumerate(parts):
        if points <= 0 or (expires_at is not None and expires_at <= now):
            continue
        lot_id = f"{entry_id}-{position}"
        new_lots.append(Lot(lot_id=lot_id, kind="nq", points=points, available_at=now, expires_at=expires_at))
        movements.append(LotMovement(lot_id=lot_id, kind="nq", points=points))
    entry = _entry(
        new_lots, entry_id=entry_id, at=now, kind="payment_reversal", reference=reference, movements=movements
    )
    return new_lots, entry


def reverse(
    lots: list[Lot],
    *,
    nq: int,
    q: int,
    lot_id: str,
    now: datetime,
    entry_id: str,
    reference: str,
    own_expired: frozenset[PointKind] = frozenset(),
) -> tuple[list[Lot], LedgerEntry]:
    """Take back points an order earned: its own lot first, then others (pending included).

    What the order's lot no longer holds was spent (taken back from other lots) or, for a
    kind in `own_expired`, expired already (not taken again). Points that cannot be taken
    back without a negative balance are recorded on the entry as `unrecovered`.
    """
    movements: list[LotMovement] = []
    unrecovered = 0
    new_lots = list(lots)
    for kind, wanted in (("nq", nq), ("q", q)):
        if wanted <= 0:
            continue
        own = [
            lot for lot in new_lots if lot.kind == kind and lot.lot_id == lot_id and not lot.is_expired(now)
        ]
        others = sorted(
            (
                lot
                for lot in new_lots
                if lot.kind == kind and lot.lot_id != lot_id and not lot.is_expired(now)
            ),
            key=_spend_order,
        )
        if kind in own_expired:
            others = []
        new_lots, moved, got = _take(new_lots, own + others, wanted)
        movements.extend(moved)
        unrecovered += wanted - got
    entry = _entry(
        new_lots,
        entry_id=entry_id,
        at=now,
        kind="return",
        reference=reference,
        movements=movements,
        unrecovered=unrecovered,
    )
    return new_lots, entry


def adjust(
    lots: list[Lot],
    *,
    kind: PointKind,
    points: int,
    now: datetime,
    entry_id: str,
    reference: str,
    reason_code: str,
    expires_at: datetime | None,
    nq_max_balance: int = 0,
) -> tuple[list[Lot], LedgerEntry]:
    """A customer service adjustment of one kind. A credit is a lot available at once, expiring
    at `expires_at` (NQ beyond the maximum balance is refused and recorded, as for an earn). A
    debit takes from the live lots, available ones first (soonest-expiring first), then pending
    ones (soonest available first): all or nothing, never below zero."""
    if points == 0:
        raise ValueError("an adjustment is not zero")
    movements: list[LotMovement] = []
    not_credited = 0
    if points > 0:
        if kind == "nq" and nq_max_balance:
            not_credited = max(0, points - max(0, nq_max_balance - balance(lots, "nq")))
        credited = points - not_credited
        new_lots = list(lots)
        if credited:
            new_lots.append(
                Lot(lot_id=entry_id, kind=kind, points=credited, available_at=now, expires_at=expires_at)
            )
            movements.append(LotMovement(lot_id=entry_id, kind=kind, points=credited))
    else:
        mine = [lot for lot in lots if lot.kind == kind and not lot.is_expired(now)]
        ready = sorted((lot for lot in mine if lot.is_available(now)), key=_spend_order)
        waiting = sorted((lot for lot in mine if not lot.is_available(now)), key=lambda lot: lot.available_at)
        have = sum(lot.points for lot in mine)
        if -points > have:
            raise InsufficientPoints(
                f"{-points} {kind} points to take back, {have} held",
                details=[{"field": "points", "requested": points, "available": have}],
            )
        new_lots, movements, _ = _take(lots, ready + waiting, -points)
    entry = _entry(
        new_lots,
        entry_id=entry_id,
        at=now,
        kind="adjustment",
        reference=reference,
        movements=movements,
        not_credited=not_credited,
    )
    return new_lots, entry.model_copy(update={"reason_code": reason_code})


def compact(lots: list[Lot], now: datetime) -> list[Lot]:
    """Merge the lots that can no longer differ: available and never expiring, per kind.

    Such lots are spent and reversed alike, so one lot (the oldest's id) holds their sum;
    the balance and the ledger are unchanged. Without it, a program with no validity
    would grow the member item by one lot per order, up to DynamoDB's 400 KB.
    """

    def mergeable(lot: Lot) -> bool:
        return lot.expires_at is None and lot.available_at <= now

    kinds = [lot.kind for lot in lots if mergeable(lot)]
    if all(kinds.count(kind) < 2 for kind in set(kinds)):
        return lots
    merged: dict[str, Lot] = {}
    kept: list[Lot] = []
    for lot in sorted(lots, key=lambda lot: (lot.available_at, lot.lot_id)):
        if not mergeable(lot):
            kept.append(lot)
        elif (first := merged.get(lot.kind)) is None:
            merged[lot.kind] = lot
        else:
            merged[lot.kind] = first.model_copy(update={"points": first.points + lot.points})
    return [*merged.values(), *kept]
