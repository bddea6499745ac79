"""The member page's forms, round four: the adjustment's late refusal dropped, a VIP tier's
removal with its reason, a purchase and a use with their store id and moment, and the pickers
reading every page of the catalog and of the rewards held."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_member
from tests.browser.seed import Api, Seeded, vip_program_body

REWARD = "seed-gift-3"  # the seed's catalog: 10 NQ points a unit


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


@pytest.fixture(scope="module")
def vip_program(seeded: Seeded) -> str:
    """A program with one VIP tier, `press`."""
    api = Api(seeded.api_url, seeded.admin_key)
    program = "forms-club"
    body = vip_program_body("Forms Club", [{"name": "press"}])
    api("PUT", f"/v1/programs/{program}", 201, json=body)
    return program


def test_a_vip_tier_is_removed_with_the_reason_the_agent_gives(
    signed_in: Any, seeded: Seeded, vip_program: str
) -> None:
    """The removal sent no reason: the tier history kept none, though the API takes one."""
    page = signed_in
    api = Api(seeded.api_url, seeded.admin_key)
    program = vip_program
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


def test_a_purchase_and_a_use_carry_their_store_and_moment(signed_in: Any, seeded: Seeded) -> None:
    """Buying and using sent no `store_id` nor `burned_at`: a use in a shop yesterday was
    recorded now, at no store."""
    page = signed_in
    card = "FORMS-0005"
    api = _enrol(seeded, card, points=100)
    posts: list[dict[str, Any]] = []
    page.on("request", lambda r: posts.append(r.post_data_json) if r.method == "POST" else None)
    open_member(page, card)
    page.get_by_label("Reward id").fill(REWARD)
    store = page.get_by_label("Store id (optional: where it was bought)")
    store.fill("   ")
    page.get_by_role("button", name="Buy reward").click()
    expect(page.get_by_role("alert")).to_contain_text("Type the store id, or leave it empty")
    expect(store).to_be_focused()
    assert posts == []
    store.fill(" S-12 ")
    page.get_by_role("button", name="Buy reward").click()
    expect(page.get_by_role("status")).to_contain_text(f"Bought 1 of {REWARD} for 10 NQ points at store S-12")
    bought = api("GET", f"/v1/members/{card}/rewards", 200)["attributions"][0]
    assert bought["store_id"] == "S-12", bought
    page.wait_for_timeout(1500)  # a use is dated after the purchase, to the second
    valid_from = datetime.fromisoformat(bought["valid_from"]).astimezone(UTC)
    moment = (valid_from + timedelta(seconds=1)).replace(microsecond=0, tzinfo=None)
    at = page.get_by_label("Used at (UTC; empty: now)")
    at.fill((moment + timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Use reward").click()
    expect(page.get_by_role("alert")).to_contain_text("The moment of the use is in the future")
    page.get_by_label("Store id (optional: where it was used)").fill("S-34")
    at.fill(moment.isoformat())
    page.get_by_role("button", name="Use reward").click()
    expect(page.get_by_role("status")).to_contain_text("at store S-34")
    burn = api("GET", f"/v1/members/{card}/rewards", 200)["attributions"][0]["burns"][0]
    assert burn["store_id"] == "S-34", burn
    assert datetime.fromisoformat(burn["burned_at"]) == moment.replace(tzinfo=UTC), burn
    assert posts[-1]["burned_at"] == f"{moment.isoformat()}+00:00", posts[-1]


def _pages(page: Any, pattern: str, field: str, rows: list[dict[str, Any]]) -> list[str]:
    """The test's network answers `pattern`'s GETs with `rows`, paged as the API does (its
    `limit`, an opaque cursor): the queries asked."""
    asked: list[str] = []

    def answer(route: Any) -> None:
        if route.request.method != "GET":
            route.continue_()
            return
        query = parse_qs(urlparse(route.request.url).query)
        asked.append(urlparse(route.request.url).query)
        start = int(query.get("cursor", ["c0"])[0][1:])
        limit = int(query["limit"][0])
        end = start + limit
        body = {field: rows[start:end], "next_cursor": f"c{end}" if end < len(rows) else None}
        route.fulfill(status=200, body=json.dumps(body), content_type="application/json")

    page.route(re.compile(pattern), answer)
    return asked


def test_the_pickers_read_every_page_of_the_catalog_and_of_the_rewards_held(
    signed_in: Any, seeded: Seeded
) -> None:
    """The pickers read the first 200 of each: a reward of the catalog's 201st, or a member's
    201st reward, could not be picked."""
    page = signed_in
    card = "FORMS-0006"
    _enrol(seeded, card)
    catalog = [
        {"external_id": f"gift-{n:03}", "name": f"Gift {n}", "nqp_value": n, "codes": "generated"}
        for n in range(450)
    ]
    held = [
        {
            "attribution_id": f"A{n:03}",
            "reward_id": REWARD,
            "status": "burned" if n < 449 else "available",
            "quantity": 1,
            "burned": 1 if n < 449 else 0,
            "nqp_spent": 10,
            "created_at": "2026-01-01T00:00:00+00:00",
            "valid_until": "2027-01-01T00:00:00+00:00",
        }
        for n in range(450)
    ]
    catalog_asked = _pages(page, r"/v1/rewards\?", "rewards", catalog)
    held_asked = _pages(page, rf"/v1/members/{card}/rewards\?", "attributions", held)
    open_member(page, card)
    expect(page.locator("#buy-catalog option")).to_have_count(450)
    expect(page.locator("#buy-listed")).to_have_text(
        "450 reward(s) of the catalog to pick from (or type an id)."
    )
    page.get_by_label("Reward id").fill("gift-449")
    expect(page.locator("#buy-cost")).to_have_text("Costs 449 NQ points (449 each).")
    assert len(catalog_asked) == 3, catalog_asked
    expect(page.locator("#use-held")).to_have_text("1 reward(s) to use.")
    expect(page.get_by_label("Reward held").locator("option")).to_have_text(
        [f"{REWARD}: 1 of 1 left (available) · A449"]
    )
    assert sum("limit=200" in q for q in held_asked) == 3, held_asked


def test_escape_closes_a_vip_removal_s_confirmation(signed_in: Any, seeded: Seeded, vip_program: str) -> None:
    """Escape left the confirmation open; it now does what Cancel does."""
    page = signed_in
    api = Api(seeded.api_url, seeded.admin_key)
    program = vip_program
    card = "FORMS-0007"
    api("POST", f"/v1/programs/{program}/members", 201, json={"card_code": card})
    api("PUT", f"/v1/members/{card}/vip-tiers/press", 200, json={"reason": "journalist"})
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "DELETE" else None)
    open_member(page, card)
    page.get_by_role("button", name="Remove VIP tier").press("Enter")
    page.get_by_role("button", name="Yes, remove press").focus()
    page.keyboard.press("Escape")
    expect(page.locator("#vip-confirm")).to_be_hidden()
    expect(page.get_by_role("button", name="Remove VIP tier")).to_be_focused()
    assert sent == []


def test_a_form_with_nothing_to_act_on_is_not_shown(signed_in: Any, seeded: Seeded) -> None:
    """The page hid the grant form (the program has no VIP tier) and the use form (no reward
    held) with `hidden`, which the forms' grid layout overrode: an empty list and its button."""
    page = signed_in
    card = "FORMS-0008"
    _enrol(seeded, card)
    open_member(page, card)
    expect(page.locator("#use-held")).to_have_text("The member holds no reward to use.")
    expect(page.locator("#vip-program")).to_have_text("The program has no VIP tier.")
    expect(page.get_by_role("button", name="Use reward")).to_be_hidden()
    expect(page.get_by_role("button", name="Grant VIP tier")).to_be_hidden()
    expect(page.get_by_role("button", name="Buy reward")).to_be_visible()
