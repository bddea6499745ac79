"""Where a member's lots are kept, and what the member item says about them (pure functions).

The lots are not on the member item: they sit in "chunks" in the member's partition, just
before the member item, so that one Query reads the member and all its live lots, and a write
rewrites only the chunks it changes. Two sizes of chunk:

- the open chunk (`LOTS#open`): where new lots land, up to OPEN_CHUNK_BYTES of packed lots
  (20 to 45 orders' NQ and Q lots), so that an earn rewrites an item of under 1 KB;
- the month chunks (`LOTS#<YYYYMM>#<kind>#<nnnn>`, `never` for lots that do not expire): when
  new lots no longer fit in the open chunk, the open chunk's lots move into the last chunk of
  their kind and month of expiry (UTC), or open the next one once that holds MONTH_CHUNK_BYTES
  (a burn takes NQ points only: it rewrites NQ chunks only).

A lot stays in its chunk until it moves from the open chunk to its month's (the member
remembers where each lot it read sits: `Member.lot_slots`). So no item grows without bound,
however many lots a member holds; an earn costs the open chunk's write, and one in 20 to 45
also rewrites a month chunk; a burn rewrites the chunks of the lots it takes from, which are
few and large, so that even a burn of thousands of lots stays one transaction (at most 100
items).

Lots that expire leave the live chunks. Q lots are kept as history (`QHIST#<YYYYMM>`), as
they stood when they expired, so that a tier run decided "as of" an earlier instant still sees
the Q points that were valid then. NQ lots are not: the ledger's `expire` entries say what
expired, and nothing is ever computed from expired NQ points.

A chunk stores its lots as one JSON text of short lists (id, kind, points, available and
expires as epoch seconds, order id), compressed (zlib, a binary attribute: `pack`): a chunk's
lots share their times and look alike, so the text shrinks four- to fivefold, and every write
of a chunk costs that much fewer write units (a chunk of an earlier release, stored as plain
text, is read as it is and packed when next written). The open chunk is measured packed, so
that it takes 20 to 45 orders' lots before they move, and a month chunk is limited on its
plain text (the number of lots a burn rewrites at once). The history, which only grows, is
a list of such texts (without the kind: all Q), one per lot, so that expired lots are appended
without reading it.
"""

import json
import zlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field

from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.points.ledger import Lot, PointKind

NEVER = "never"  # the month of lots that do not expire
OPEN = "open"  # the chunk new lots land in
# The open chunk's packed lots at most: with its keys the item stays under 1 KB, one write
# unit (a lot is about 70 bytes of text, 15 to 25 packed: 20 to 45 orders' NQ and Q lots).
OPEN_CHUNK_BYTES = 850
# A month chunk's encoded lots at most (about 230 lots of its kind) before the next one opens:
# small enough that moving the open chunk's lots into it stays cheap (at most 32 write units
# per chunk in a transaction, 8 or so packed, once in 20 to 45 earns), large enough that a burn of
# thousands of lots touches few items (a transaction holds at most 100).
MONTH_CHUNK_BYTES = 16_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_of(lot: Lot) -> str:
    """The month (UTC) its lot expires in, `YYYYMM`; `never` for a lot that does not expire."""
    return NEVER if lot.expires_at is None else lot.expires_at.astimezone(UTC).strftime("%Y%m")


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m")


def by_bucket(lots: Iterable[Lot]) -> dict[tuple[PointKind, str], list[Lot]]:
    """Lots with points left, by (kind, bucket), each bucket in a stable order."""
    grouped: dict[tuple[PointKind, str], list[Lot]] = defaultdict(list)
    for lot in lots:
        if lot.points > 0:
            grouped[(lot.kind, bucket_of(lot))].append(lot)
    for bucket in grouped.values():
        bucket.sort(key=lambda lot: (lot.expires_at or _EPOCH, lot.available_at, lot.lot_id))
    return dict(grouped)


