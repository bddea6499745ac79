"""Independent I/O-bound tasks run by a few threads at once (a container-wide pool).

DynamoDB calls spend most of their time waiting for the answer: a Lambda function that has
a page of independent writes to make gains their latency by making several at once. Only for
tasks that touch different items (one member each, say), each safe on its own (conditioned,
idempotent); results come back in the items' order, and the first exception of a task is
raised once every task has ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_pools: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def _pool(threads: int) -> ThreadPoolExecutor:
    with _lock:
        if threads not in _pools:
            _pools[threads] = ThreadPoolExecutor(
                max_workers=threads, thread_name_prefix=f"parallel-{threads}"
            )
        return _pools[threads]


def in_parallel(work: Callable[[T], R], items: Iterable[T], threads: int) -> list[R]:
    """`[work(item) for item in items]`, by up to `threads` threads at once (1: here, in order)."""
    items = list(items)
    if threads <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    futures = [_pool(threads).submit(work, item) for item in items]
    wait(futures)  # every task ends before an exception is raised: none runs on unseen
    return [future.result() for future in futures]
