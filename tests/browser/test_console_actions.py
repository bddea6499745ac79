"""The console's actions under a user's hands: a double click or a retry of the adjust form
applies one adjustment; a refused field is explained; a member's rewards are all reachable."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_member
from tests.browser.seed import Api, Seeded

CARD = "ACTIONS-0001"  # not a CONSOLE- card: the search tests count those


@pytest.fixture(scope="module")
def member(seeded: Seeded) -> str:
    """A member of the seeded program with no points yet."""
    api = Api(seeded.api_url, seeded.admin_key)
    api("POST", f"/v1/programs/{seeded.program_id}/members", 201, json={"card_code": CARD})
    return CARD


def _ledger(seeded: Seeded, card: str) -> list[dict[str, Any]]:
    return list(Api(seeded.api_url, seeded.admin_key)("GET", f"/v1/members/{card}/ledger", 200)["entries"])


def _fill_adjustment(page: Any, points: int, reason: str) -> None:
    page.get_by_label("Change (signed)").fill(str(points))
    page.get_by_label("Reason code").select_option(reason)
    page.get_by_label("Comment").fill("audit")


def test_a_double_click_on_adjust_points_adjusts_once(signed_in: Any, seeded: Seeded, member: str) -> None:
    page = signed_in
    open_member(page, member)
    before = len(_ledger(seeded, member))
    posts: list[str] = []

    def slow(route: Any) -> None:  # the API answers slowly: the second click lands meanwhile
        posts.append(route.request.headers.get("idempotency-key", ""))
        page.wait_for_timeout(300)
        route.continue_()

    page.route("**/adjustments", slow)
    _fill_adjustment(page, 7, "goodwill")
    page.get_by_role("button", name="Adjust points").dblclick()
    expect(page.get_by_role("status")).to_contain_text("Adjusted +7 NQ points")
    page.wait_for_timeout(500)
    assert len(posts) == 1, posts
    assert len(_ledger(seeded, member)) == before + 1


def test_a_retry_after_a_lost_answer_reuses_its_idempotency_key(
    signed_in: Any, seeded: Seeded, member: str
) -> None:
    page = signed_in
    open_member(page, member)
    before = len(_ledger(seeded, member))
    keys: list[str] = []
    lost = {"first": True}

    def lose_the_first_answer(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if lost.pop("first", False):
            route.fetch()  # the API applies it; the answer never reaches the page
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/adjustments", lose_the_first_answer)
    _fill_adjustment(page, 3, "goodwill")
    page.get_by_role("button", name="Adjust points").click()
    expect(page.get_by_role("alert")).to_contain_text("The API cannot be reached")
    page.get_by_role("button", name="Adjust points").click()  # the agent tries again
    expect(page.get_by_role("status")).to_contain_text("Adjusted +3 NQ points")
    assert len(keys) == 2 and keys[0] == keys[1], keys
    assert len(_ledger(seeded, member)) == before + 1
    # Another change afterwards is another adjustment, under a new key.
    _fill_adjustment(page, 4, "goodwill")
    page.get_by_role("button", name="Adjust points").click()
    expect(page.get_by_role("status")).to_contain_text("Adjusted +4 NQ points")
    assert len(keys) == 3 and keys[2] != keys[0]
    assert len(_ledger(seeded, member)) == before + 2


def test_a_refused_field_is_explained_in_words(signed_in: Any, member: str) -> None:
    page = signed_in
    open_member(page, member)
    # the API takes 100,000,000 points at most (a comment past its 500 characters is no longer
    # typed: the field takes 500, test_console_agent.py)
    _fill_adjustment(page, 100_000_001, "goodwill")
    page.get_by_role("button", name="Adjust points").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("validation_error, HTTP 422")
    expect(alert.get_by_role("listitem")).to_have_text(
        "points: Input should be less than or equal to 100000000 (less_than_equal)"
    )


def test_the_reason_code_is_chosen_among_the_apis_codes(signed_in: Any, seeded: Seeded, member: str) -> None:
    page = signed_in
    open_member(page, member)
    reason = page.get_by_label("Reason code")
    values = reason.locator("option").evaluate_all("options => options.map((option) => option.value)")
    assert values == ["goodwill", "correction", "fraud", "migration", "other"], values
    page.get_by_label("Change (signed)").fill("2")
    reason.select_option("migration")
    page.get_by_role("button", name="Adjust points").click()
    expect(page.get_by_role("status")).to_contain_text("Adjusted +2 NQ points (migration)")
    assert _ledger(seeded, member)[0]["reason_code"] == "migration"


def test_the_reason_other_asks_for_a_comment_before_any_request(
    signed_in: Any, seeded: Seeded, member: str
) -> None:
    page = signed_in
    open_member(page, member)
    before = len(_ledger(seeded, member))
    posts: list[str] = []
    page.on(
        "request", lambda request: posts.append(request.url) if request.url.endswith("/adjustments") else None
    )
    page.get_by_label("Change (signed)").fill("3")
    page.get_by_label("Reason code").select_option("other")
    page.get_by_label("Comment").fill("   ")
    page.get_by_role("button", name="Adjust points").click()
    expect(page.get_by_role("alert")).to_contain_text("The reason other needs a comment that says why.")
    expect(page.get_by_label("Comment")).to_be_focused()
    assert posts == [] and len(_ledger(seeded, member)) == before
    page.get_by_label("Comment").fill("points promised by phone")
    page.get_by_role("button", name="Adjust points").click()
    expect(page.get_by_role("status")).to_contain_text("Adjusted +3 NQ points (other)")
    assert _ledger(seeded, member)[0]["comment"] == "points promised by phone"


@pytest.fixture(scope="module")
def rewarded(seeded: Seeded) -> str:
    """A member who bought three rewards of the seed's catalog."""
    api = Api(seeded.api_url, seeded.admin_key)
    card = "ACTIONS-0002"
    api("POST", f"/v1/programs/{seeded.program_id}/members", 201, json={"card_code": card})
    adjustment = {"kind": "nq", "points": 100, "reason_code": "goodwill"}
    api("POST", f"/v1/members/{card}/adjustments", 201, json=adjustment, headers={"Idempotency-Key": card})
    for n in range(3):
        headers = {"Idempotency-Key": f"{card}-buy-{n}"}
        api("POST", f"/v1/members/{card}/rewards", 201, json={"reward_id": "seed-gift-2"}, headers=headers)
    return card


