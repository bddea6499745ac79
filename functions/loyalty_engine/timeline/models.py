"""The timeline's items, their summaries, and the merge of its sources into pages.

Pure Python. Each source (ledger, tier changes, rewards, instruments) is read newest first
from a position of its own; a page takes the newest `limit` items of all sources, and the
composite cursor keeps, per source, the position of the last item it gave (or that it has no
more). So every item comes exactly once, whatever the page size.
"""

import json
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, computed_field

from loyalty_engine.kernel.cursors import decode_cursor, encode_cursor
from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.points.ledger import LedgerEntry

SourceName = Literal["ledger", "tier_change", "reward", "instrument"]
SOURCES: tuple[SourceName, ...] = ("ledger", "tier_change", "reward", "instrument")
CURSOR_MAX = 1200
# What a source's position looks like: a ledger entry's or a tier change's sort key, an
# attribution's gsi1 sort key (`<created at>#<attribution id>`), an instrument's rank.
POSITIONS = {
    "ledger": re.compile(r"^E#[0-9]{1,20}#[0-9]{1,6}$"),
    "tier_change": re.compile(r"^TIER#[0-9]{1,20}$"),
    "reward": re.compile(r"^[0-9T:.+-]{10,40}Z?#.{1,200}$"),
    "instrument": re.compile(r"^[0-9]{4,6}$"),
}


class TimelineItem(DeferredModel):
    at: datetime = Field(description="When it happened (UTC)")
    type: SourceName
    kind: str = Field(description="Ledger entry kind, tier change cause, reward state or instrument kind")
    summary: str
    id: str = Field(
        description="Entry id, attribution id, instrument number, or the member version of a tier change"
    )
    detail: dict[str, Any] = Field(
        description="The entry, change, attribution or instrument as its own route shows it"
    )


class LedgerEntryView(LedgerEntry):
    """A ledger entry as `GET /v1/members/{card_code}/ledger` answers it."""

    comment: str | None = Field(
        default=None,
        description="An adjustment's comment (customer service's free text), to an admin key only; "
        "absent for other entries and for other keys",
        exclude_if=lambda comment: comment is None,  # a shop key's ledger stays as it was
    )


class TimelinePage(DeferredModel):
    items: list[TimelineItem] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")

    @computed_field(description="The same as `next_cursor` (its first name, kept)")  # type: ignore[prop-decorator]
    @property
    def next(self) -> str | None:
        return self.next_cursor


# A source's state in the cursor: the position after which to read, None to read from the
# newest, or DONE when it has no more.
DONE = "-"
Positions = dict[str, str | None]


def start() -> Positions:
    return {name: None for name in SOURCES}


def decode(cursor: str | None) -> Positions:
    if not cursor:
        return start()
    text = decode_cursor(cursor, prefix="{", max_length=CURSOR_MAX)
    try:
        values = json.loads(text)
    except ValueError:
        values = None
    if not isinstance(values, dict) or set(values) != set(SOURCES):
        raise InvalidRequest(
            "invalid cursor", code="invalid_cursor", details=[{"field": "cursor", "reason": "invalid_cursor"}]
        )
    for name, value in values.items():
        if value is not None and not (
            isinstance(value, str) and (value == DONE or POSITIONS[name].match(value))
        ):
            raise InvalidRequest(
                "invalid cursor",
                code="invalid_cursor",
                details=[{"field": "cursor", "reason": "invalid_cursor"}],
            )
    return values


def merge(
    fetched: dict[str, list[tuple[str, TimelineItem]]], positions: Positions, limit: int
) -> TimelinePage:
    """The page of the newest `limit` of the items fetched (each source gave up to `limit`,
    with its position), and the cursor after it."""
    pool = [(item, name, position) for name in SOURCES for position, item in fetched.get(name, [])]
    pool.sort(key=lambda entry: entry[0].at, reverse=True)
    page = pool[:limit]
    after = dict(positions)
    taken = {name: 0 for name in SOURCES}
    for _, name, position in page:
        after[name] = position
        taken[name] += 1
    for name in SOURCES:
        if positions.get(name) == DONE:
            continue
        given = fetched.get(name, [])
        if taken[name] == len(given) and len(given) < limit:
            after[name] = DONE
    next_cursor = None if all(v == DONE for v in after.values()) else encode_cursor(json.dumps(after))
    return TimelinePage(items=[item for item, _, _ in page], next_cursor=next_cursor)


def points_text(nq: int, q: int) -> str:
    parts = [f"{nq:+d} NQ" if nq else "", f"{q:+d} Q" if q else ""]
    return " ".join(part for part in parts if part) or "0"
