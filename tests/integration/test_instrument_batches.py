"""Pre-issue batches on moto: the background path (202, the queue, checkpoints with progress,
continuations), crashes at every step of run_batch and the run resumed, two workers on one
batch, and the numbers (more in test_instrument_batch_issuer.py): exactly `count`, unique, Luhn-valid, the series' prefix and never a
nested series' one, the table's instruments exactly the CSV export's numbers.

The world (tests.support.instruments, tests.support.instrument_batches): the sample gift card series `gift` (prefix 6012, 16
digits) and, nested in it and made before it issued anything, `gift-vip` (prefix 60125): a
tenth of gift's numbers fall in gift-vip and are skipped. SYNC_BATCH_LIMIT is 50 and run_batch
checkpoints every 50 indexes (CHUNK), so a few hundred numbers take several chunks and, since
skipped numbers leave a reservation short, more than one reservation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from loyalty_engine.instruments.context import instrument_services
from tests.support.api import call
from tests.support.fast_clients import shared_botocore_loader
from tests.support.instrument_batches import CHUNK, Crash, batch_world, counter, run
from tests.support.instruments import (
    ADMIN,
    GIFT,
    GROUP,
    POS,
    budget,
    instruments_in_table,
    ok,
    sell,
)


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


world = pytest.fixture(batch_world, name="world")


# --- the background path ------------------------------------------------------------------------


def test_a_large_batch_is_queued_then_issued_in_checkpointed_steps_until_complete(world):
    view = world.create("B-300", 300)
    assert (view["status"], view["issued"], view["progress"], view["export"]) == ("pending", 0, 0.0, None)
    assert world.queued() == [{"group": GROUP, "series_id": GIFT, "batch_id": "B-300"}]

    # time for the reservation and three chunks, then the invocation runs short
    stopped = run("B-300", budget(4))
    assert stopped.status == "pending"
    assert stopped.position == 3 * CHUNK
    assert 0.8 * 3 * CHUNK <= stopped.issued < 3 * CHUNK  # about a tenth skipped (gift-vip's)
    view = world.batch("B-300")
    assert (view["status"], view["issued"]) == ("pending", stopped.issued)
    assert view["progress"] == round(stopped.issued / 300, 4)
    assert view["export"] is None
    assert len(instruments_in_table(world.client, world.table, "B-300")) == stopped.issued

    done = run("B-300")
    assert done.status == "completed"
    world.check_issued("B-300", 300)
    # the skipped numbers needed a second reservation; nothing was reserved in vain
    assert len(done.ranges) >= 2
    assert done.reserved == counter()
    assert world.queued() == []  # continuing is the caller's job (the handler's, below)


def test_the_batch_post_is_idempotent(world):
    first = world.create("B-IDEM", 120)
    again = world.create("B-IDEM", 120)
    assert again == first
    # each POST of a pending batch queues it (a second worker is harmless: see below)
    assert len(world.queued()) == 2
    reused = call(
        "api_create_batch", ADMIN, path={"series_id": GIFT}, body={"batch_id": "B-IDEM", "count": 121}
    )
    assert (reused.status, reused.body["code"]) == (409, "idempotency_key_reused")
    run("B-IDEM")
    replay = call(
        "api_create_batch", ADMIN, path={"series_id": GIFT}, body={"batch_id": "B-IDEM", "count": 120}
    )
    assert replay.status == 201 and replay.body == world.batch("B-IDEM")
    world.check_issued("B-IDEM", 120)


# --- crashes at every step, then the run resumed -------------------------------------------------


def crash_on(
    obj: Any, name: str, monkeypatch, *, call_no: int, after: bool, when: Callable[..., bool] | None = None
):
    """Make `obj.name` raise Crash on its call number `call_no` (counting the calls `when`
    selects): before doing anything, or `after` the real call did its work."""
    real = getattr(obj, name)
    seen = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if when is not None and not when(*args, **kwargs):
            return real(*args, **kwargs)
        seen[0] += 1
        if seen[0] != call_no:
            return real(*args, **kwargs)
        if after:
            real(*args, **kwargs)
        raise Crash(name)

    monkeypatch.setattr(obj, name, wrapper)


CRASHES = {
    # after the first reservation, before the batch records it: a gap in the counter
    "after_first_reservation": ("series", "reserve", 1, True, None),
    # after the second reservation (the top-up for skipped numbers)
    "after_second_reservation": ("series", "reserve", 2, True, None),
    # after a chunk's instruments are written, before the checkpoint: rewritten on resume
    "after_put_before_checkpoint": ("series", "put_instruments", 2, True, None),
    # the checkpoint itself lost
    "checkpoint_lost": ("series", "save_batch", 3, False, None),
    # all issued, the export not written
    "before_export": ("exports", "put_bytes", 1, False, None),
    # the export written, the completion not saved
    "before_completion_saved": (
        "series",
        "save_batch",
        1,
        False,
        lambda group, batch, previous: batch.status == "completed",
    ),
}


@pytest.mark.parametrize("crash", list(CRASHES))
def test_a_crashed_run_resumes_to_the_same_count_without_duplicates(world, monkeypatch, crash):
    world.create("B-CRASH", 240)
    store, method, call_no, after, when = CRASHES[crash]
    with monkeypatch.context() as patched:
        crash_on(
            getattr(instrument_services(), store), method, patched, call_no=call_no, after=after, when=when
        )
        with pytest.raises(Crash):
            run("B-CRASH")
    assert world.batch("B-CRASH")["status"] == "pending"

    done = run("B-CRASH")
    assert done.status == "completed"
    world.check_issued("B-CRASH", 240)
    if crash.startswith("after_") and crash.endswith("reservation"):
        assert counter() > done.reserved  # the lost reservation is a gap, never reused
    else:
        assert counter() == done.reserved


def test_a_crash_on_resume_too_still_ends_with_the_count(world, monkeypatch):
    world.create("B-TWICE", 200)
    services = instrument_services()
    for call_no in (2, 1):  # the second chunk's checkpoint, then the first of the resumed run
        with monkeypatch.context() as patched:
            crash_on(services.series, "put_instruments", patched, call_no=call_no, after=True)
            with pytest.raises(Crash):
                run("B-TWICE")
    run("B-TWICE")
    world.check_issued("B-TWICE", 200)


# --- two workers on one batch (a message delivered twice, an API replay during the run) ----------


def test_a_second_worker_during_the_first_ones_reservation(world, monkeypatch):
    """B runs the whole batch while A sits between its reservation and its checkpoint: A's
    checkpoint fails, A reads the batch again, finds it complete and stops."""
    world.create("B-TWO", 150)
    services = instrument_services()
    real = services.series.reserve
    calls: list[int] = []

    def reserve(*args: Any) -> tuple[int, int]:
        reserved = real(*args)
        calls.append(1)
        if len(calls) == 1:  # A's first reservation: B runs now, with the real store
            monkeypatch.setattr(services.series, "reserve", real)
            assert run("B-TWO").status == "completed"
        return reserved

    monkeypatch.setattr(services.series, "reserve", reserve)
    a = run("B-TWO")
    assert a.status == "completed"
    world.check_issued("B-TWO", 150)
    assert counter() > a.reserved  # A's reservation is a gap


def test_a_stale_worker_rewrites_only_the_batch_numbers(world, monkeypatch):
    """A stops before writing a chunk; B runs the whole batch; A then writes its (stale) chunk and
    fails its checkpoint: the same numbers, nothing more."""
    world.create("B-STALE", 150)
    services = instrument_services()
    real = services.series.put_instruments
    calls: list[int] = []

    def put_instruments(items: list[dict[str, Any]]) -> int:
        calls.append(1)
        if len(calls) == 2:  # A's second chunk
            monkeypatch.setattr(services.series, "put_instruments", real)
            assert run("B-STALE").status == "completed"
        return real(items)

    monkeypatch.setattr(services.series, "put_instruments", put_instruments)
    assert run("B-STALE").status == "completed"
    world.check_issued("B-STALE", 150)


def test_a_stale_worker_never_undoes_a_sale(world, monkeypatch):
    world.create("B-SOLD", 100)
    services = instrument_services()
    real = services.series.put_instruments
    sold: list[str] = []

    def put_instruments(items: list[dict[str, Any]]) -> int:
        if not sold:  # A is about to write its first chunk: B completes, a card is sold
            monkeypatch.setattr(services.series, "put_instruments", real)
            assert run("B-SOLD").status == "completed"
            sold.append(items[0]["number"])
            ok(sell(sold[0], "25.00", "SALE-STALE"))
        return real(items)

    monkeypatch.setattr(services.series, "put_instruments", put_instruments)
    run("B-SOLD")
    (number,) = sold
    view = ok(call("api_lookup_instrument", POS, path={"number": number}), 200)
    assert (view["status"], view["balance"]) == ("active", "25.00")