def test_every_reward_of_a_member_is_reached_with_more(signed_in: Any, rewarded: str) -> None:
    """Pages of one reward (the console's limit rewritten on the way to the real API): the
    rewards past the first page come with "More rewards", as the lots and the timeline do."""
    page = signed_in

    def one_a_page(route: Any) -> None:
        url = urlsplit(route.request.url)
        query = urlencode({**dict(parse_qsl(url.query)), "limit": "1"})
        route.continue_(url=urlunsplit(url._replace(query=query)))

    page.route("**/v1/members/*/rewards?*", one_a_page)
    open_member(page, rewarded)
    rows = page.get_by_role("table", name="Rewards").locator("tbody tr")
    expect(rows).to_have_count(1)
    more = page.get_by_role("button", name="More rewards")
    for shown in (2, 3):
        more.focus()
        page.keyboard.press("Enter")
        expect(rows).to_have_count(shown)
        expect(rows.nth(shown - 1)).to_be_focused()
    expect(more).to_have_count(0)
    expect(rows.filter(has_text="seed-gift-2")).to_have_count(3)
    expect(rows.filter(has_text="available")).to_have_count(3)  # each one's state, as the API says


def test_an_erased_card_says_so(signed_in: Any, seeded: Seeded, member: str) -> None:
    """An agent opening an erased card sees that its personal data was erased, and when; a card
    not erased shows no such line."""
    api = Api(seeded.api_url, seeded.admin_key)
    card = "ACTIONS-ERASED"
    api(
        "POST",
        f"/v1/programs/{seeded.program_id}/members",
        201,
        json={"card_code": card, "customer_ref": "crm-7"},
    )
    erased = api("POST", f"/v1/members/{card}/erasure", 200, json={"reason_code": "subject_request"})
    assert api("GET", f"/v1/members/{card}", 200)["erased_at"] == erased["erased_at"]
    page = signed_in
    open_member(page, card)
    line = page.locator("dt:has-text('Personal data') + dd")
    expect(line).to_contain_text("erased")
    expect(line).to_contain_text("UTC")
    open_member(page, member)
    expect(page.locator("dt", has_text="Personal data")).to_have_count(0)


