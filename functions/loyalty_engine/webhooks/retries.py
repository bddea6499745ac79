"""When a failed delivery is tried again: exponential backoff with full jitter, for at least
`window_s` (24 h by default) after the first attempt, then given up (the dead-letter queue, the
subscription marked failing).

SQS delays a message 900 s at most (`DelaySeconds`): a longer wait is made of hops, the message
carrying the instant it is due (`due_at`) and being sent again, unattempted, until then.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SQS_MAX_DELAY_S = 900


@dataclass(frozen=True)
class RetrySchedule:
    base_s: float = 30.0  # the bound of the first wait; it doubles with every retry
    cap_s: float = 3600.0  # no wait is longer than this
    window_s: float = 24 * 3600.0  # retries go on at least this long after the first attempt

    def wait(self, attempt: int, rng: random.Random | None = None) -> float:
        """A random wait after failed attempt number `attempt` (1 for the first)."""
        bound = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        return (rng or random).uniform(0, bound)

    def next_due(
        self, first_at: float, failed_at: float, attempt: int, rng: random.Random | None = None
    ) -> float | None:
        """When to try again after a failed attempt (unix seconds), or None: give up.

        Retries go on while the window since the first attempt is not over; the last retry may
        fall after the window's end, so that it is always covered whole."""
        if failed_at - first_at >= self.window_s:
            return None
        return failed_at + self.wait(attempt, rng)


def hop_delay(due_at: float, now: float) -> int:
    """The `DelaySeconds` of the next hop towards `due_at` (0: due now)."""
    return max(0, min(SQS_MAX_DELAY_S, int(due_at - now + 0.999)))
