"""The engine's own retry loops, with exponential backoff and full jitter.

botocore's `standard` retry mode already retries a failed request. These loops retry what it
cannot see: items DynamoDB left unprocessed in a batch (throttling), and an optimistic write
that lost a race (read again, decide again). Full jitter (a random wait between zero and the
exponential bound, as AWS's architecture blog recommends) keeps racing writers from retrying
in lockstep.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base_s: float  # the bound before the first retry; it doubles with every retry
    cap_s: float  # the bound never grows past this

    def delay(self, retry: int) -> float:
        """A random wait before retry number `retry` (1 for the first retry)."""
        return random.uniform(0, min(self.cap_s, self.base_s * 2 ** (retry - 1)))


# A lost optimistic race on one item: the winner is done in milliseconds, so retry soon.
RACE = Backoff(base_s=0.002, cap_s=0.05)
# DynamoDB left part of a batch unprocessed: it is throttling, so leave it more room.
BUSY = Backoff(base_s=0.05, cap_s=1.0)


def attempts(count: int, backoff: Backoff) -> Iterator[int]:
    """Attempt numbers 0..count-1, waiting before every attempt but the first. A loop that
    runs out of attempts falls through to its `else` (or the code after it)."""
    for attempt in range(count):
        if attempt:
            time.sleep(backoff.delay(attempt))
        yield attempt
