"""Use cases of instrument series and their pre-issue batches."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from loyalty_engine.access.models import Caller
from loyalty_engine.instruments.batches import (
    BATCH_KINDS,
    Batch,
    BatchRequest,
    all_numbers,
    check_room,
    export_key,
    numbers_at,
)
from loyalty_engine.instruments.context import InstrumentServices
from loyalty_engine.instruments.instrument import Instrument
from loyalty_engine.instruments.instrument_store import issued_instrument_item
from loyalty_engine.instruments.numbers import SeriesExhausted, nested_pairs, new_series_secret
from loyalty_engine.instruments.series import Series, SeriesSpec, SeriesView, check_update, prefix_overlap
from loyalty_engine.kernel.errors import Conflict, InvalidRequest, NotFound
from loyalty_engine.kernel.idempotency import fingerprint
from loyalty_engine.kernel.retry import RACE, attempts
from loyalty_engine.kernel.types import same_spec

CHUNK = 1000  # indexes per checkpoint: 40 BatchWriteItem requests
MARGIN_MS = 30_000  # stop and queue a continuation this long before the invocation's timeout
MAX_ATTEMPTS = 3  # a create that lost its id to a concurrent one reads it again
API_MARGIN_MS = 5_000  # a batch issued during an API call hands over to the queue 5 s before the timeout


def series_not_found(series_id: str) -> NotFound:
    return NotFound(f"series {series_id!r} not found", code="series_not_found")


def _check_groups(svc: InstrumentServices, group: str, spec: SeriesSpec) -> None:
    wanted = sorted({spec.issuer_group, spec.acceptor_group})
    missing = sorted(set(wanted) - svc.merchants.existing_merchant_groups(group, wanted))
    if missing:
        raise InvalidRequest(
            f"unknown merchant groups {missing}",
            code="unknown_merchant_group",
            details=[
                {"field": f, "reason": "unknown_merchant_group", "value": getattr(spec, f)}
                for f in ("issuer_group", "acceptor_group")
                if getattr(spec, f) in missing
            ],
        )


def put_series(
    svc: InstrumentServices, caller: Caller, series_id: str, spec: SeriesSpec
) -> tuple[int, SeriesView]:
    """Create (201) or update (200) a series. Prefixes never overlap: an equal prefix is refused,
    and a nested one (e.g. 6012 inside 60) only while the enclosing series has issued nothing.
    A series of this id created meanwhile (the same PUT racing itself) is the current one: its
    replay answers 200, as a PUT repeated later does."""
    group = caller.group_id
    _check_groups(svc, group, spec)
    for _ in attempts(MAX_ATTEMPTS, RACE):
        current = svc.series.series(group, series_id)
        others = [] if current is not None else svc.series.all_series(group)
        current = current or next((o for o in others if o.series_id == series_id), None)
        if current is not None:
            return _update_series(svc, group, series_id, spec, current)
        for other in others:
            if other.prefix == spec.prefix:
                raise prefix_overlap(spec.prefix, other.prefix, other.series_id, "the same prefix")
        enclosing_prefixes, _ = nested_pairs(spec.prefix, [o.prefix for o in others])
        enclosing = [o for o in others if o.prefix in enclosing_prefixes]
        for outer in enclosing:
            if outer.next_index:
                raise prefix_overlap(spec.prefix, outer.prefix, outer.series_id, "it has issued numbers")
        now = svc.clock()
        series = Series(
            **spec.model_dump(),
            series_id=series_id,
            secret=new_series_secret(),
            created_at=now,
            updated_at=now,
        )
        if svc.series.create_series(group, series, enclosing):
            return 201, SeriesView.of(series)
        # the id was claimed meanwhile: read it again (a replay, an update or a layout change)
    raise Conflict("the series was changed concurrently; read it and retry", code="concurrent_update")


def _update_series(
    svc: InstrumentServices, group: str, series_id: str, spec: SeriesSpec, current: Series
) -> tuple[int, SeriesView]:
    if same_spec(spec, current):
        return 200, SeriesView.of(current)  # a replay changes nothing
    check_update(current, spec)
    updated = Series(
        **spec.model_dump(),
        series_id=series_id,
        secret=current.secret,
        next_index=current.next_index,
        version=current.version + 1,
        created_at=current.created_at,
        updated_at=svc.clock(),
    )
    if not svc.series.replace_series(group, updated, current.version):
        raise Conflict("the series was changed concurrently; read it and retry", code="concurrent_update")
    return 200, SeriesView.of(updated)


def get_series(svc: InstrumentServices, caller: Caller, series_id: str) -> SeriesView:
    found = svc.series.series(caller.group_id, series_id)
    if found is None:
        raise series_not_found(series_id)
    return SeriesView.of(found)


def list_series(svc: InstrumentServices, caller: Caller) -> list[SeriesView]:
    return sorted(
        (SeriesView.of(s) for s in svc.series.all_series(caller.group_id)), key=lambda s: s.series_id
    )


# Batches
def create_batch(
    svc: InstrumentServices, caller: Caller, series_id: str, request: BatchRequest, sync_limit: int
) -> tuple[Batch, bool]:
    """Create the batch (or find it again: the batch id is the idempotency key).

    Returns the batch and whether it should run now (small batches) rather than
    in the background."""
    group = caller.group_id
    series = svc.series.series(group, series_id)
    if series is None:
        raise series_not_found(series_id)
    if series.kind not in BATCH_KINDS:
        raise InvalidRequest(
            f"a {series.kind} series is not pre-issued in batches",
            code="unsupported_operation",
            details=[{"field": "series_id", "reason": "unsupported_operation"}],
        )
    fp = fingerprint("instrument_batch", request, series=series_id)
    existing = svc.series.batch(group, series_id, request.batch_id)
    now = svc.clock()
    if existing is None:
        ends = series.valid_until_from(now)
        if ends is not None and now >= ends:  # its cards could never be sold, its coupons used
            raise Conflict(
                f"series {series_id!r} ended at {ends.isoformat()}",
                code="expired",
                details=[{"reason": "expired", "valid_until": ends.isoformat().replace("+00:00", "Z")}],
            )
        check_room(series, request.count, series.next_index)
    batch = Batch(
        batch_id=request.batch_id,
        series_id=series_id,
        count=request.count,
        fingerprint=fp,
        created_at=now,
        updated_at=now,
    )
    if not svc.series.create_batch(group, batch):
        existing = svc.series.batch(group, series_id, request.batch_id)
        if existing is None:
            raise Conflict("the batch is being created concurrently; retry", code="concurrent_update")
        if existing.fingerprint != fp:
            raise Conflict(
                f"batch {request.batch_id!r} exists with another count",
                code="idempotency_key_reused",
                details=[{"field": "batch_id", "reason": "idempotency_key_reused"}],
            )
        batch = existing
    return batch, request.count <= sync_limit


def get_batch(svc: InstrumentServices, caller: Caller, series_id: str, batch_id: str) -> Batch:
    found = svc.series.batch(caller.group_id, series_id, batch_id)
    if found is None:
        raise NotFound(f"batch {batch_id!r} of series {series_id!r} not found", code="batch_not_found")
    return found


def list_batches(
    svc: InstrumentServices, caller: Caller, series_id: str, limit: int, cursor: str | None
) -> tuple[list[Batch], str | None]:
    """One page of a series' batches, by batch id (404 when the group has no such series)."""
    if svc.series.series(caller.group_id, series_id) is None:
        raise series_not_found(series_id)
    return svc.series.batches_page(caller.group_id, series_id, limit, cursor)


