"""Tier upgrades, downgrades and their history as an auditor who read DOMAIN.md and seed 003 checks
them, through the API and the real run use cases on moto. The sample program: Blue (entry 0,
stay 0), Silver (entry 500, stay 400), Gold (entry 2000, stay 1500), multipliers = rank, Q 1 per
EUR valid 1 year, maximum tier downgrade 1, upgrades daily from 2 Jan 2026 03:00 GMT+1,
downgrades yearly from 1 Jan 2027 03:00 GMT+1. Each test quotes the rule it checks."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from loyalty_engine.handlers.api_context import default_context
from tests.support.api import call
from tests.support.jobs import SAMPLE, Group


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def now(text: str) -> None:
    default_context().clock.now = at(text)


def returned(group: Group, card: str, order_id: str, return_id: str, amount: str) -> dict:
    reply = call(
        "api_return_order",
        group.shop,
        path={"card_code": card, "order_id": order_id},
        body={"return_id": return_id, "amount": amount},
    )
    assert reply.status == 201, reply.body
    return reply.body


def test_an_upgrade_goes_straight_to_the_highest_tier_reached_and_is_history(clock):
    """DOMAIN.md: a member moves to the highest tier whose entry threshold their valid Q points
    reach; every tier change is recorded with its cause and time."""
    group = Group("demo", SAMPLE)
    group.enrol("UP-1")
    now("2026-12-10T12:00:00+01:00")
    group.earn("UP-1", "O1", "2100.00", at("2026-12-10T10:00:00+01:00"))  # 2100 Q at Blue
    group.run("tier-upgrade", at("2026-12-11T03:00:00+01:00"))
    assert group.rank("UP-1") == 3
    (change,) = group.history("UP-1")
    assert change["cause"] == "upgrade_run"
    assert (change["previous_tier"]["name"], change["new_tier"]["name"]) == ("Blue", "Gold")
    assert (change["q_points"], change["at"]) == (2100, "2026-12-11T02:00:00Z")
    assert change["run"] == {"job": "tier-upgrade", "scheduled_at": "2026-12-11T02:00:00Z"}


def test_the_tier_multiplies_nq_and_q_points_of_the_orders_placed_in_it(clock):
    """DOMAIN.md: Q and NQ multipliers default to the rank: at Silver (x2) 10.00 EUR earns
    10 x 10 x 2 = 200 NQ and 10 x 1 x 2 = 20 Q; at Gold (x3) 300 NQ and 30 Q."""
    group = Group("demo", SAMPLE)
    group.enrol("MUL-1")
    now("2026-12-10T12:00:00+01:00")
    group.earn("MUL-1", "O1", "600.00", at("2026-12-10T10:00:00+01:00"))
    group.run("tier-upgrade", at("2026-12-11T03:00:00+01:00"))
    assert group.rank("MUL-1") == 2
    now("2026-12-11T12:00:00+01:00")
    silver = group.earn("MUL-1", "O2", "10.00", at("2026-12-11T10:00:00+01:00"))["earned"]
    assert (silver["nq"], silver["q"]) == (200, 20)
    group.earn("MUL-1", "O3", "690.00", at("2026-12-11T11:00:00+01:00"))  # 1380 Q: 2000 in all
    group.run("tier-upgrade", at("2026-12-12T03:00:00+01:00"))
    assert group.rank("MUL-1") == 3
    now("2026-12-12T12:00:00+01:00")
    gold = group.earn("MUL-1", "O4", "10.00", at("2026-12-12T10:00:00+01:00"))["earned"]
    assert (gold["nq"], gold["q"]) == (300, 30)


def test_between_the_downgrade_and_the_entry_threshold_a_member_keeps_the_tier(clock):
    """DOMAIN.md / seed 003: the downgrade threshold is the minimum a member needs to stay: 450 Q
    keep Silver (400 to stay), 399 Q drop to Blue at the yearly downgrade run."""
    group = Group("demo", SAMPLE)
    for card in ("KEEP-1", "DROP-1"):
        group.enrol(card)
    now("2026-06-10T12:00:00+01:00")
    group.earn("KEEP-1", "O1", "600.00", at("2026-06-10T10:00:00+01:00"))
    group.earn("DROP-1", "O1", "600.00", at("2026-06-10T10:00:00+01:00"))
    group.run("tier-upgrade", at("2026-06-11T03:00:00+01:00"))
    assert (group.rank("KEEP-1"), group.rank("DROP-1")) == (2, 2)
    now("2026-09-01T12:00:00+01:00")
    returned(group, "KEEP-1", "O1", "R1", "150.00")  # 450 Q left
    returned(group, "DROP-1", "O1", "R1", "201.00")  # 399 Q left
    group.run("tier-upgrade", at("2026-09-02T03:00:00+01:00"))  # an upgrade run never demotes
    assert (group.rank("KEEP-1"), group.rank("DROP-1")) == (2, 2)
    group.run("tier-downgrade", at("2027-01-01T03:00:00+01:00"))
    assert (group.rank("KEEP-1"), group.rank("DROP-1")) == (2, 1)
    (change, _) = group.history("DROP-1")
    assert (change["cause"], change["q_points"], change["new_tier"]["name"]) == ("downgrade_run", 399, "Blue")


def test_a_gold_member_without_q_points_loses_one_tier_per_yearly_downgrade(clock):
    """DOMAIN.md: never more than `maximum tier downgrade` tiers at once (1 here); Q points expire
    after their validity (2000 Q of 1 Mar 2026 count on 1 Jan 2027, not on 1 Jan 2028)."""
    group = Group("demo", SAMPLE)
    group.enrol("GOLD-1")
    now("2026-03-01T12:00:00+01:00")
    group.earn("GOLD-1", "O1", "2000.00", at("2026-03-01T10:00:00+01:00"))
    group.run("tier-upgrade", at("2026-03-02T03:00:00+01:00"))
    assert group.rank("GOLD-1") == 3
    group.run("tier-downgrade", at("2027-01-01T03:00:00+01:00"))
    assert group.rank("GOLD-1") == 3
    group.run("tier-downgrade", at("2028-01-01T03:00:00+01:00"))
    assert group.rank("GOLD-1") == 2
    group.run("tier-downgrade", at("2029-01-01T03:00:00+01:00"))
    assert group.rank("GOLD-1") == 1
    causes = [
        (c["cause"], c["previous_tier"]["rank"], c["new_tier"]["rank"], c["at"])
        for c in group.history("GOLD-1")
    ]
    assert causes == [
        ("downgrade_run", 2, 1, "2029-01-01T02:00:00Z"),
        ("downgrade_run", 3, 2, "2028-01-01T02:00:00Z"),
        ("upgrade_run", 1, 3, "2026-03-02T02:00:00Z"),
    ]


def test_with_a_maximum_of_two_a_member_drops_to_the_tier_the_q_points_support(clock):
    """DOMAIN.md: a member drops to the tier their Q points support, at most `maximum tier
    downgrade` tiers at once: Gold with 450 Q and a maximum of 2 lands on Silver (400 to stay),
    not on Blue."""
    body = copy.deepcopy(SAMPLE)
    body["tier_settings"]["max_tier_downgrade"] = 2
    group = Group("demo", body)
    group.enrol("MAX-2")
    now("2026-06-10T12:00:00+01:00")
    group.earn("MAX-2", "O1", "2000.00", at("2026-06-10T10:00:00+01:00"))
    group.run("tier-upgrade", at("2026-06-11T03:00:00+01:00"))
    returned(group, "MAX-2", "O1", "R1", "1550.00")  # 450 Q left
    group.run("tier-downgrade", at("2027-01-01T03:00:00+01:00"))
    assert group.rank("MAX-2") == 2


def test_a_relative_downgrade_judges_the_q_points_valid_at_the_first_daily_run_after_the_anniversary(
    clock,
):
    """Seed 003: a relative downgrade period is counted from the member's subscription.
    decisions.md: it is judged at the first daily run (00:00) after the anniversary instant, on
    the Q points valid then: a member is never judged before their full period has run. The 600 Q
    earned at subscription (12:00, valid one year) have expired by then; 600 Q earned on 1 Sep
    keep Silver one more year."""
    body = copy.deepcopy(SAMPLE)
    body["tier_settings"]["downgrade"] = {"mode": "relative", "every": {"value": 1, "unit": "years"}}
    group = Group("demo", body)
    now("2026-03-15T12:30:00+01:00")
    for card in ("ANN-1", "ANN-2"):
        group.enrol(card, subscribed_at=at("2026-03-15T12:00:00+01:00"))
        group.earn(card, "O1", "600.00", at("2026-03-15T12:00:00+01:00"))
    group.run("tier-upgrade", at("2026-03-16T03:00:00+01:00"))
    now("2026-09-01T12:00:00+01:00")
    group.earn("ANN-2", "O2", "300.00", at("2026-09-01T10:00:00+01:00"))  # Silver: x2 = 600 Q
    group.run("tier-downgrade", at("2027-03-15T00:00:00+01:00"))  # before the anniversary
    assert (group.rank("ANN-1"), group.rank("ANN-2")) == (2, 2)
    group.run("tier-downgrade", at("2027-03-16T00:00:00+01:00"))
    assert (group.rank("ANN-1"), group.rank("ANN-2")) == (1, 2)
    (change, _) = group.history("ANN-1")
    assert (change["q_points"], change["at"]) == (0, "2027-03-15T23:00:00Z")
    group.run("tier-downgrade", at("2028-03-16T00:00:00+01:00"))  # the 600 Q of 1 Sep expired
    assert group.rank("ANN-2") == 1


def test_a_vip_tier_does_not_change_the_standard_tier_nor_its_runs(clock):
    """DOMAIN.md: VIP tiers are not driven by Q points; a member can hold a VIP tier and a standard
    tier at once; the effective multiplier is the larger of the two (Silver Q x2 over staff Q x1)."""
    group = Group("demo", SAMPLE)
    group.enrol("BOTH-1")
    now("2026-12-10T12:00:00+01:00")
    group.earn("BOTH-1", "O1", "600.00", at("2026-12-10T10:00:00+01:00"))
    granted = call(
        "api_grant_vip_tier",
        group.admin,
        path={"card_code": "BOTH-1", "vip_tier": "staff"},
        body={"reason": "store manager"},
    )
    assert granted.status == 200, granted.body
    group.run("tier-upgrade", at("2026-12-11T03:00:00+01:00"))
    member = group.member("BOTH-1")
    assert (member["tier"]["name"], member["vip_tiers"]) == ("Silver", ["staff"])
    now("2026-12-11T12:00:00+01:00")
    earned = group.earn("BOTH-1", "O2", "10.00", at("2026-12-11T10:00:00+01:00"))["earned"]
    assert (earned["nq"], earned["q"]) == (200, 20)
    assert [c["cause"] for c in group.history("BOTH-1")] == ["upgrade_run", "vip_grant"]


def test_a_program_cannot_drop_a_tier_while_it_has_members(clock):
    """DOMAIN.md: every tier change is recorded with its cause (runs, VIP grants); a member is in
    one of the program's tiers. Removing Gold under a Gold member left them in no tier the program
    knows, earning at x1 and never judged by a run again: the replacement is refused and changes
    nothing; raising Gold's thresholds lets the downgrade run move the member, with history."""
    group = Group("demo", SAMPLE)
    group.enrol("GOLD-2")
    now("2026-12-10T12:00:00+01:00")
    group.earn("GOLD-2", "O1", "2000.00", at("2026-12-10T10:00:00+01:00"))
    group.run("tier-upgrade", at("2026-12-11T03:00:00+01:00"))
    two_tiers = copy.deepcopy(SAMPLE)
    two_tiers["tier_settings"]["tiers"] = two_tiers["tier_settings"]["tiers"][:2]
    refused = call("api_put_program", group.admin, body=two_tiers)
    assert (refused.status, refused.body["code"]) == (409, "tiers_in_use"), refused.body
    assert refused.body["details"] == [
        {"field": "tier_settings.tiers", "reason": "tiers_in_use", "ranks": [3]}
    ]
    simple = {k: v for k, v in SAMPLE.items() if k != "tier_settings"} | {"kind": "simple"}
    refused = call("api_put_program", group.admin, body=simple)
    assert (refused.status, refused.body["details"][0]["ranks"]) == (409, [1, 2, 3]), refused.body
    assert call("api_get_program", group.admin, path={"program_id": "club"}).body["version"] == 1
    assert group.member("GOLD-2")["tier"]["name"] == "Gold"
    other = Group("demo-b", SAMPLE)  # no member yet: its tiers may still be reshaped
    assert call("api_put_program", other.admin, body=two_tiers).status == 200


