"""Crashes anywhere in an import, then redeliveries, end exactly like one clean run.

Hypothesis draws a few reward files (catalog, grants, burns; with invalid lines and
repeated ids), a chunk size, and where the import function dies: before a chosen chunk,
or just before or just after a chosen write (DynamoDB, S3, SQS), possibly several times,
possibly with the Lambda running out of time as well. The failed messages are delivered
again (as SQS would) and continuations are run until nothing is left; the final state
(catalog, stock counters, attributions with their codes and burns, jobs with their counts
and skipped lines, reports, processed files) must equal that of one clean run of the same
files in a fresh world. Delivering the finished files again must change nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from loyalty_engine.imports.context import import_services
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_crash import (
    CARDS,
    HEADERS,
    VALID,
    Clock,
    Crash,
    Plan,
    crashing,
    deliver_until_done,
    file_sets,
    final_state,
    fresh_world,
    plans,
    run,
    upload_all,
)
from tests.support.import_state import bucket_keys, queued_messages, snapshot
from tests.support.import_world import PROGRAM
from tests.support.imports import ImportContext, notification


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(st.data(), file_sets(), st.integers(3, 10))
def test_crashes_and_redeliveries_end_like_one_clean_run(data, files, chunk_lines):
    with fresh_world(chunk_lines) as world:
        keys = upload_all(world, files)
        with crashing(Plan()) as calls:
            assert run([notification(key) for key in keys], Clock(set())) == []
        questions = Clock.asked
        assert queued_messages(world.sqs) == []
        clean = final_state(world)

    plan = data.draw(plans(len(files), calls["writes"], calls["chunks"], questions))
    note(f"files: {files!r}")

    with fresh_world(chunk_lines) as world:
        keys = upload_all(world, files)
        with crashing(plan) as counters:
            rounds = deliver_until_done(world, keys, plan)
        event(f"crashes: {counters['crashes']}")
        event(f"delivery rounds: {min(rounds, 4)}")
        crashed = final_state(world)
        assert crashed["table"] == clean["table"]
        assert crashed["objects"] == clean["objects"]
        jobs = crashed["table"]["jobs"]
        assert sorted(jobs) == sorted(name for name, _ in files)
        assert all(job["state"] in ("completed", "rejected") for job in jobs.values())
        for job in jobs.values():
            progress = job["progress"]
            assert progress["lines_read"] == progress["applied"] + progress["skipped"] + progress["unchanged"]
            assert progress["skipped"] == len(job["skipped_lines"])

        # the same files (same keys, same contents: the same objects) delivered again: nothing changes
        keys = upload_all(world, files)
        assert run([notification(key) for key in keys], ImportContext()) == []
        assert queued_messages(world.sqs) == []
        assert final_state(world) == crashed


def test_a_crash_at_writes_across_the_run():
    """Deterministic sweep: one file set, a crash before or after writes spread over the whole run."""
    files = [
        (
            f"demo_masterreward_{PROGRAM}_20180801.csv",
            "\n".join(
                (
                    HEADERS["masterreward"],
                    "r1;A;0;10;0;1;month;0;1;4;0",
                    "r2;Auto;0;10;0;1;day;0;0;;1",
                    "x;;0;1",
                )
            )
            + "\n",
        ),
        (
            f"demo_earnreward_{PROGRAM}_20180801.csv",
            "\n".join(
                (
                    HEADERS["earnreward"],
                    f"r1;CC0001;A1;2;;{VALID};",
                    f"r2;CC0002;;1;;{VALID};",
                    f"r1;CC0003;A2;1;;{VALID};2018-08-01 08:00:00",
                    f"r1;CC0001;A1;1;;{VALID};",
                    f"r1;CC0002;A3;2;;{VALID};",
                )
            )
            + "\n",
        ),
        (
            f"demo_burnreward_{PROGRAM}_20180801.csv",
            "\n".join((HEADERS["burnreward"], "CC0001;A1;;a", "CC0001;A1;;b", "CC0001;A1;;c", "CC0003;A2;;d"))
            + "\n",
        ),
    ]
    with fresh_world(3) as world:
        keys = upload_all(world, files)
        with crashing(Plan()) as counters:
            assert run([notification(key) for key in keys], ImportContext()) == []
        clean = final_state(world)
        total = counters["writes"]
    assert total > 20
    for index, number in enumerate([*[1, *range(total // 6, total, total // 6)][:6], total]):
        plan = Plan(writes={number: ("before", "after")[index % 2]}, order=[2, 1, 0], one_batch=False)
        with fresh_world(3) as world:
            keys = upload_all(world, files)
            with crashing(plan) as counters:
                deliver_until_done(world, keys, plan)
            assert counters["crashes"] == 1
            assert final_state(world) == clean, plan


def test_a_crash_while_loading_and_handing_out_codes():
    """Loaded codes (a rewardcode file, then grants taking them): a crash before or after any
    write ends like one clean run: every code once, in load order, the same report."""
    catalog = HEADERS["masterreward"] + ";codes\nv;Voucher;0;0;0;1;month;0;0;;0;loaded\n"
    codes = "external_id;code\n" + "".join(f"v;K-{n}\n" for n in (1, 2, 3, 2, 4, 5, 6, 7))
    earn = "\n".join(
        (
            HEADERS["earnreward"],
            *(f"v;{CARDS[n % 3]};E{n};{1 + n % 2};;{VALID};" for n in range(6)),
        )
    )
    files = [
        (f"demo_masterreward_{PROGRAM}_20180801.csv", catalog),
        (f"demo_rewardcode_{PROGRAM}_20180801.csv", codes),
        (f"demo_earnreward_{PROGRAM}_20180801.csv", earn + "\n"),
    ]
    with fresh_world(3) as world:
        keys = upload_all(world, files)
        with crashing(Plan()) as counters:
            assert run([notification(key) for key in keys], ImportContext()) == []
        clean = final_state(world)
        total = counters["writes"]
    handed = sorted(c for a in clean["table"]["attributions"].values() for c in a["codes"])
    assert handed == [f"K-{n}" for n in range(1, 8)]  # 7 codes, 9 units asked: the rest exhausted
    for number in range(1, total + 1, max(1, total // 8)):
        for when in ("before", "after"):
            plan = Plan(writes={number: when}, order=[2, 1, 0], one_batch=False)
            with fresh_world(3) as world:
                keys = upload_all(world, files)
                with crashing(plan) as counters:
                    deliver_until_done(world, keys, plan)
                assert counters["crashes"] == 1
                assert final_state(world) == clean, plan


def test_a_drain_killed_while_holding_the_lock_does_not_strand_the_files(monkeypatch):
    """A Lambda killed mid-drain (timeout, out of memory) never runs its `finally`: the lock stays
    for its lease. SQS delivers the killed batch again after the queue's visibility timeout, which
    is longer than the lease: that delivery takes the lock over and drains the files."""
    from loyalty_engine.imports.drain import LOCK_LEASE_S
    from loyalty_engine.wiring import IMPORT_QUEUE

    assert IMPORT_QUEUE.visibility_timeout_s > LOCK_LEASE_S
    import time as real_time
    from types import SimpleNamespace

    now = {"s": real_time.time()}
    fake_time = SimpleNamespace(time=lambda: now["s"], time_ns=real_time.time_ns)
    monkeypatch.setattr("loyalty_engine.imports.drain.time", fake_time)
    files = [
        (
            f"demo_masterreward_{PROGRAM}_20180801.csv",
            HEADERS["masterreward"] + "\nr1;A;0;10;0;1;month;0;1;4;0\n",
        ),
        (f"demo_earnreward_{PROGRAM}_20180801.csv", HEADERS["earnreward"] + f"\nr1;CC0001;A1;1;;{VALID};\n"),
    ]
    with fresh_world(5) as world:
        keys = upload_all(world, files)
        svc = import_services()
        acquire = svc.jobs.acquire_lock

        def killed_after_taking_the_lock(*args: Any) -> bool:
            acquire(*args)
            svc.jobs.acquire_lock = acquire  # once
            raise Crash("killed while draining")

        svc.jobs.acquire_lock = killed_after_taking_the_lock
        sent: list[dict[str, Any]] = []  # continuations, whatever their delay
        assert svc.queue is not None
        monkeypatch.setattr(svc.queue, "send", lambda body, delay_s=0: sent.append(body))
        pending = run([notification(keys[1])], ImportContext())
        assert len(pending) == 1
        # SQS delivers the failed message again once its visibility timeout has passed
        for _ in range(3):
            now["s"] += IMPORT_QUEUE.visibility_timeout_s
            pending = run(pending, ImportContext())
            pending += sent
            sent.clear()
            if not pending:
                break
        assert bucket_keys(world.s3, "incoming/") == []
        jobs = snapshot()["jobs"]
        assert {job["state"] for job in jobs.values()} == {"completed"}
