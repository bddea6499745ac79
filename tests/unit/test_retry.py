"""The backoff helper: no wait before the first attempt, then random waits under a doubling bound."""

from __future__ import annotations

import pytest

from loyalty_engine.kernel import retry
from loyalty_engine.kernel.retry import Backoff, attempts


def test_attempts_wait_before_every_retry_under_a_doubling_capped_bound(monkeypatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(retry.time, "sleep", waits.append)
    backoff = Backoff(base_s=0.01, cap_s=0.05)
    assert list(attempts(6, backoff)) == [0, 1, 2, 3, 4, 5]
    assert len(waits) == 5  # none before the first attempt
    bounds = [0.01, 0.02, 0.04, 0.05, 0.05]
    assert all(0 <= wait <= bound for wait, bound in zip(waits, bounds, strict=True))


def test_waits_are_jittered_not_fixed() -> None:
    delays = {Backoff(base_s=1.0, cap_s=1.0).delay(3) for _ in range(50)}
    assert len(delays) > 40  # full jitter: retries of racing writers do not line up
    assert all(0 <= d <= 1.0 for d in delays)


@pytest.mark.parametrize("backoff", [retry.RACE, retry.BUSY])
def test_the_named_backoffs_stay_short(backoff: Backoff) -> None:
    assert max(backoff.delay(n) for n in range(1, 30)) <= backoff.cap_s <= 1.0