def test_a_key_refused_while_signed_in_signs_out_and_says_why(signed_in: Any, member: str) -> None:
    """The key is revoked or expires while the agent works: the next call's 401 (API Gateway's
    answer, played here by the page's network) signs the console out with a clear message."""
    page = signed_in
    page.route("**/v1/members/**", lambda route: route.fulfill(status=401, body='{"message":"Unauthorized"}'))
    page.get_by_label("Card code", exact=True).fill(member)
    page.get_by_role("button", name="Open member").click()
    expect(page.get_by_role("alert")).to_contain_text("revoked or has expired")
    expect(page.get_by_label("Admin API key")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_a_members_rewards_are_named_with_their_id_beside(signed_in: Any, rewarded: str) -> None:
    """The rewards table names each reward (the catalog's name, one read per reward, not per
    row), its id kept beside it; a reward whose name cannot be read shows its id."""
    page = signed_in
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if "/v1/rewards/" in r.url else None)
    open_member(page, rewarded)
    rows = page.get_by_role("table", name="Rewards").locator("tbody tr")
    expect(rows).to_have_count(3)
    for n in range(3):
        cell = rows.nth(n).locator("td").first
        expect(cell).to_contain_text("Seed gift 2")
        expect(cell).to_contain_text("seed-gift-2")
    assert len(reads) == 1, reads  # three rows of one reward: one read
    page.route("**/v1/rewards/*", lambda route: route.fulfill(status=404, body='{"code":"reward_not_found"}'))
    open_member(page, rewarded)
    expect(rows).to_have_count(3)
    expect(rows.first.locator("td").first).to_have_text("seed-gift-2")


def test_the_ledger_and_the_timeline_show_an_adjustments_comment_as_text(
    signed_in: Any, seeded: Seeded, member: str
) -> None:
    """The comment an agent left is shown with its adjustment (the admin key reads it from the
    ledger), as text: markup in it is never made into elements."""
    page = signed_in
    open_member(page, member)
    comment = "<b>late</b> parcel & <img src=x onerror=alert(1)>"
    page.get_by_label("Change (signed)").fill("6")
    page.get_by_label("Reason code").select_option("goodwill")
    page.get_by_label("Comment").fill(comment)
    page.get_by_role("button", name="Adjust points").click()
    expect(page.get_by_role("status")).to_contain_text("Adjusted +6 NQ points")
    ledger = page.get_by_role("table", name="Ledger (newest first)")
    header = ledger.locator("thead th").all_inner_texts()
    assert "Comment" in header, header
    newest = ledger.locator("tbody tr").first.locator("td")
    expect(newest.nth(header.index("Comment"))).to_have_text(comment)
    timeline = page.get_by_role("table", name="Timeline (newest first)")
    expect(timeline.locator("tbody tr").filter(has_text="adjustment +6 NQ")).to_contain_text(comment)
    assert page.locator("#member-view b, #member-view img").count() == 0


def test_a_refused_debit_lists_what_was_asked_and_what_is_held(signed_in: Any, member: str) -> None:
    """A detail with no message of its own (insufficient_points: `field`, `requested`,
    `available`) shows its values, not the bare field name."""
    page = signed_in
    open_member(page, member)
    _fill_adjustment(page, -99_999, "fraud")
    page.get_by_role("button", name="Adjust points").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("insufficient_points, HTTP 409")
    expect(alert.get_by_role("listitem")).to_have_text(
        re.compile(r"^points: requested -99999, available \d+$")
    )
