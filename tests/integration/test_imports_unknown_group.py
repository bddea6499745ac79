"""An upload naming a loyalty group that does not exist writes nothing anywhere: no job item,
no report, no move (not in its own key space, which does not exist, nor in another group's).
It is logged and counted (ImportFilesUnknownGroup); the real group's files still import."""

from __future__ import annotations

import pytest

from loyalty_engine.handlers import imports
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_state import bucket_keys, table_items
from tests.support.import_world import PROGRAM, make_world
from tests.support.imports import deliver, report, upload
from tests.support.jobs import emf_metrics

DAY = "20180801"
CATALOG = (
    "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;validity_interval_type;"
    "forced_validity;is_limited;max_attribution_count;is_auto_generated\n"
    "R1;Reward;0;10;0;1;month;0;0;;1\n"
)


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


@pytest.mark.parametrize(
    "group",
    ["nogroup", "demo-b", "Demo", "demo%23x", "demo#x", "..", "de mo", "d\u0661"],
)
def test_an_upload_for_a_group_that_does_not_exist_writes_nothing(
    table, capsys, monkeypatch, group: str
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    imports.metrics.clear_metrics()
    world = make_world()
    before_items = table_items()
    name = f"{group}_masterreward_{PROGRAM}_{DAY}.csv"
    key = upload(world.s3, name, CATALOG, group=group)
    capsys.readouterr()

    assert deliver(key) == {"batchItemFailures": []}
    assert deliver(key) == {"batchItemFailures": []}  # a second delivery: still nothing

    assert table_items() == before_items
    assert bucket_keys(world.s3) == [key]  # neither moved nor reported, in no group's space
    emitted = [
        value for name_, value in emf_metrics(capsys.readouterr().out) if name_ == "ImportFilesUnknownGroup"
    ]
    assert emitted == [1, 1]


def test_the_real_groups_file_still_imports_next_to_an_unknown_one(table) -> None:
    world = make_world()
    stray = upload(world.s3, f"nogroup_masterreward_{PROGRAM}_{DAY}.csv", CATALOG, group="nogroup")
    name = f"demo_masterreward_{PROGRAM}_{DAY}.csv"
    good = upload(world.s3, name, CATALOG)
    assert deliver(stray, good) == {"batchItemFailures": []}
    summary, _ = report(world.s3, name)
    assert summary["state"] == "completed", summary
    assert not [k for k in bucket_keys(world.s3) if "nogroup" in k and k != stray]
