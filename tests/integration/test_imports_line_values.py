"""Values a partner's line may hold that the models refuse (control characters in ids, texts
too large for one item) and names off the schema: the line is skipped, or the file rejected,
with a report; never a failed delivery that blocks the group's files. Through the importer on
moto, as a partner's upload arrives."""

from __future__ import annotations

import pytest

from loyalty_engine.rewards.models import TEXT_BYTES_MAX
from tests.integration.conftest import SHOP
from tests.support.api import call
from tests.support.import_files import (
    CATALOG_COLUMNS,
    EARN,
    MASTER,
    VALID,
    attributions,
    catalog,
    earn,
    get_reward,
    lines,
    reward,
)
from tests.support.import_world import PROGRAM
from tests.support.imports import deliver, report, skipped_codes, upload

DAY2 = f"demo_masterreward_{PROGRAM}_20180802.csv"
CUSTOMS = [f"c{i}" for i in range(32)]
WIDE_COLUMNS = CATALOG_COLUMNS + ";description;rich_description;" + ";".join(CUSTOMS)
SMILE = "\U0001f600"  # 4 bytes in UTF-8


def rewards_listed() -> list[str]:
    return [r["external_id"] for r in call("api_list_rewards", SHOP, query={}).body["rewards"]]


@pytest.mark.parametrize("external_id", ["a\tb", "a\x7fb", "a\u0085b"])
def test_a_control_character_in_an_external_id_skips_the_line_only(world, external_id):
    assert deliver(upload(world.s3, MASTER, catalog(reward("fine"), reward(external_id)))) == {
        "batchItemFailures": []
    }
    summary, skipped = report(world.s3, MASTER)
    assert (summary["state"], summary["applied"], summary["skipped"]) == ("completed", 1, 1), summary
    assert skipped_codes(skipped) == {3: "invalid_value"}
    assert rewards_listed() == ["fine"]


def test_a_control_character_in_an_attribution_id_skips_the_line_only(world):
    world.enrol("CC0001")
    deliver(upload(world.s3, MASTER, catalog(reward("r"))))
    rows = (f"r;CC0001;A-1;1;;{VALID}", f"r;CC0001;A\x1b2;1;;{VALID}")
    assert deliver(upload(world.s3, EARN, earn(*rows))) == {"batchItemFailures": []}
    summary, skipped = report(world.s3, EARN)
    assert (summary["state"], summary["applied"]) == ("completed", 1), summary
    assert skipped_codes(skipped) == {3: "invalid_value"}
    assert [a["attribution_id"] for a in attributions("CC0001")] == ["A-1"]


def wide_row(external_id: str, name: str, char: str, description: int) -> str:
    """A catalog line with both descriptions `description` characters long and every custom
    column at its 1,024 characters, all of `char`."""
    texts = [char * description, char * description] + [char * 1024 for _ in CUSTOMS]
    return reward(external_id, name) + ";" + ";".join(texts)


def test_a_reward_too_large_in_utf8_is_skipped_and_one_within_is_created_and_updated(world):
    """In 4-byte characters the character limits allow ~270 KB of text; kept twice while a file
    updates it, such a reward would pass DynamoDB's 400 KB item size."""
    at_limits = wide_row("huge", "Reward", SMILE, 16_384)
    near_budget = wide_row("big", "Reward", SMILE, (TEXT_BYTES_MAX // 4 - 32 * 1024 - 200) // 2)
    assert deliver(upload(world.s3, MASTER, lines(WIDE_COLUMNS, at_limits, near_budget))) == {
        "batchItemFailures": []
    }
    summary, skipped = report(world.s3, MASTER)
    assert (summary["state"], summary["applied"]) == ("completed", 1), summary
    assert skipped_codes(skipped) == {2: "reward_too_large"}
    # the day after: a new name over the same texts, with the state before the chunk kept too
    renamed = near_budget.replace(";Reward;", ";Renamed;", 1)
    assert deliver(upload(world.s3, DAY2, lines(WIDE_COLUMNS, renamed))) == {"batchItemFailures": []}
    summary, _ = report(world.s3, DAY2)
    assert (summary["state"], summary["applied"], summary["skipped"]) == ("completed", 1, 0), summary
    assert get_reward("big")["name"] == "Renamed"


def test_a_reward_whose_escaped_text_is_too_large_is_skipped(world):
    """Control characters take 6 bytes each in the JSON of the state kept before the chunk."""
    row = reward("ctl") + ";" + ";".join(["\x01" * 16_000, "\x01" * 16_000] + ["" for _ in CUSTOMS])
    fine = reward("fine") + ";" * (2 + len(CUSTOMS))  # no description, no custom value
    assert deliver(upload(world.s3, MASTER, lines(WIDE_COLUMNS, row, fine))) == {"batchItemFailures": []}
    summary, skipped = report(world.s3, MASTER)
    assert (summary["state"], summary["applied"]) == ("completed", 1), summary
    assert skipped_codes(skipped) == {2: "reward_too_large"}
    assert rewards_listed() == ["fine"]


@pytest.mark.parametrize(
    "name",
    [
        f"demo_MASTERREWARD_{PROGRAM}_20180801.csv",
        f"demo_Masterreward_{PROGRAM}_20180801.csv",
        f"demo_masterreward_{PROGRAM}_20180801.CSV",
    ],
)
def test_a_name_off_the_schemas_case_is_rejected_with_a_report(world, name):
    assert deliver(upload(world.s3, name, catalog(reward("r")))) == {"batchItemFailures": []}
    summary, _ = report(world.s3, name)
    assert summary["state"] == "rejected", summary
    assert summary["rejection"]["code"] == "invalid_file_name"
    assert rewards_listed() == []


def test_a_comma_file_with_blank_lines_before_its_header_applies(world):
    """Blank lines are skipped wherever they are: the header after them says the separator."""
    content = "\r\n\r\n" + catalog(reward("r")).replace(";", ",").replace("\n", "\r\n")
    assert deliver(upload(world.s3, MASTER, content)) == {"batchItemFailures": []}
    summary, _ = report(world.s3, MASTER)
    assert (summary["state"], summary["applied"], summary["skipped"]) == ("completed", 1, 0), summary
    assert rewards_listed() == ["r"]
