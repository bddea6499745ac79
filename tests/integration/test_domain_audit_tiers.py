"""Tiers as an auditor who read only DOMAIN.md, seed 003 and docs/decisions.md checks them, through
the API and the real run use cases on moto. Each test quotes the rule it checks; thresholds, the
maximum tier downgrade and late runs are covered by test_jobs.py and test_tier_late_runs.py."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from loyalty_engine.handlers.api_context import default_context
from tests.support.api import call
from tests.support.jobs import SAMPLE, Group


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def program(**q_points) -> dict:
    body = copy.deepcopy(SAMPLE)
    body["q_points"] = {**body["q_points"], **q_points}
    return body


def test_q_points_in_their_holding_period_do_not_count_for_an_upgrade(clock):
    """DOMAIN.md: Q points have a holding period; a member moves to the tier their *valid* Q
    points reach."""
    group = Group("demo", program(holding_period={"value": 30, "unit": "days"}))
    group.enrol("HOLD-1")
    default_context().clock.now = at("2026-12-10T12:00:00+01:00")
    group.earn("HOLD-1", "O1", "600", at("2026-11-20T10:00:00+01:00"))  # 600 Q, available 2026-12-20 10:00
    group.run("tier-upgrade", at("2026-12-10T03:00:00+01:00"))
    assert group.rank("HOLD-1") == 1
    default_context().clock.now = at("2026-12-21T12:00:00+01:00")
    group.run("tier-upgrade", at("2026-12-21T03:00:00+01:00"))
    assert group.rank("HOLD-1") == 2


def test_a_vip_tier_survives_the_downgrade_run_and_its_grant_and_removal_are_history(clock):
    """DOMAIN.md: VIP tiers are not driven by Q points; every tier change is recorded with its
    cause and time."""
    group = Group("demo", program())
    group.enrol("VIP-1")
    default_context().clock.now = at("2026-12-10T12:00:00+01:00")
    granted = call(
        "api_grant_vip_tier",
        group.admin,
        path={"card_code": "VIP-1", "vip_tier": "staff"},
        body={"reason": "HR"},
    )
    assert granted.status == 200, granted.body
    default_context().clock.now = at("2027-01-01T04:00:00+01:00")
    group.run("tier-downgrade", at("2027-01-01T03:00:00+01:00"))
    group.run("tier-upgrade", at("2027-01-01T03:00:00+01:00"))
    assert group.member("VIP-1")["vip_tiers"] == ["staff"]
    removed = call("api_remove_vip_tier", group.admin, path={"card_code": "VIP-1", "vip_tier": "staff"})
    assert removed.status == 200, removed.body
    history = group.history("VIP-1")
    assert [(c["cause"], c.get("vip_tier"), c.get("reason")) for c in history] == [
        ("vip_remove", "staff", "left the company"),
        ("vip_grant", "staff", "HR"),
    ]


def test_a_relative_downgrade_waits_for_the_members_anniversary(clock):
    """DOMAIN.md: relative downgrades run every N years from the member's subscription date."""
    body = program()
    body["tier_settings"]["downgrade"] = {"mode": "relative", "every": {"value": 1, "unit": "years"}}
    group = Group("demo", body)
    default_context().clock.now = at("2026-03-15T14:00:00+01:00")
    group.enrol("REL-1", subscribed_at=at("2026-03-15T12:00:00+01:00"))
    group.earn("REL-1", "O1", "600", at("2026-03-15T13:00:00+01:00"))
    group.run("tier-upgrade", at("2026-03-16T03:00:00+01:00"))
    assert group.rank("REL-1") == 2
    default_context().clock.now = at("2026-09-01T12:00:00+01:00")
    returned = call(
        "api_return_order",
        group.shop,
        path={"card_code": "REL-1", "order_id": "O1"},
        body={"return_id": "R1"},
    )
    assert returned.status == 201, returned.body  # 0 Q left
    # no anniversary since the previous daily run: Silver stays, whatever the Q points
    group.run("tier-downgrade", at("2026-09-02T00:00:00+01:00"))
    assert group.rank("REL-1") == 2
    group.run("tier-downgrade", at("2027-03-15T00:00:00+01:00"))  # the anniversary is at 12:00
    assert group.rank("REL-1") == 2
    group.run("tier-downgrade", at("2027-03-16T00:00:00+01:00"))
    assert group.rank("REL-1") == 1


def test_a_run_as_of_an_instant_counts_no_order_placed_after_it_even_one_recorded_before_it_ran(clock):
    """DOMAIN.md: a run decides as of its time; an order counts from when it was placed."""
    group = Group("demo", program())
    group.enrol("ASOF-1")
    default_context().clock.now = at("2026-12-10T12:00:00+01:00")
    group.earn("ASOF-1", "O1", "450", at("2026-12-01T10:00:00+01:00"))
    group.earn("ASOF-1", "O2", "100", at("2026-12-05T03:00:01+01:00"))  # one second after the run's instant
    group.run("tier-upgrade", at("2026-12-05T03:00:00+01:00"))  # 450 Q then: Blue stays
    assert group.rank("ASOF-1") == 1
    group.run("tier-upgrade", at("2026-12-06T03:00:00+01:00"))  # 550 Q: Silver from this run's instant
    assert group.rank("ASOF-1") == 2
    (change,) = group.history("ASOF-1")
    assert (change["at"], change["q_points"]) == ("2026-12-06T02:00:00Z", 550)
