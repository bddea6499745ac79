"""Crashes around a chunk's stock reservations (limited and unlimited rewards): a replayed chunk
takes its units once."""

from __future__ import annotations

import pytest

from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_crash import HEADERS, VALID, crash_once, fresh_world, run, upload_all
from tests.support.import_state import snapshot
from tests.support.import_world import PROGRAM
from tests.support.imports import ImportContext, notification


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


def limited_grants(lines: int) -> list[tuple[str, str]]:
    return [
        (
            f"demo_masterreward_{PROGRAM}_20180801.csv",
            HEADERS["masterreward"] + "\nr1;A;0;10;0;1;month;0;1;10;0\n",
        ),
        (
            f"demo_earnreward_{PROGRAM}_20180801.csv",
            HEADERS["earnreward"] + "\n" + "".join(f"r1;CC0001;A{n};1;;{VALID};\n" for n in range(lines)),
        ),
    ]


def test_a_crash_after_releasing_the_reservations_takes_the_units_again():
    files = limited_grants(6)
    with fresh_world(10) as world:
        keys = upload_all(world, files)
        undo = crash_once(("objects", "put_stream"), 2, "before")  # the earn file's report
        assert len(run([notification(keys[1])], ImportContext())) == 1
        undo()
        assert run([notification(keys[1])], ImportContext()) == []
        state = snapshot()
        assert len(state["attributions"]) == 6
        assert state["stock"]["STOCK#r1"]["taken"] == 6


def test_a_crash_between_a_reservation_and_the_checkpoint_replays_the_chunk():
    files = limited_grants(6)
    with fresh_world(2) as world:
        keys = upload_all(world, files)
        undo = crash_once(("rewards", "reserve"), 2, "after")  # the second chunk's reservation
        assert len(run([notification(keys[1])], ImportContext())) == 1
        undo()
        assert run([notification(keys[1])], ImportContext()) == []
        state = snapshot()
        job = state["jobs"][files[1][0]]
        assert len(state["attributions"]) == 6
        assert job["skipped_lines"] == {}
        assert (job["progress"]["applied"], job["progress"]["skipped"]) == (6, 0)


def test_a_replayed_chunk_counts_an_unlimited_reward_once():
    """An unlimited reward's units are counted by a reservation too: a chunk replayed after a
    crash gets its first count back instead of counting its units again."""
    files = [
        (
            f"demo_masterreward_{PROGRAM}_20180801.csv",
            HEADERS["masterreward"] + "\nr1;Auto;0;10;0;1;day;0;0;;1\n",
        ),
        (
            f"demo_earnreward_{PROGRAM}_20180801.csv",
            HEADERS["earnreward"] + "\n" + "".join(f"r1;CC0001;;{1 + n % 2};;{VALID};\n" for n in range(6)),
        ),
    ]
    with fresh_world(2) as world:
        keys = upload_all(world, files)
        undo = crash_once(("rewards", "reserve"), 2, "after")  # the second chunk's count
        assert len(run([notification(keys[1])], ImportContext())) == 1
        undo()
        assert run([notification(keys[1])], ImportContext()) == []
        state = snapshot()
        job = state["jobs"][files[1][0]]
        assert (job["progress"]["applied"], job["progress"]["skipped"]) == (6, 0)
        assert sum(a["quantity"] for a in state["attributions"].values()) == 9
        assert state["stock"]["STOCK#r1"]["taken"] == 9
