"""Customer service's actions on a member's VIP tiers and rewards, from the member view: grant
and remove a VIP tier, buy a reward with NQ points and use one; each refused in words, each
sent once for a double click, a retry under its key, a late answer dropped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_member
from tests.browser.seed import Api, Seeded, vip_program_body

PROGRAM = "vip-club"
REWARD = "seed-gift-3"  # the seed's catalog: 10 NQ points a unit


@pytest.fixture(scope="module")
def api(seeded: Seeded) -> Api:
    api = Api(seeded.api_url, seeded.admin_key)
    vip_tiers = [{"name": "staff", "q_multiplier": "2", "nq_multiplier": "3"}, {"name": "press"}]
    program = vip_program_body("VIP Club", vip_tiers)
    api("PUT", f"/v1/programs/{PROGRAM}", 201, json=program)
    return api


def _member(api: Api, card: str, points: int = 0) -> str:
    api("POST", f"/v1/programs/{PROGRAM}/members", 201, json={"card_code": card})
    if points:
        body = {"kind": "nq", "points": points, "reason_code": "goodwill"}
        api("POST", f"/v1/members/{card}/adjustments", 201, json=body, headers={"Idempotency-Key": card})
    return card


def _counting(page: Any, pattern: str, method: str, delay: int = 300) -> list[str]:
    """The requests `method` to `pattern` (their Idempotency-Key), each answered slowly."""
    sent: list[str] = []

    def slow(route: Any) -> None:
        if route.request.method != method:
            route.continue_()
            return
        sent.append(route.request.headers.get("idempotency-key", ""))
        page.wait_for_timeout(delay)
        route.continue_()

    page.route(pattern, slow)
    return sent


def _refuse(page: Any, pattern: str, status: int, code: str) -> None:
    body = json.dumps({"code": code, "message": f"refused: {code}", "details": []})
    page.route(
        pattern, lambda route: route.fulfill(status=status, body=body, content_type="application/json")
    )


def test_a_vip_tier_is_granted_with_a_reason_once(signed_in: Any, api: Api) -> None:
    page = signed_in
    card = _member(api, "VIP-0001")
    open_member(page, card)
    tiers = page.get_by_label("VIP tier to grant")
    expect(tiers.locator("option")).to_have_count(2)
    values = tiers.locator("option").evaluate_all("options => options.map((o) => o.value)")
    assert values == ["staff", "press"], values
    expect(tiers.locator("option").first).to_have_text("staff (Q multiplier 2, NQ multiplier 3)")
    puts = _counting(page, "**/vip-tiers/*", "PUT")
    page.get_by_label("Reason for the grant").fill("   ")
    page.get_by_role("button", name="Grant VIP tier").click()
    expect(page.get_by_role("alert")).to_contain_text("Say why the tier is granted")
    expect(page.get_by_label("Reason for the grant")).to_be_focused()
    assert puts == []
    tiers.select_option("staff")
    page.get_by_label("Reason for the grant").fill("<b>employee</b>")
    page.get_by_role("button", name="Grant VIP tier").dblclick()
    expect(page.get_by_role("status")).to_contain_text("Granted the VIP tier staff")
    assert len(puts) == 1, puts
    expect(page.locator("#balances")).to_contain_text("VIP: staff")
    expect(page.get_by_role("table", name="Tier history")).to_contain_text("staff")
    expect(page.get_by_role("heading", name=f"Member {card}")).to_be_focused()
    expect(page.get_by_label("VIP tier to grant").locator("option")).to_have_text(
        ["press (Q multiplier 1, NQ multiplier 1)"]
    )
    assert api("GET", f"/v1/members/{card}", 200)["vip_tiers"] == ["staff"]


def test_a_vip_tier_is_removed_once_confirmed(signed_in: Any, api: Api) -> None:
    page = signed_in
    card = _member(api, "VIP-0002")
    api("PUT", f"/v1/members/{card}/vip-tiers/press", 200, json={"reason": "journalist"})
    open_member(page, card)
    deletes = _counting(page, "**/vip-tiers/*", "DELETE")
    page.get_by_role("button", name="Remove VIP tier").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("button", name="Remove VIP tier")).to_be_focused()
    assert deletes == []
    page.get_by_role("button", name="Remove VIP tier").click()
    page.get_by_role("button", name="Yes, remove press").dblclick()
    expect(page.get_by_role("status")).to_contain_text("Removed the VIP tier press")
    assert len(deletes) == 1, deletes
    expect(page.locator("#balances")).to_contain_text("no VIP tier")
    assert api("GET", f"/v1/members/{card}", 200)["vip_tiers"] == []


def test_a_vip_grant_refused_by_the_api_is_said_in_words(signed_in: Any, api: Api) -> None:
    page = signed_in
    card = _member(api, "VIP-0003")
    open_member(page, card)
    _refuse(page, "**/vip-tiers/*", 403, "forbidden")
    page.get_by_label("Reason for the grant").fill("staff")
    page.get_by_role("button", name="Grant VIP tier").click()
    expect(page.get_by_role("alert")).to_contain_text("it needs an admin key")
    expect(page.get_by_role("button", name="Grant VIP tier")).to_be_focused()


def test_a_vip_grant_waits_for_the_program_s_tiers(signed_in: Any, api: Api) -> None:
    """Under load the program's read (behind the member view's other reads) answered after the
    agent pressed Grant: the list was empty, the browser refused the form, no request, the
    focus on the list. The grant form now shows once the tiers are read."""
    page = signed_in
    card = _member(api, "VIP-0013")
    _counting(page, f"**/v1/programs/{PROGRAM}", "GET", delay=1500)
    open_member(page, card)
    expect(page.locator("#vip-grant-form")).to_be_hidden()
    _refuse(page, "**/vip-tiers/*", 403, "forbidden")
    page.get_by_label("Reason for the grant").fill("staff")
    page.get_by_role("button", name="Grant VIP tier").click()
    expect(page.get_by_role("alert")).to_contain_text("it needs an admin key")
    expect(page.get_by_role("button", name="Grant VIP tier")).to_be_focused()


def test_a_reward_is_bought_once_its_cost_shown(signed_in: Any, api: Api) -> None:
    page = signed_in
    card = _member(api, "VIP-0004", points=100)
    open_member(page, card)
    page.get_by_label("Reward id").fill(REWARD)
    page.get_by_label("Quantity to buy").fill("2")
    expect(page.locator("#buy-cost")).to_have_text("Costs 20 NQ points (10 each).")
    posts = _counting(page, "**/v1/members/*/rewards", "POST")
    page.get_by_role("button", name="Buy reward").dblclick()
    expect(page.get_by_role("status")).to_contain_text(f"Bought 2 of {REWARD} for 20 NQ points")
    assert len(posts) == 1 and posts[0], posts
    expect(page.locator("#nq-available")).to_have_text("80")
    expect(page.get_by_role("table", name="Rewards").locator("tbody tr")).to_have_count(1)
    assert len(api("GET", f"/v1/members/{card}/rewards", 200)["attributions"]) == 1


def test_a_refused_purchase_is_said_in_words(signed_in: Any, api: Api) -> None:
    page = signed_in
    card = _member(api, "VIP-0005", points=30)
    open_member(page, card)
    page.get_by_label("Reward id").fill(REWARD)
    page.get_by_label("Quantity to buy").fill("5")
    page.get_by_role("button", name="Buy reward").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("does not hold enough NQ points")
    expect(alert).to_contain_text("insufficient_points, HTTP 409")
    page.get_by_label("Quantity to buy").fill("0")
    page.get_by_role("button", name="Buy reward").click()
    expect(alert).to_contain_text("at least 1")
    expect(page.get_by_label("Quantity to buy")).to_be_focused()
    for code, words in (
        ("out_of_stock", "out of stock"),
        ("reward_codes_exhausted", "Every code of this reward"),
    ):
        _refuse(page, "**/v1/members/*/rewards", 409, code)
        page.get_by_label("Quantity to buy").fill("1")
        page.get_by_role("button", name="Buy reward").click()
        expect(alert).to_contain_text(words)
        page.unroute("**/v1/members/*/rewards")
    assert api("GET", f"/v1/members/{card}/rewards", 200)["attributions"] == []


def test_a_purchase_whose_answer_is_lost_is_retried_under_its_key(signed_in: Any, api: Api) -> None:
    page = signed_in
    card = _member(api, "VIP-0006", points=100)
    open_member(page, card)
    keys: list[str] = []
    answers = ["lost", "busy"]

    def flaky(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers["idempotency-key"])
        answer = answers.pop(0) if answers else None
        if answer == "lost":
            route.fetch()  # bought; the answer never reaches the page
            route.abort("connectionreset")
        elif answer == "busy":
            body = json.dumps({"code": "concurrent_update", "message": "busy", "details": []})
            route.fulfill(status=409, body=body, content_type="application/json")
        else:
            route.continue_()

    page.route("**/v1/members/*/rewards", flaky)
    page.get_by_label("Reward id").fill(REWARD)
    button = page.get_by_role("button", name="Buy reward")
    button.click()
    expect(page.get_by_role("alert")).to_contain_text("The API cannot be reached")
    button.click()
    expect(page.get_by_role("alert")).to_contain_text("Someone changed the member")
    button.click()
    expect(page.get_by_role("status")).to_contain_text(f"Bought 1 of {REWARD}")
    assert len(keys) == 3 and len(set(keys)) == 1, keys
    assert len(api("GET", f"/v1/members/{card}/rewards", 200)["attributions"]) == 1
    page.get_by_label("Reward id").fill(REWARD)
    page.get_by_role("button", name="Buy reward").click()
    expect(page.get_by_role("status")).to_contain_text("for 10 NQ points")
    assert len(keys) == 4 and keys[3] != keys[0]
    assert len(api("GET", f"/v1/members/{card}/rewards", 200)["attributions"]) == 2


def test_a_reward_held_is_used_once(signed_in: Any, api: Api) -> None:
    page = signed_in
    card = _member(api, "VIP-0007", points=100)
    bought = api(
        "POST",
        f"/v1/members/{card}/rewards",
        201,
        json={"reward_id": REWARD, "quantity": 3},
        headers={"Idempotency-Key": f"{card}-buy"},
    )
    open_member(page, card)
    held = page.get_by_label("Reward held")
    expect(held.locator("option")).to_have_count(1)
    expect(held.locator("option")).to_contain_text("3 of 3 left")
    expect(page.get_by_label("Quantity to use")).to_have_value("1")
    posts = _counting(page, "**/burns", "POST")
    page.get_by_role("button", name="Use reward").dblclick()
    expect(page.get_by_role("status")).to_contain_text(f"Used 1 of reward {bought['attribution_id']}: 2 left")
    assert len(posts) == 1 and posts[0], posts
    expect(page.get_by_label("Reward held").locator("option")).to_contain_text("2 of 3 left")
    page.get_by_label("Quantity to use").fill("5")
    page.get_by_role("button", name="Use reward").click()
    expect(page.get_by_role("alert")).to_contain_text("Fewer units of this reward are left than asked")
    for code, words in (
        ("already_burned", "already used in full"),
        ("reward_expired", "has expired"),
        ("burn_outside_validity", "outside its validity"),
    ):
        _refuse(page, "**/burns", 409 if code != "burn_outside_validity" else 422, code)
        page.get_by_label("Quantity to use").fill("1")
        page.get_by_role("button", name="Use reward").click()
        expect(page.get_by_role("alert")).to_contain_text(words)
        page.unroute("**/burns")
    attribution = api("GET", f"/v1/members/{card}/rewards", 200)["attributions"][0]
    assert attribution["burned"] == 1


def test_a_purchase_answering_after_another_member_opened_leaves_the_agent_there(
    signed_in: Any, api: Api
) -> None:
    page = signed_in
    card = _member(api, "VIP-0008", points=100)
    other = _member(api, "VIP-0009")
    open_member(page, card)
    _counting(page, "**/v1/members/*/rewards", "POST", delay=1500)
    page.get_by_label("Reward id").fill(REWARD)
    page.get_by_role("button", name="Buy reward").click()
    open_member(page, other)
    expect(page.get_by_role("status")).to_contain_text(f"(card {card})")
    expect(page.get_by_role("heading", name=f"Member {other}")).to_be_visible()
    expect(page.get_by_role("alert")).to_be_hidden()


def test_a_use_answering_after_sign_out_shows_nothing(signed_in: Any, api: Api) -> None:
    page = signed_in
    card = _member(api, "VIP-0010", points=100)
    headers = {"Idempotency-Key": f"{card}-buy"}
    api("POST", f"/v1/members/{card}/rewards", 201, json={"reward_id": REWARD}, headers=headers)
    open_member(page, card)
    _counting(page, "**/burns", "POST", delay=1500)
    page.get_by_role("button", name="Use reward").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("Signed out: the key is forgotten.")
    page.wait_for_timeout(2000)
    expect(page.get_by_role("status")).to_have_text("Signed out: the key is forgotten.")
    expect(page.get_by_role("alert")).to_be_hidden()
    assert page.locator("#member-view").inner_html() == ""


def test_a_key_refused_on_a_purchase_signs_out(signed_in: Any, api: Api) -> None:
    page = signed_in
    card = _member(api, "VIP-0011", points=100)
    open_member(page, card)
    _refuse(page, "**/v1/members/*/rewards", 401, "unauthorized")
    page.get_by_label("Reward id").fill(REWARD)
    page.get_by_role("button", name="Buy reward").click()
    expect(page.get_by_role("alert")).to_contain_text("revoked or has expired")
    expect(page.get_by_label("Admin API key")).to_be_visible()