def _card(series: Series, batch: Batch, number: str) -> Instrument:
    return Instrument(
        number=number,
        series_id=series.series_id,
        kind=series.kind,
        # A coupon is usable once issued; a gift card waits for its sale.
        status="active" if series.kind == "coupon" else "issued",
        currency=series.currency,
        valid_until=series.valid_until_from(batch.created_at)
        if series.kind == "coupon"
        else series.valid_until,
        batch_id=batch.batch_id,
        issued_at=batch.created_at,
    )


def run_batch(
    svc: InstrumentServices,
    group: str,
    series_id: str,
    batch_id: str,
    remaining_ms: Callable[[], float],
    margin_ms: float = MARGIN_MS,
) -> Batch | None:
    """Issue a batch's instruments from its last checkpoint; write the export when all are issued.

    Returns the batch (completed, or where it stopped when time ran short), None if unknown.
    Every step is safe to repeat: indexes are reserved into the batch before numbers are drawn
    from them (a crash in between leaves a harmless gap in the counter), the instruments of a
    range are the same numbers each time, and checkpoints are conditional on the position read.
    """
    series = svc.series.series(group, series_id)
    batch = svc.series.batch(group, series_id, batch_id)
    if series is None or batch is None:
        return None
    while batch.status == "pending":
        if remaining_ms() < margin_ms:
            return batch
        if batch.issued >= batch.count:
            batch = _complete(svc, group, series, batch)
            continue
        if batch.position >= batch.reserved:
            wanted = batch.count - batch.issued
            start, end = svc.series.reserve(group, series, wanted)
            try:
                check_room(series, 0, end)  # concurrent batches may have taken the last numbers
            except SeriesExhausted as exhausted:
                return _fail(svc, group, batch, exhausted.message)
            excluded = batch.excluded_prefixes
            if not batch.ranges:
                # Read after the first reservation: from then on no series can nest in this one.
                _, nested = nested_pairs(series.prefix, [s.prefix for s in svc.series.all_series(group)])
                excluded = nested
            updated = batch.model_copy(
                update={
                    "ranges": [*batch.ranges, (start, end)],
                    "excluded_prefixes": excluded,
                    "updated_at": svc.clock(),
                }
            )
            batch = _saved(svc, group, updated, batch)
            continue
        stop = min(batch.position + CHUNK, batch.reserved)
        numbers = numbers_at(series, batch, batch.position, stop)[: batch.count - batch.issued]
        svc.series.put_instruments([issued_instrument_item(group, _card(series, batch, n)) for n in numbers])
        updated = batch.model_copy(
            update={"position": stop, "issued": batch.issued + len(numbers), "updated_at": svc.clock()}
        )
        batch = _saved(svc, group, updated, batch)
    return batch


