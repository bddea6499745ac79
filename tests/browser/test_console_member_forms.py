"""The member page's forms, round four: the adjustment's late refusal dropped, a VIP tier's
removal with its reason, a purchase and a use with their store id and moment, and the pickers
reading every page of the catalog and of the rewards held."""

from __future__ import annotations

import json
from typing import Any

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
