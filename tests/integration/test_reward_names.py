"""A master reward's name is display text: spaces before or after it (a spreadsheet's padded cell,
a form's stray space) are not part of it, whether it comes from a masterreward file or from
`PUT /v1/rewards/{external_id}`; a name of spaces only is no name."""

from __future__ import annotations

import pytest

from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_files import MASTER, catalog, get_reward, reward
from tests.support.imports import deliver, report, skipped_codes, upload
from tests.support.rewards import put_reward


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


def test_a_padded_name_in_a_masterreward_file_is_stored_trimmed(world):
    content = catalog(
        reward("gift", name="  Gift "), reward("nbsp", name="\u00a0Box\u00a0"), reward("blank", "   ")
    )
    assert deliver(upload(world.s3, MASTER, content)) == {"batchItemFailures": []}
    summary, skipped = report(world.s3, MASTER)
    assert (summary["applied"], skipped_codes(skipped)) == (2, {4: "missing_value"})
    assert (get_reward("gift")["name"], get_reward("nbsp")["name"]) == ("Gift", "Box")


def test_a_padded_name_of_128_characters_fits(world):
    """The 128-character cap counts the name, not the spaces around it."""
    name = "N" * 128
    assert deliver(upload(world.s3, MASTER, catalog(reward("long", name=f"  {name}  ")))) == {
        "batchItemFailures": []
    }
    assert skipped_codes(report(world.s3, MASTER)[1]) == {}
    assert get_reward("long")["name"] == name


def test_the_api_stores_a_padded_name_trimmed_as_a_file_does(world):
    created = put_reward(name="  Gift ")
    assert created.status == 201, created.body
    assert created.body["name"] == "Gift"
    assert get_reward("coffee")["name"] == "Gift"
    blank = put_reward(name="   ")
    assert blank.status == 422, blank.body
    assert get_reward("coffee")["name"] == "Gift"
