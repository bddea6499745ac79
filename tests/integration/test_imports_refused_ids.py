"""An earnreward line refused for stock writes nothing, so its `attribution_id` stays free: a later
line of the same file with that id is judged on its own (the stock left), in the same chunk as in
a later one; an id that a served line took is still `duplicate_attribution`."""

from __future__ import annotations

import pytest

from loyalty_engine.imports.context import import_services
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_crash import HEADERS, crash_once, fresh_world, run, upload_all
from tests.support.import_files import (
    EARN,
    MASTER,
    VALID,
    attributions,
    catalog,
    earn,
    get_reward,
    no_failures,
    reward,
)
from tests.support.import_state import snapshot
from tests.support.import_world import PROGRAM
from tests.support.imports import ImportContext, deliver, notification, report, skipped_codes, upload


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


@pytest.mark.parametrize("chunk_lines", [1, 2, 4_999])
def test_a_line_refused_for_stock_leaves_its_attribution_id_free(world, monkeypatch, chunk_lines):
    """2 units: line 2 asks 3 (refused, writes nothing); line 3 retries its id asking 1 (served);
    line 4 repeats the id line 3 took (duplicate); line 5 asks 2 with a new id: 1 unit left,
    refused; line 6 retries line 5's id asking 1: served. Wherever chunks begin."""
    monkeypatch.setattr(import_services(), "chunk_lines", chunk_lines)
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("few", stock=2)))
    rows = (
        f"few;CC0001;A-1;3;;{VALID}",  # 2: out_of_stock (2 left, asks 3)
        f"few;CC0001;A-1;1;;{VALID}",  # 3: served, takes A-1
        f"few;CC0001;A-1;1;;{VALID}",  # 4: duplicate_attribution (line 3 took A-1)
        f"few;CC0001;A-2;2;;{VALID}",  # 5: out_of_stock (1 left, asks 2)
        f"few;CC0001;A-2;1;;{VALID}",  # 6: served
    )
    no_failures(deliver(upload(world.s3, EARN, earn(*rows))))
    summary, skipped = report(world.s3, EARN)
    assert skipped_codes(skipped) == {2: "out_of_stock", 4: "duplicate_attribution", 5: "out_of_stock"}
    assert (summary["lines_read"], summary["applied"], summary["skipped"]) == (5, 2, 3)
    owned = {a["attribution_id"]: a["quantity"] for a in attributions("CC0001")}
    assert owned == {"A-1": 1, "A-2": 1}
    few = get_reward("few")
    assert (few["attributed"], few["remaining"]) == (2, 0)
    assert all(set(stock) == {"pk", "sk", "type", "taken"} for stock in snapshot()["stock"].values())


def test_an_id_refused_for_stock_is_free_for_a_later_line_of_another_reward(world):
    """The refused line of reward `few` holds nothing: a later line giving its id to `plenty`
    is served; a line repeating an id `plenty` served is a duplicate even for another reward."""
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("few", stock=1), reward("plenty", stock=10)))
    rows = (
        f"few;CC0001;B-1;2;;{VALID}",  # 2: out_of_stock
        f"plenty;CC0001;B-1;1;;{VALID}",  # 3: served
        f"plenty;CC0001;B-2;1;;{VALID}",  # 4: served
        f"few;CC0001;B-2;1;;{VALID}",  # 5: duplicate_attribution (line 4 took B-2)
        f"few;CC0001;B-3;1;;{VALID}",  # 6: served (the unit line 5 did not take)
    )
    no_failures(deliver(upload(world.s3, EARN, earn(*rows))))
    summary, skipped = report(world.s3, EARN)
    assert skipped_codes(skipped) == {2: "out_of_stock", 5: "duplicate_attribution"}
    assert (summary["applied"], summary["skipped"]) == (3, 2)
    owned = {a["attribution_id"]: a["reward_id"] for a in attributions("CC0001")}
    assert owned == {"B-1": "plenty", "B-2": "plenty", "B-3": "few"}
    assert (get_reward("few")["attributed"], get_reward("plenty")["attributed"]) == (1, 2)


def test_a_replayed_chunk_judges_lines_sharing_an_id_as_its_first_attempt_did():
    """A crash after the chunk's writes, before its checkpoint: the replay finds line 3's
    attribution (id B-1, refused to line 2 for stock) and reports every line as the first attempt
    would have, with each reward's units taken once."""
    files = [
        (
            f"demo_masterreward_{PROGRAM}_20180801.csv",
            HEADERS["masterreward"] + "\nfew;A;0;10;0;1;month;0;1;1;0\nplenty;B;0;10;0;1;month;0;1;10;0\n",
        ),
        (
            f"demo_earnreward_{PROGRAM}_20180801.csv",
            HEADERS["earnreward"]
            + "\n"
            + "".join(
                f"{reward};CC0001;{attribution};{quantity};;{VALID};\n"
                for reward, attribution, quantity in (
                    ("few", "B-1", 2),  # 2: out_of_stock
                    ("plenty", "B-1", 1),  # 3: served
                    ("plenty", "B-2", 1),  # 4: served
                    ("few", "B-2", 1),  # 5: duplicate_attribution
                    ("few", "B-3", 1),  # 6: served
                )
            ),
        ),
    ]
    with fresh_world(10) as world:
        keys = upload_all(world, files)
        undo = crash_once(("rewards", "put_items"), 2, "after")  # the earn chunk's writes
        assert len(run([notification(keys[1])], ImportContext())) == 1
        undo()
        assert run([notification(keys[1])], ImportContext()) == []
        state = snapshot()
        job = state["jobs"][files[1][0]]
        assert job["skipped_lines"] == {2: "out_of_stock", 5: "duplicate_attribution"}
        assert (job["progress"]["applied"], job["progress"]["skipped"]) == (3, 2)
        assert {a["attribution_id"]: a["reward_id"] for a in state["attributions"].values()} == {
            "B-1": "plenty",
            "B-2": "plenty",
            "B-3": "few",
        }
        assert (state["stock"]["STOCK#few"]["taken"], state["stock"]["STOCK#plenty"]["taken"]) == (1, 2)
