"""Member and vip lines are one transaction each (as an API call), far slower than a reward line's
share of a BatchWriteItem: a chunk of them must end within the time margin the importer keeps
before its Lambda's timeout, or a run that starts one with the margin left is killed inside it
(redelivered 90 minutes later, and after 5 such kills parked in the dead-letter queue, the job
left `running`)."""

from __future__ import annotations

import pytest

from loyalty_engine.handlers import imports
from loyalty_engine.imports import apply_member, apply_vip
from loyalty_engine.imports.context import import_services
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_files import BURN, BURN_COLUMNS, CATALOG_COLUMNS, EARN, EARN_COLUMNS, MASTER, VALID
from tests.support.import_state import queued_messages
from tests.support.import_world import PROGRAM
from tests.support.imports import ImportContext, notification, report, sqs_event, upload

LINE_MS = 50  # a member or vip line's transaction, in simulated time
MARGIN_MS = 1_200


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


class Lambda(ImportContext):
    """A run's time: each line's transaction spends LINE_MS of it; it is killed at 0."""

    def __init__(self, remaining_ms: int):
        super().__init__(remaining_ms)
        self.lowest = remaining_ms

    def spend(self) -> None:
        self.remaining_ms -= LINE_MS
        self.lowest = min(self.lowest, self.remaining_ms)


@pytest.mark.parametrize(
    ("scope", "header", "row"),
    [
        ("member", "card_code;customer_ref;subscribed_at", "CARD{n:04d};ref-{n};"),
        ("vip", "card_code;vip_tier;action;reason", "CARD{n:04d};staff;grant;staff"),
    ],
)
def test_a_run_never_works_past_its_deadline_on_member_and_vip_lines(world, monkeypatch, scope, header, row):
    monkeypatch.setattr(import_services(), "time_margin_ms", MARGIN_MS)
    world.add_vip_tier("staff")
    if scope == "vip":
        world.enrol(*[f"CARD{n:04d}" for n in range(40)])
    runs: list[Lambda] = []
    module, name = (apply_member, "enrol_imported") if scope == "member" else (apply_vip, "change_vip")
    original = getattr(module, name)

    def timed(*args, **kwargs):
        runs[-1].spend()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, timed)
    file_name = f"demo_{scope}_{PROGRAM}_20180801.csv"
    content = "\n".join([header, *[row.format(n=n) for n in range(40)]]) + "\n"
    bodies = [notification(upload(world.s3, file_name, content))]
    while bodies and len(runs) < 20:
        runs.append(Lambda(MARGIN_MS + 700))  # room for 14 lines past the margin: not for 40
        assert imports.handler(sqs_event(*bodies), runs[-1]) == {"batchItemFailures": []}
        bodies = queued_messages(world.sqs)
    assert min(run.lowest for run in runs) > 0, "a run went on past its deadline (killed mid-chunk)"
    assert len(runs) > 1  # the margin was reached: the file went on in a continuation
    summary, _ = report(world.s3, file_name)
    assert (summary["state"], summary["lines_read"], summary["applied"]) == ("completed", 40, 40)


def test_a_run_never_works_past_its_deadline_on_burn_lines(world, monkeypatch):
    """A burn line is one conditional UpdateItem of its attribution, in line order: the same cut."""
    world.enrol("CC0001")
    catalog = "\n".join([CATALOG_COLUMNS, "r;Reward;0;10;0;1;month;0;1;100;0"]) + "\n"
    grants = [f"r;CC0001;A-{n};1;;{VALID}" for n in range(40)]
    for name, content in ((MASTER, catalog), (EARN, "\n".join([EARN_COLUMNS, *grants]) + "\n")):
        assert imports.handler(sqs_event(notification(upload(world.s3, name, content))), ImportContext()) == {
            "batchItemFailures": []
        }
    monkeypatch.setattr(import_services(), "time_margin_ms", MARGIN_MS)
    runs: list[Lambda] = []
    rewards = import_services().rewards
    original = rewards.add_burn

    def timed(*args, **kwargs):
        runs[-1].spend()
        return original(*args, **kwargs)

    monkeypatch.setattr(rewards, "add_burn", timed)
    content = "\n".join([BURN_COLUMNS, *[f"CC0001;A-{n};;" for n in range(40)]]) + "\n"
    bodies = [notification(upload(world.s3, BURN, content))]
    while bodies and len(runs) < 20:
        runs.append(Lambda(MARGIN_MS + 700))
        assert imports.handler(sqs_event(*bodies), runs[-1]) == {"batchItemFailures": []}
        bodies = queued_messages(world.sqs)
    assert min(run.lowest for run in runs) > 0, "a run went on past its deadline (killed mid-chunk)"
    assert len(runs) > 1
    summary, _ = report(world.s3, BURN)
    assert (summary["state"], summary["lines_read"], summary["applied"]) == ("completed", 40, 40)
