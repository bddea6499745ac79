"""Scenarios across rules, as an auditor who read DOMAIN.md and seeds 003/004 checks them, through
the API and the real run use cases on moto: a return after the order's points lifted the member a
tier, and an order earned under a VIP tier returned after the tier was removed. The sample program
(events/api_put_program.json): NQ 10 per EUR rounded down, held 14 days, valid 1 year; Q 1 per EUR,
valid 1 year; Blue (0/0), Silver (entry 500, stay 400), Gold (2000/1500), multipliers = rank;
VIP `staff` (NQ x2, Q x1); upgrades daily, downgrades yearly from 1 Jan 2027 03:00 GMT+1."""

from __future__ import annotations

from datetime import UTC, datetime

from loyalty_engine.handlers.api_context import default_context
from tests.support.api import call
from tests.support.jobs import SAMPLE, Group


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def now(text: str) -> None:
    default_context().clock.now = at(text)


def give_back(group: Group, card: str, order_id: str, return_id: str, amount: str | None = None) -> dict:
    body = {"return_id": return_id} | ({"amount": amount} if amount else {})
    reply = call("api_return_order", group.shop, path={"card_code": card, "order_id": order_id}, body=body)
    assert reply.status == 201, reply.body
    return reply.body


def test_a_return_after_an_upgrade_takes_back_what_the_order_earned_and_the_downgrade_follows(clock):
    """DOMAIN.md: returns reverse what an order earned, proportionally; a member moves up with the
    upgrade runs and down with the downgrade runs; decisions.md: tiers change only through the runs,
    and a run counts a return as it stands. 600 EUR at Blue earned 6000 NQ and 600 Q (Silver at the
    next upgrade); half of it returned after the upgrade takes back 3000 NQ and 300 Q (Blue's
    multiplier, the order's), not Silver's, and leaves Silver until the yearly downgrade, which
    drops the member with 320 Q (< 400) to Blue with its cause."""
    group = Group("demo", SAMPLE)
    group.enrol("RET-UP")
    now("2026-12-10T12:00:00+01:00")
    first = group.earn("RET-UP", "O1", "600.00", at("2026-12-10T10:00:00+01:00"))["earned"]
    assert (first["nq"], first["q"]) == (6000, 600)
    group.run("tier-upgrade", at("2026-12-11T03:00:00+01:00"))
    assert group.rank("RET-UP") == 2
    now("2026-12-11T12:00:00+01:00")
    second = group.earn("RET-UP", "O2", "10.00", at("2026-12-11T11:00:00+01:00"))["earned"]
    assert (second["nq"], second["q"]) == (200, 20)  # Silver x2
    back = give_back(group, "RET-UP", "O1", "R1", "300.00")
    assert back["reversed"] == {"nq": 3000, "q": 300, "unrecovered": 0}
    assert (back["balances"]["nq"]["pending"], back["balances"]["q"]["valid"]) == (3200, 320)
    group.run("tier-upgrade", at("2026-12-12T03:00:00+01:00"))
    assert group.rank("RET-UP") == 2  # an upgrade run never lowers a tier
    group.run("tier-downgrade", at("2027-01-01T03:00:00+01:00"))
    assert group.rank("RET-UP") == 1
    newest = group.history("RET-UP")[0]
    assert (newest["cause"], newest["new_tier"]["name"], newest["q_points"]) == ("downgrade_run", "Blue", 320)
    rest = give_back(group, "RET-UP", "O1", "R2")  # the rest of O1, back at Blue: still O1's points
    assert rest["reversed"] == {"nq": 3000, "q": 300, "unrecovered": 0}


def test_an_order_earned_under_a_vip_tier_is_returned_as_earned_after_the_tier_is_removed(clock):
    """DOMAIN.md: VIP tiers are granted and removed by hand with a reason; the effective multiplier
    is the larger of the standard and VIP ones; every tier change is recorded with its cause; returns
    reverse what the order earned. Staff doubles NQ while held: 10 EUR earns 200 NQ then, 100 after
    the removal; returning the first order after the removal takes back its 200."""
    group = Group("demo", SAMPLE)
    group.enrol("VIP-R")
    now("2026-12-10T12:00:00+01:00")
    path = {"card_code": "VIP-R", "vip_tier": "staff"}
    granted = call("api_grant_vip_tier", group.admin, path=path, body={"reason": "seasonal staff"})
    assert granted.status == 200, granted.body
    now("2026-12-10T13:00:00+01:00")
    under_vip = group.earn("VIP-R", "O1", "10.00", at("2026-12-10T12:30:00+01:00"))["earned"]
    assert (under_vip["nq"], under_vip["q"]) == (200, 10)
    removed = call("api_remove_vip_tier", group.admin, path=path, query={"reason": "season over"})
    assert (removed.status, removed.body["vip_tiers"]) == (200, []), removed.body
    now("2026-12-10T14:00:00+01:00")
    after = group.earn("VIP-R", "O2", "10.00", at("2026-12-10T13:30:00+01:00"))["earned"]
    assert (after["nq"], after["q"]) == (100, 10)
    back = give_back(group, "VIP-R", "O1", "R1")
    assert back["reversed"] == {"nq": 200, "q": 10, "unrecovered": 0}
    assert back["balances"]["nq"]["pending"] == 100
    causes = [(c["cause"], c["vip_tier"], c["reason"]) for c in group.history("VIP-R")]
    assert causes == [("vip_remove", "staff", "season over"), ("vip_grant", "staff", "seasonal staff")]
