"""A scheduled tier run replayed late (DOMAIN.md, "Late data"): it decides as it would have on
time, and a later run's decision stands. Through the API and the real run use cases on moto."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.tiers.previews import preview_run
from tests.support.api import call
from tests.support.jobs import SAMPLE, Group
from tests.support.jobs import services as job_services


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def program() -> dict:
    """Blue, Silver (enter 500, stay 400), Gold (enter 2000, stay 1500): 1 Q point per EUR."""
    body = copy.deepcopy(SAMPLE)
    rows = (("Blue", 0, 0), ("Silver", 500, 400), ("Gold", 2000, 1500))
    body["tier_settings"]["tiers"] = [
        {"rank": n, "name": name, "entry_threshold": enter, "downgrade_threshold": stay, "q_multiplier": "1"}
        for n, (name, enter, stay) in enumerate(rows, start=1)
    ]
    body["tier_settings"]["max_tier_downgrade"] = 1
    return body


def test_a_downgrade_replayed_after_a_later_upgrade_leaves_the_member_where_it_is(clock):
    group = Group("demo", program())
    group.enrol("LATE-1")
    default_context().clock.now = at("2026-12-10T12:00:00+01:00")
    group.earn("LATE-1", "O1", "600", at("2026-01-02T10:00:00+01:00"))  # valid a year
    assert group.run("tier-upgrade", at("2026-01-03T03:00:00+01:00")).state == "completed"
    group.earn("LATE-1", "O2", "300", at("2026-06-01T10:00:00+01:00"))
    # the downgrade of 1 January 2027 is missed: on time, 900 Q >= Silver's 400, Silver stays
    default_context().clock.now = at("2027-01-10T12:00:00+01:00")
    group.earn("LATE-1", "O3", "2000", at("2027-01-05T10:00:00+01:00"))
    assert group.run("tier-upgrade", at("2027-01-06T03:00:00+01:00")).state == "completed"
    assert group.rank("LATE-1") == 3
    replayed = group.run("tier-downgrade", at("2027-01-01T03:00:00+01:00"))
    assert (replayed.state, replayed.changed) == ("completed", 0)
    assert group.rank("LATE-1") == 3  # not judged as Gold on 1 January: it was Silver then
    assert [c["cause"] for c in group.history("LATE-1")] == ["upgrade_run", "upgrade_run"]


def test_an_upgrade_replayed_after_a_later_upgrade_takes_effect_at_its_own_instant(clock):
    """The upgrade of 3 January is missed and the one of 5 January makes the member Silver:
    replayed, the 3 January run writes Silver from 3 January into the history, so an order
    placed on 4 January and recorded late earns with Silver's multiplier, as on time."""
    group = Group("demo", program())
    group.enrol("LATE-2")
    default_context().clock.now = at("2026-01-10T12:00:00+01:00")
    group.earn("LATE-2", "O1", "600", at("2026-01-02T10:00:00+01:00"))
    assert group.run("tier-upgrade", at("2026-01-05T03:00:00+01:00")).changed == 1
    before = group.earn("LATE-2", "O-BEFORE", "100", at("2026-01-02T20:00:00+01:00"))
    preview = preview_run(job_services(), group.request("tier-upgrade", at("2026-01-03T03:00:00+01:00")))
    assert (preview.changed, preview.moves) == (1, {"Blue -> Silver": 1})  # a dry run says the same

    replayed = group.run("tier-upgrade", at("2026-01-03T03:00:00+01:00"))
    assert (replayed.state, replayed.changed) == ("completed", 1)
    assert group.rank("LATE-2") == 2
    latest = group.history("LATE-2")[0]
    assert (latest["at"], latest["cause"], latest["new_tier"]["name"]) == (
        at("2026-01-03T03:00:00+01:00").isoformat().replace("+00:00", "Z"),
        "upgrade_run",
        "Silver",
    )
    between = group.earn("LATE-2", "O-BETWEEN", "100", at("2026-01-04T12:00:00+01:00"))
    assert between["earned"]["nq"] == 2 * before["earned"]["nq"] > 0  # Silver's 2 against Blue's 1

    again = group.run("tier-upgrade", at("2026-01-03T03:00:00+01:00"))
    assert again.changed == 1  # the same run, reported again: it writes nothing more
    assert len(group.history("LATE-2")) == 2


def test_a_late_upgrade_is_not_written_over_a_later_downgrade(clock):
    """Since the missed upgrade a downgrade run moved the member: on time it would have judged
    another tier, so the later decisions stand and the history is left as it is."""
    group = Group("demo", program())
    group.enrol("LATE-3")
    default_context().clock.now = at("2027-02-10T12:00:00+01:00")
    group.earn("LATE-3", "O1", "2100", at("2026-01-02T10:00:00+01:00"))  # valid a year
    assert group.run("tier-upgrade", at("2026-01-03T03:00:00+01:00")).changed == 1  # Gold
    group.earn("LATE-3", "O2", "600", at("2026-12-20T10:00:00+01:00"))
    assert group.run("tier-downgrade", at("2027-01-04T03:00:00+01:00")).changed == 1  # to Silver
    history = group.history("LATE-3")
    replayed = group.run("tier-upgrade", at("2027-01-02T03:00:00+01:00"))
    assert (replayed.state, replayed.changed) == ("completed", 0)
    assert group.history("LATE-3") == history and group.rank("LATE-3") == 2


def test_a_run_replayed_late_judges_with_the_thresholds_in_force_at_its_instant(clock):
    """Silver's entry threshold was 500 on 3 January and is raised to 1,000 on 8 January: the
    missed 3 January upgrade, replayed on 10 January, judges 600 Q points against 500."""
    default_context().clock.now = at("2026-01-01T12:00:00+01:00")
    group = Group("demo", program())
    group.enrol("LATE-4")
    default_context().clock.now = at("2026-01-02T12:00:00+01:00")
    group.earn("LATE-4", "O1", "600", at("2026-01-02T10:00:00+01:00"))
    default_context().clock.now = at("2026-01-08T12:00:00+01:00")
    stricter = program()
    stricter["tier_settings"]["tiers"][1]["entry_threshold"] = 1000
    reply = call("api_put_program", group.admin, body=stricter)
    assert reply.status == 200, reply.body
    default_context().clock.now = at("2026-01-10T12:00:00+01:00")
    preview = preview_run(job_services(), group.request("tier-upgrade", at("2026-01-03T03:00:00+01:00")))
    assert preview.moves == {"Blue -> Silver": 1}
    replayed = group.run("tier-upgrade", at("2026-01-03T03:00:00+01:00"))
    assert (replayed.state, replayed.changed) == ("completed", 1)
    assert group.rank("LATE-4") == 2
    # a run of today judges with today's thresholds: 600 < 1,000 would not have made Silver
    assert group.run("tier-upgrade", at("2026-01-10T03:00:00+01:00")).changed == 0
