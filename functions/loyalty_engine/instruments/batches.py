"""Pre-issue batches: a number of gift cards (or coupons) drawn from a series' index space.

A batch owns index ranges reserved from its series' counter; its numbers are the series'
numbers at those indexes, minus those that fall in a more specific (nested) series, cut to
the batch's count. The list is therefore reproducible from the batch item alone: the CSV
export regenerates it instead of reading the instruments back.
"""

from collections.abc import Iterator
from typing import Literal

from pydantic import ConfigDict, Field

from loyalty_engine.instruments.numbers import SeriesExhausted, capacity, number_at, numbers_from
from loyalty_engine.instruments.series import Series
from loyalty_engine.kernel.idempotency import NATURAL_KEY_PATTERN
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.timeutil import UtcDatetime

BatchStatus = Literal["pending", "completed", "failed"]
BATCH_KINDS = frozenset({"gift_card", "coupon"})
MAX_BATCH = 1_000_000


class BatchRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: str = Field(pattern=NATURAL_KEY_PATTERN, description="Names the batch; the idempotency key")
    count: int = Field(ge=1, le=MAX_BATCH, strict=True, description="How many instruments to pre-issue")


class Batch(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: str
    series_id: str
    count: int
    status: BatchStatus = "pending"
    ranges: list[tuple[int, int]] = Field(default_factory=list, description="Reserved [start, end) indexes")
    excluded_prefixes: list[str] = Field(default_factory=list, description="Nested series when reserved")
    position: int = Field(default=0, description="Indexes of the ranges already written")
    issued: int = Field(default=0, description="Instruments written so far")
    export_key: str | None = None
    failure: str | None = Field(default=None, description="Why a failed batch stopped")
    fingerprint: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    completed_at: UtcDatetime | None = None

    @property
    def reserved(self) -> int:
        return sum(end - start for start, end in self.ranges)


class BatchView(DeferredModel):
    batch_id: str
    series_id: str
    count: int
    status: BatchStatus
    issued: int = Field(description="Instruments written so far (progress)")
    progress: float = Field(description="issued / count, for display")
    export: str | None = Field(description="s3://bucket/key of the CSV of the numbers, once completed")
    failure: str | None = Field(description="Why a failed batch stopped (e.g. the series ran out of numbers)")
    created_at: UtcDatetime
    completed_at: UtcDatetime | None

    @classmethod
    def of(cls, batch: Batch, bucket: str | None) -> "BatchView":
        return cls(
            batch_id=batch.batch_id,
            series_id=batch.series_id,
            count=batch.count,
            status=batch.status,
            issued=batch.issued,
            progress=round(batch.issued / batch.count, 4),
            export=f"s3://{bucket}/{batch.export_key}" if batch.export_key else None,
            failure=batch.failure,
            created_at=batch.created_at,
            completed_at=batch.completed_at,
        )


def series_capacity(series: Series) -> int:
    """How many numbers the series can ever hold."""
    return capacity(series.prefix, series.length, check_digit=series.check_digit)


def check_room(series: Series, count: int, drawn: int) -> None:
    """Refuse to draw `count` more numbers when the series' counter (`drawn`) leaves too few."""
    room = series_capacity(series) - drawn
    if count > room:
        raise SeriesExhausted(
            f"series {series.series_id!r} has room for {max(room, 0)} more numbers, not {count}",
            code="series_exhausted",
            details=[{"field": "count", "reason": "series_exhausted", "room": max(room, 0)}],
        )


def series_number(series: Series, index: int) -> str:
    """The series' number at an index."""
    return number_at(series.prefix, series.length, series.secret, index, check_digit=series.check_digit)


def index_runs(ranges: list[tuple[int, int]], start: int, stop: int) -> Iterator[tuple[int, int]]:
    """The indexes at positions [start, stop) of the concatenated ranges, as [low, high) runs."""
    offset = 0
    for low, high in ranges:
        size = high - low
        first, last = max(start - offset, 0), min(stop - offset, size)
        if first < last:
            yield low + first, low + last
        offset += size


def numbers_at(series: Series, batch: Batch, start: int, stop: int) -> list[str]:
    """The batch's numbers drawn from positions [start, stop): nested series' numbers skipped.

    The numbers of ``series_number`` at those indexes, a run of consecutive indexes at a time
    (``numbers_from`` checks the series once per run, not once per number: about twice as fast).
    """
    excluded = tuple(batch.excluded_prefixes)
    numbers: list[str] = []
    for low, high in index_runs(batch.ranges, start, stop):
        run, _ = numbers_from(
            series.prefix, series.length, series.secret, low, high - low, check_digit=series.check_digit
        )
        numbers += [n for n in run if not n.startswith(excluded)] if excluded else run
    return numbers


def all_numbers(series: Series, batch: Batch) -> list[str]:
    return numbers_at(series, batch, 0, batch.reserved)[: batch.count]


def export_key(group: str, batch: Batch) -> str:
    return f"exports/{group}/{batch.series_id}/{batch.batch_id}.csv"


class BatchPage(DeferredModel):
    batches: list[BatchView] = Field(description="By batch id")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