def _seconds(moment: datetime) -> int:
    return int((moment - _EPOCH).total_seconds())


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def encode(lot: Lot, *, with_kind: bool = False) -> str:
    """One lot as a JSON text: `[id, points, available, expires, order id]` (times in epoch
    seconds), `[id, kind, points, ...]` with its kind (a chunk holds both kinds)."""
    expires = None if lot.expires_at is None else _seconds(lot.expires_at)
    head: list[Any] = [lot.lot_id, lot.kind] if with_kind else [lot.lot_id]
    return json.dumps(
        [*head, lot.points, _seconds(lot.available_at), expires, lot.order_id], separators=(",", ":")
    )


def encode_all(lots: Iterable[Lot]) -> str:
    """A chunk's lots, each with its kind."""
    return "[" + ",".join(encode(lot, with_kind=True) for lot in lots) + "]"


def decode(kind: PointKind, value: str | list[Any]) -> Lot:
    """A lot of the history (`kind` given) or of a chunk (the kind in the value)."""
    fields = list(json.loads(value) if isinstance(value, str) else value)
    if len(fields) == 6:
        kind = fields[1]
        del fields[1]
    lot_id, points, available, expires, order_id = fields
    return Lot(
        lot_id=lot_id,
        kind=kind,
        points=points,
        available_at=_moment(available),
        expires_at=None if expires is None else _moment(expires),
        order_id=order_id,
    )


def pack(lots: Iterable[Lot]) -> bytes:
    """A chunk's lots as stored: their text (`encode_all`), compressed."""
    return zlib.compress(encode_all(lots).encode())


def unpack(value: str | bytes, kind: PointKind = "nq") -> list[Lot]:
    """A chunk's lots as read: packed, or the plain text of an earlier release (`decode_all`)."""
    return decode_all(zlib.decompress(value).decode() if isinstance(value, bytes) else value, kind)


def decode_all(text: str, kind: PointKind = "nq") -> list[Lot]:
    """A chunk's lots (`kind`: the kind of an item of the previous layout, one bucket per kind
    and month, whose lots were stored without their kind)."""
    return [decode(kind, value) for value in json.loads(text)]


# --- chunks -----------------------------------------------------------------------------------


def slot_key(lot: Lot) -> str:
    """A lot's key in `Member.lot_slots` (both kinds of an order's lots share its id)."""
    return f"{lot.kind}:{lot.lot_id}"


def _chunk_shelf(chunk: str) -> str:
    """A month chunk's month and kind (`YYYYMM#kind`)."""
    return chunk.rsplit("#", 1)[0]


def _chunk_number(chunk: str) -> int:
    return int(chunk.rsplit("#", 1)[1])


def _shelf_of(lot: Lot) -> str:
    return f"{bucket_of(lot)}#{lot.kind}"


def _legacy_bucket(lot: Lot) -> str:
    """The item of the previous layout (`LOTS#<kind>#<month>`, one per kind and month) this lot
    would sit in: a lot read from one stays there (moving a member's buckets all at once could
    take more than a transaction's 100 actions), and the bucket goes once it is empty."""
    return f"{lot.kind}#{bucket_of(lot)}"


def _chunk_name(shelf: str, number: int) -> str:
    return f"{shelf}#{number:04d}"


def _chunk_order(lot: Lot) -> tuple[datetime, datetime, str, str]:
    return (lot.expires_at or _EPOCH, lot.available_at, lot.lot_id, lot.kind)


def _sorted(chunks: dict[str, list[Lot]]) -> dict[str, list[Lot]]:
    for lots in chunks.values():
        lots.sort(key=_chunk_order)
    return dict(chunks)


def chunks_as_read(lots: Iterable[Lot], slots: dict[str, str]) -> dict[str, list[Lot]]:
    """The stored chunks of these lots (as read: every lot with its slot), each in a stable order."""
    chunks: dict[str, list[Lot]] = defaultdict(list)
    for lot in lots:
        if lot.points <= 0:
            continue
        chunk = slots.get(slot_key(lot))
        if chunk is None:
            raise ValueError(f"lot {slot_key(lot)} was not read from a chunk")
        chunks[chunk].append(lot)
    return _sorted(chunks)


def _size(lots: list[Lot]) -> int:
    return len(encode_all(lots))


