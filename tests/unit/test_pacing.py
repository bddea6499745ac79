"""The write pacer: units spent no faster than the rate over the run, whatever the request sizes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty_engine.kernel import pacing
from loyalty_engine.kernel.pacing import WritePacer, item_bytes, write_units


class Time:
    def __init__(self) -> None:
        self.now = 100.0

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch) -> Time:
    clock = Time()
    monkeypatch.setattr(pacing, "now", lambda: clock.now)
    return clock


def test_units_are_spent_at_the_rate(fake_time):
    pacer = WritePacer(100, sleep=fake_time.sleep)
    for _ in range(8):
        pacer.spend(25)  # a full BatchWriteItem of small items
    # the 8th request waits until the first 7 (175 units) fit in 1.75 s
    assert fake_time.now == pytest.approx(101.75)
    assert pacer.spent == 200 and pacer.slept_s == pytest.approx(1.75)


def test_time_spent_elsewhere_counts_and_nothing_waits_below_the_rate(fake_time):
    pacer = WritePacer(100, sleep=fake_time.sleep)
    pacer.spend(25)
    fake_time.now += 1.0  # the writer was slower than the rate by itself
    pacer.spend(25)
    pacer.spend(25)
    assert pacer.slept_s == 0
    pacer.spend(0)  # a request without catalog items costs nothing
    assert pacer.spent == 75


@given(
    rate=st.integers(min_value=1, max_value=2_000),
    requests=st.lists(
        st.tuples(st.integers(min_value=0, max_value=50), st.floats(min_value=0, max_value=0.2)),
        min_size=1,
        max_size=60,
    ),
)
def test_over_any_run_the_units_before_the_last_request_fit_the_rate(rate, requests):
    clock = Time()
    pacing_now, pacing.now = pacing.now, (lambda: clock.now)
    try:
        pacer = WritePacer(rate, sleep=clock.sleep)
        started = None
        for units, work_s in requests:
            before = pacer.spent
            pacer.spend(units)
            if units and started is None:
                started = clock.now
            if started is not None and before and units:  # a request with units waited for the ones before
                assert before / rate <= clock.now - started + 1e-9
            clock.now += work_s
    finally:
        pacing.now = pacing_now


def test_write_units_count_started_kilobytes():
    small = {"pk": "G#demo#REWARDS", "sk": "R#r1", "name": "A reward"}
    assert item_bytes(small) == len("pkG#demo#REWARDSskR#r1nameA reward")
    big = {**small, "description": "x" * 1500}
    assert write_units([small, small, big]) == 1 + 1 + 2


def test_a_rate_must_be_positive():
    with pytest.raises(ValueError):
        WritePacer(0)
