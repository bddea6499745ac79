"""`kernel.parallel.in_parallel`: tasks really overlap, results keep the items' order, and a
task's exception is raised only once every task has ended."""

from __future__ import annotations

import threading
import time

import pytest

from loyalty_engine.kernel.parallel import in_parallel


def test_the_tasks_run_at_the_same_time():
    barrier = threading.Barrier(4, timeout=5)  # broken unless four tasks wait at once

    def task(n: int) -> int:
        barrier.wait()
        return n * n

    assert in_parallel(task, range(4), threads=4) == [0, 1, 4, 9]


def test_results_come_back_in_the_items_order_whatever_ends_first():
    def task(n: int) -> int:
        time.sleep(0.01 * (5 - n))  # the last item ends first
        return n

    assert in_parallel(task, range(6), threads=3) == list(range(6))


def test_an_exception_is_raised_after_every_task_has_ended():
    ended: list[int] = []

    def task(n: int) -> int:
        if n == 0:
            raise ValueError("refused")
        time.sleep(0.05)
        ended.append(n)
        return n

    with pytest.raises(ValueError, match="refused"):
        in_parallel(task, range(5), threads=5)
    assert sorted(ended) == [1, 2, 3, 4]


def test_one_thread_runs_the_tasks_here_in_order():
    seen: list[tuple[int, str]] = []

    def task(n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n

    assert in_parallel(task, range(3), threads=1) == [0, 1, 2]
    assert seen == [(n, threading.current_thread().name) for n in range(3)]