def layout(lots: Iterable[Lot], slots: dict[str, str]) -> dict[str, list[Lot]]:
    """The chunks these lots (those with points left) are to be stored in, each in a stable order.

    A lot that was read stays in its chunk; new lots join the open chunk if it has room for
    them, else the open chunk's lots and the new ones move to the chunks of their kind and month."""
    chunks: dict[str, list[Lot]] = defaultdict(list)
    new: list[Lot] = []
    for lot in lots:
        if lot.points <= 0:
            continue
        chunk = slots.get(slot_key(lot))
        if chunk is not None and (
            chunk == OPEN or _chunk_shelf(chunk) == _shelf_of(lot) or chunk == _legacy_bucket(lot)
        ):
            chunks[chunk].append(lot)
        else:
            new.append(lot)
    if not new:
        return _sorted(chunks)
    moving = [*chunks.pop(OPEN, []), *new]
    if len(pack(sorted(moving, key=_chunk_order))) <= OPEN_CHUNK_BYTES:
        chunks[OPEN] = moving
        return _sorted(chunks)
    last: dict[str, int] = {}
    for chunk in chunks:
        if chunk.count("#") != 2:  # a bucket of the previous layout: no new lot joins it
            continue
        shelf, number = _chunk_shelf(chunk), _chunk_number(chunk)
        last[shelf] = max(last.get(shelf, number), number)
    sizes: dict[str, int] = {}
    for lot in sorted(moving, key=_chunk_order):
        shelf, size = _shelf_of(lot), len(encode(lot, with_kind=True)) + 1
        number = last.setdefault(shelf, 0)
        chunk = _chunk_name(shelf, number)
        if chunk not in sizes:
            sizes[chunk] = _size(chunks.get(chunk, []))
        if chunks.get(chunk) and sizes[chunk] + size > MONTH_CHUNK_BYTES:
            last[shelf] = number + 1
            chunk = _chunk_name(shelf, number + 1)
            sizes[chunk] = _size([])
        chunks[chunk].append(lot)
        sizes[chunk] += size
    return _sorted(chunks)


def slots_of(chunks: dict[str, list[Lot]]) -> dict[str, str]:
    return {slot_key(lot): chunk for chunk, lots in chunks.items() for lot in lots}


class KindSummary(DeferredModel):
    """One kind's live lots, in three numbers: enough to know when they must be read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    live: int = Field(default=0, description="Points in the live lots (pending included)")
    pending_until: datetime | None = Field(default=None, description="The latest end of a holding period")
    next_expiry_at: datetime | None = Field(default=None, description="The earliest expiry among them")


class PointsSummary(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    nq: KindSummary = KindSummary()
    q: KindSummary = KindSummary()
    # The latest expiry among the lots that have left the live lots (Q lots for the history):
    # a lot that expires after it is still live. None: no lot has left yet.
    expired_until: datetime | None = None


def summarize(lots: Iterable[Lot], expired_until: datetime | None) -> PointsSummary:
    """The summary of these live lots; `expired_until` as it stands after the write."""
    kinds: dict[str, KindSummary] = {}
    held = [lot for lot in lots if lot.points > 0]
    for kind in ("nq", "q"):
        mine = [lot for lot in held if lot.kind == kind]
        expiries = [lot.expires_at for lot in mine if lot.expires_at is not None]
        kinds[kind] = KindSummary(
            live=sum(lot.points for lot in mine),
            pending_until=max((lot.available_at for lot in mine), default=None),
            next_expiry_at=min(expiries, default=None),
        )
    return PointsSummary(nq=kinds["nq"], q=kinds["q"], expired_until=expired_until)


def exact_valid_q(summary: PointsSummary, at: datetime) -> int | None:
    """The Q points valid at `at`, when the summary alone tells them (None: read the lots).

    It does when at `at` every live Q lot was past its holding period and not expired, and no
    lot that expired after `at` has left for the history yet."""
    q = summary.q
    if q.live == 0 and (summary.expired_until is None or summary.expired_until <= at):
        return 0
    exact = (
        (q.pending_until is None or q.pending_until <= at)
        and (q.next_expiry_at is None or q.next_expiry_at > at)
        and (summary.expired_until is None or summary.expired_until <= at)
    )
    return q.live if exact else None