def test_a_program_cannot_drop_a_vip_tier_while_it_has_members(clock):
    """DOMAIN.md: VIP tiers are granted and removed by hand, with a reason, and every tier change is
    recorded. Dropping `staff` from the program under a staff member left them showing `staff` at
    x1, a change no history entry explains: the replacement is refused and changes nothing, as for
    standard tiers. A VIP tier's multipliers may still change; a program without members may drop it."""
    group = Group("demo", SAMPLE)
    group.enrol("VIP-9")
    now("2026-12-10T12:00:00+01:00")
    granted = call(
        "api_grant_vip_tier",
        group.admin,
        path={"card_code": "VIP-9", "vip_tier": "staff"},
        body={"reason": "cashier"},
    )
    assert granted.status == 200, granted.body
    without_staff = copy.deepcopy(SAMPLE) | {"vip_tiers": []}
    refused = call("api_put_program", group.admin, body=without_staff)
    assert (refused.status, refused.body["code"]) == (409, "tiers_in_use"), refused.body
    assert refused.body["details"] == [{"field": "vip_tiers", "reason": "tiers_in_use", "names": ["staff"]}]
    renamed = copy.deepcopy(SAMPLE)
    renamed["vip_tiers"][0]["name"] = "crew"
    assert call("api_put_program", group.admin, body=renamed).status == 409
    assert call("api_get_program", group.admin, path={"program_id": "club"}).body["version"] == 1
    now("2026-12-10T13:00:00+01:00")
    earned = group.earn("VIP-9", "O1", "10.00", at("2026-12-10T12:30:00+01:00"))["earned"]
    assert earned["nq"] == 200  # staff's NQ x2 still applies
    richer = copy.deepcopy(SAMPLE)
    richer["vip_tiers"][0]["nq_multiplier"] = "3"
    assert call("api_put_program", group.admin, body=richer).status == 200
    other = Group("demo-b", SAMPLE)  # no member yet: its VIP tiers may still be dropped
    assert call("api_put_program", other.admin, body=without_staff).status == 200
