"""The member page's forms, round four: the adjustment's late refusal dropped, a VIP tier's
removal with its reason, a purchase and a use with their store id and moment, and the pickers
reading every page of the catalog and of the rewards held."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from tests.browser.conftest import open_member
from tests.browser.seed import Api, Seeded


def _enrol(seeded: Seeded, card: str, points: int = 0) -> Api:
    api = Api(seeded.api_url, seeded.admin_key)
    api("POST", f"/v1/programs/{seeded.program_id}/members", 201, json={"card_code": card})
    if points:
        body = {"kind": "nq", "points": points, "reason_code": "goodwill"}
        api("POST", f"/v1/members/{card}/adjustments", 201, json=body, headers={"Idempotency-Key": card})
    return api


def test_an_adjustment_refused_after_another_member_opened_shows_nothing(
    signed_in: Any, seeded: Seeded
) -> None:
    """The refusal of an adjustment of the card before was shown over the member opened since,
    as if it were about them (the other actions drop a late answer)."""
    page = signed_in
    card, other = "FORMS-0001", "FORMS-0002"
    _enrol(seeded, card)
    _enrol(seeded, other)

    def refuse_slowly(route: Any) -> None:
        page.wait_for_timeout(1500)
        body = json.dumps({"code": "insufficient_points", "message": "no", "details": []})
        route.fulfill(status=409, body=body, content_type="application/json")

    page.route(f"**/v1/members/{card}/adjustments", refuse_slowly)
    open_member(page, card)
    page.get_by_label("Change (signed)").fill("-5")
    page.get_by_role("button", name="Adjust points").click()
    open_member(page, other)
    page.wait_for_timeout(2000)
    expect(page.get_by_role("heading", name=f"Member {other}")).to_be_visible()
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(page.get_by_role("status")).to_contain_text(f"Member {other} loaded")


def _vip_program(api: Api) -> str:
    """A program with one VIP tier, `press`."""
    program = "forms-club"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    body = {
        "name": "Forms Club",
        "kind": "tiered",
        "currency": "EUR",
        "starts_at": (now - timedelta(days=10)).isoformat(),
        "card_codes": {"generation": "manual"},
        "nq_points": {"conversion_rate": "1", "rounding": "down", "validity": {"value": 1, "unit": "year"}},
        "q_points": {"conversion_rate": "1", "validity": {"value": 1, "unit": "year"}},
        "tier_settings": {
            "max_tier_downgrade": 1,
            "upgrade": {"first_run_at": (now + timedelta(days=1)).isoformat(), "periodicity": "daily"},
            "downgrade": {"mode": "relative", "every": {"value": 1, "unit": "year"}},
            "tiers": [{"rank": 1, "name": "Blue", "entry_threshold": 0, "downgrade_threshold": 0}],
        },
        "vip_tiers": [{"name": "press"}],
    }
    api("PUT", f"/v1/programs/{program}", 201, json=body)
    return program


def test_a_vip_tier_is_removed_with_the_reason_the_agent_gives(signed_in: Any, seeded: Seeded) -> None:
    """The removal sent no reason: the tier history kept none, though the API takes one."""
    page = signed_in
    api = Api(seeded.api_url, seeded.admin_key)
    program = _vip_program(api)
    cards = ("FORMS-0003", "FORMS-0004")
    for card in cards:
        api("POST", f"/v1/programs/{program}/members", 201, json={"card_code": card})
        api("PUT", f"/v1/members/{card}/vip-tiers/press", 200, json={"reason": "journalist"})
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "DELETE" else None)
    open_member(page, cards[0])
    page.get_by_role("button", name="Remove VIP tier").click()
    reason = page.get_by_label("Reason for the removal (optional)")
    expect(reason).to_be_focused()
    reason.fill("   ")
    page.get_by_role("button", name="Yes, remove press").click()
    expect(page.get_by_role("alert")).to_contain_text("spaces only is none")
    expect(reason).to_be_focused()
    assert sent == []
    reason.fill("left the paper")
    reason.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Removed the VIP tier press")
    assert len(sent) == 1 and parse_qs(urlparse(sent[0]).query) == {"reason": ["left the paper"]}, sent
    history = page.get_by_role("table", name="Tier history")
    expect(history.locator("tbody tr").first).to_contain_text("left the paper")
    change = api("GET", f"/v1/members/{cards[0]}/tier-history", 200)["changes"][0]
    assert change["vip_tier"] == "press" and change["reason"] == "left the paper", change
    # no reason is none: the request carries no `reason`
    open_member(page, cards[1])
    page.get_by_role("button", name="Remove VIP tier").click()
    page.get_by_role("button", name="Yes, remove press").click()
    expect(page.get_by_role("status")).to_contain_text("Removed the VIP tier press")
    assert len(sent) == 2 and urlparse(sent[1]).query == "", sent