def _fail(svc: InstrumentServices, group: str, batch: Batch, reason: str) -> Batch:
    """Stop a batch for good (its numbers so far stay issued and listed by their batch id)."""
    failed = batch.model_copy(update={"status": "failed", "failure": reason, "updated_at": svc.clock()})
    return _saved(svc, group, failed, batch)


def _saved(svc: InstrumentServices, group: str, updated: Batch, previous: Batch) -> Batch:
    """The checkpoint written, or the batch as another worker left it."""
    if svc.series.save_batch(group, updated, previous):
        return updated
    current = svc.series.batch(group, previous.series_id, previous.batch_id)
    assert current is not None  # batches are never deleted
    return current


def _complete(svc: InstrumentServices, group: str, series: Series, batch: Batch) -> Batch:
    key = export_key(group, batch)
    if svc.exports is not None:
        svc.exports.put_bytes(key, export_csv(series, batch), "text/csv")
    now = svc.clock()
    done = batch.model_copy(
        update={
            "status": "completed",
            "export_key": key if svc.exports else None,
            "completed_at": now,
            "updated_at": now,
        }
    )
    return _saved(svc, group, done, batch)


def export_csv(series: Series, batch: Batch) -> bytes:
    """The batch's numbers, regenerated from its ranges (no read of the instruments)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["number", "series_id", "batch_id", "kind", "currency", "value"])
    value = "" if series.value is None else str(series.value)
    for number in all_numbers(series, batch):
        writer.writerow([number, series.series_id, batch.batch_id, series.kind, series.currency or "", value])
    return out.getvalue().encode()


def batch_message(group: str, batch: Batch) -> dict[str, str]:
    return {"group": group, "series_id": batch.series_id, "batch_id": batch.batch_id}
