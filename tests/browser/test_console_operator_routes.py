"""The console's journeys on the operator routes: adjust points (a new Idempotency-Key per
submit), search members by e-mail and card prefix, a member's timeline and lots, and the
"More" buttons that page through them with the API's cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_member
from tests.browser.seed import Api, Seeded

CARD = "CONSOLE-0002"
CUSTOMER = "cust-console-2"
EMAIL = "ada.console@example.com"


@pytest.fixture(scope="module")
def member(seeded: Seeded) -> str:
    """A member of the seeded program with 200 points, linked to a customer with an e-mail."""
    api = Api(seeded.api_url, seeded.admin_key)
    api("POST", f"/v1/programs/{seeded.program_id}/members", 201, json={"card_code": CARD})
    ordered_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    order = {"order_id": "console-ops-1", "amount": "200.00", "currency": "EUR", "ordered_at": ordered_at}
    api("POST", f"/v1/members/{CARD}/orders", 201, json=order)
    customer = {"first_name": "Ada", "last_name": "Console", "email": EMAIL}
    api("PUT", f"/v1/customers/{CUSTOMER}", 201, json=customer)
    api("PUT", f"/v1/members/{CARD}/customer", 200, json={"customer_id": CUSTOMER})
    return CARD


def _adjust(page: Any, kind: str, points: int, reason: str, comment: str) -> None:
    page.get_by_label("Points", exact=True).select_option(kind)
    page.get_by_label("Change (signed)").fill(str(points))
    page.get_by_label("Reason code").select_option(reason)
    page.get_by_label("Comment").fill(comment)
    page.get_by_role("button", name="Adjust points").click()


def test_an_operator_adjusts_points_and_sees_the_new_balance_and_the_ledger_entry(
    signed_in: Any, seeded: Seeded, member: str
) -> None:
    page = signed_in
    open_member(page, member)
    expect(page.locator("#nq-available")).to_have_text("200")
    _adjust(page, "nq", 50, "goodwill", "late delivery")
    expect(page.get_by_role("status")).to_contain_text("Adjusted +50 NQ points (goodwill): NQ 250")
    expect(page.locator("#nq-available")).to_have_text("250")
    ledger = page.get_by_role("table", name="Ledger (newest first)")
    expect(ledger.locator("tbody tr").first).to_contain_text("+50")
    expect(ledger.locator("tbody tr").first).to_contain_text("goodwill")  # the adjustment's reason
    # The same form sent again is another adjustment (a new Idempotency-Key per submit).
    _adjust(page, "q", -20, "correction", "double scan")
    expect(page.locator("#q-valid")).to_have_text("180")
    entries = Api(seeded.api_url, seeded.admin_key)("GET", f"/v1/members/{member}/ledger", 200)["entries"]
    assert [(entry["nq"], entry["q"]) for entry in entries[:2]] == [(0, -20), (50, 0)], entries[:3]
    # A zero change is refused in the page, before any request.
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if "/adjustments" in request.url else None)
    page.get_by_label("Change (signed)").fill("0")
    page.get_by_label("Reason code").select_option("goodwill")
    page.get_by_role("button", name="Adjust points").click()
    expect(page.get_by_role("alert")).to_contain_text("a whole number other than 0")
    assert sent == []


def test_a_member_is_found_by_e_mail_and_by_card_prefix(signed_in: Any, member: str) -> None:
    page = signed_in
    page.get_by_label("Search by").select_option("email")
    page.get_by_label("Search for").fill(EMAIL)
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table", name=f"Members matching {EMAIL}")
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results).to_contain_text(member)
    page.get_by_label("Search by").select_option("card_prefix")
    page.get_by_label("Search for").fill("CONSOLE-000")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table", name="Members matching CONSOLE-000")
    expect(results).to_contain_text("CONSOLE-0001")
    expect(results).to_contain_text(member)
    results.get_by_role("button", name=member).click()
    expect(page.get_by_role("heading", name=f"Member {member}")).to_be_visible()
    page.get_by_label("Search for").fill("nobody.console@example.com")
    page.get_by_label("Search by").select_option("email")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#search-results")).to_contain_text("no member found")


def test_a_member_timeline_lists_what_happened_newest_first(signed_in: Any, member: str) -> None:
    page = signed_in
    open_member(page, member)
    timeline = page.get_by_role("table", name="Timeline (newest first)")
    rows = timeline.locator("tbody tr")
    expect(rows.first).to_be_visible()
    cells = [[cell.inner_text() for cell in row.locator("td").all()] for row in rows.all()]
    assert cells and all(when and what and summary for when, what, summary in cells), cells
    times = [when for when, _, _ in cells]
    assert times == sorted(times, reverse=True), times


def _smaller_pages(page: Any, route_glob: str, limit: int) -> None:
    """The console's requests of these routes sent with a smaller `limit`: the real API then
    answers in several pages with its real cursors (the seed holds only a few items)."""

    def smaller(route: Any) -> None:
        url = urlsplit(route.request.url)
        query = dict(parse_qsl(url.query))
        route.continue_(url=urlunsplit(url._replace(query=urlencode({**query, "limit": str(limit)}))))

    page.route(route_glob, smaller)


def test_more_buttons_page_through_the_timeline_and_the_lots_with_the_keyboard(
    signed_in: Any, seeded: Seeded
) -> None:
    page = signed_in
    _smaller_pages(page, "**/v1/members/*/timeline?*", 2)
    _smaller_pages(page, "**/v1/members/*/lots?*", 3)
    open_member(page, seeded.card)
    # two earns, a burn and the upgrade: 4 timeline items; 2 NQ and 2 Q lots
    timeline = page.get_by_role("table", name="Timeline (newest first)")
    expect(timeline.locator("tbody tr")).to_have_count(2)
    more = page.get_by_role("button", name="More timeline items")
    more.focus()
    page.keyboard.press("Enter")
    expect(timeline.locator("tbody tr")).to_have_count(4)
    expect(timeline.locator("tbody tr").nth(2)).to_be_focused()
    # the timeline may hand a cursor out with a full last page: its next page is empty
    if more.count():
        more.click()
    expect(more).to_have_count(0)  # no next page: no button
    expect(timeline.locator("tbody tr")).to_have_count(4)
    cells = [row.split("\t")[0] for row in timeline.locator("tbody tr").all_inner_texts()]
    assert cells == sorted(cells, reverse=True), cells
    lots = page.get_by_role("table", name="Lots (soonest expiry first)")
    expect(lots.locator("tbody tr")).to_have_count(3)
    page.get_by_role("button", name="More lots").click()
    expect(lots.locator("tbody tr")).to_have_count(4)
    expect(page.get_by_role("button", name="More lots")).to_have_count(0)
    expiries = [row.split("\t")[5] for row in lots.locator("tbody tr").all_inner_texts()]
    assert expiries == sorted(expiries), expiries


def test_no_more_button_when_the_search_has_one_page(signed_in: Any, member: str) -> None:
    page = signed_in
    page.get_by_label("Search by").select_option("email")
    page.get_by_label("Search for").fill(EMAIL)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("table", name=f"Members matching {EMAIL}").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_role("button", name="More members")).to_have_count(0)
    _smaller_pages(page, "**/v1/members?*", 1)
    page.get_by_label("Search by").select_option("card_prefix")
    page.get_by_label("Search for").fill("CONSOLE-000")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table", name="Members matching CONSOLE-000")
    expect(results.locator("tbody tr")).to_have_count(1)
    page.get_by_role("button", name="More members").click()
    expect(results.locator("tbody tr")).to_have_count(2)
    expect(results).to_contain_text("CONSOLE-0001")
    expect(results).to_contain_text(member)
    # DynamoDB may answer a full last page with a cursor (moto does once other cards sort after
    # these): its More then reads an empty page, adds nothing and goes
    more = page.get_by_role("button", name="More members")
    if more.count():
        more.click()
        expect(more).to_have_count(0)
    expect(results.locator("tbody tr")).to_have_count(2)
    expect(more).to_have_count(0)


def test_a_member_shows_its_linked_customer(signed_in: Any, seeded: Seeded, member: str) -> None:
    """The member view names the customer the card is linked to (id, name, e-mail); a card with
    no link says none."""
    page = signed_in
    open_member(page, member)
    linked = page.locator("dt:has-text('Linked customer') + dd")
    expect(linked).to_have_text(f"{CUSTOMER} · Ada Console · {EMAIL}")
    api = Api(seeded.api_url, seeded.admin_key)
    api("POST", f"/v1/programs/{seeded.program_id}/members", 201, json={"card_code": "LINKLESS-0001"})
    open_member(page, "LINKLESS-0001")
    expect(page.locator("dt:has-text('Linked customer') + dd")).to_have_text("none")


def test_a_search_moves_the_focus_to_its_results(signed_in: Any, member: str) -> None:
    """A keyboard or screen-reader user lands on the results of a search (the status line still
    says how many); with none, on the line that says so."""
    page = signed_in
    page.get_by_label("Search by").select_option("email")
    page.get_by_label("Search for").fill(EMAIL)
    page.keyboard.press("Enter")
    expect(page.get_by_role("table", name=f"Members matching {EMAIL}")).to_be_focused()
    expect(page.get_by_role("status")).to_contain_text("1 member(s) found")
    page.get_by_label("Search for").fill("nobody.console@example.com")
    page.keyboard.press("Enter")
    expect(page.locator("#search-results p")).to_be_focused()
    expect(page.get_by_role("status")).to_contain_text("0 member(s) found")


def test_the_timeline_says_what_happened_in_words(signed_in: Any, seeded: Seeded) -> None:
    """The What column names each item's source and kind in words ("tier change: upgrade run",
    "points: earn"), not the API's codes (`tier_change`, `ledger`)."""
    page = signed_in
    open_member(page, seeded.card)
    rows = page.get_by_role("table", name="Timeline (newest first)").locator("tbody tr")
    expect(rows).to_have_count(4)  # two earns, a burn and the upgrade
    what = sorted(rows.locator("td:nth-child(2)").all_inner_texts())
    assert what == ["points: burn", "points: earn", "points: earn", "tier change: upgrade run"], what


def test_the_member_opened_last_is_the_one_shown(signed_in: Any, seeded: Seeded, member: str) -> None:
    """An agent opens a card, then another before the first answered: the slower answer of the
    first does not replace the second."""
    page = signed_in
    slow = f"**/v1/members/{seeded.card}"

    def late(route: Any) -> None:
        page.wait_for_timeout(800)
        route.continue_()

    page.route(slow, late)
    card = page.get_by_label("Card code", exact=True)
    card.fill(seeded.card)
    page.get_by_role("button", name="Open member").click()
    card.fill(member)
    page.get_by_role("button", name="Open member").click()
    page.get_by_role("heading", name=f"Member {member}").wait_for()
    page.wait_for_timeout(1500)  # the first answer has come meanwhile
    expect(page.get_by_role("heading", name=f"Member {member}")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Member {seeded.card}")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text(f"Member {member} loaded")


def test_the_search_made_last_is_the_one_shown(signed_in: Any, member: str) -> None:
    """A search, then another before the first answered: the first's slower answer does not
    replace the second's results."""
    page = signed_in

    def late(route: Any) -> None:
        if "card_prefix" in route.request.url:
            page.wait_for_timeout(800)
        route.continue_()

    page.route("**/v1/members?*", late)
    page.get_by_label("Search by").select_option("card_prefix")
    page.get_by_label("Search for").fill("CONSOLE-000")
    page.get_by_role("button", name="Search").click()
    page.get_by_label("Search by").select_option("email")
    page.get_by_label("Search for").fill(EMAIL)
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table", name=f"Members matching {EMAIL}")
    results.wait_for()
    page.wait_for_timeout(1500)  # the first answer has come meanwhile
    expect(results).to_be_visible()
    expect(page.get_by_role("table", name="Members matching CONSOLE-000")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("1 member(s) found")


def test_the_ledger_names_an_entry_kind_in_words(signed_in: Any, seeded: Seeded) -> None:
    """An entry kind of two words (`payment_reversal`, here played by the page's network on the
    seed's newest entry) reads as words in the ledger, as in the timeline."""
    page = signed_in

    def reversal(route: Any) -> None:
        answer = route.fetch()
        body = answer.json()
        body["entries"][0]["kind"] = "payment_reversal"
        route.fulfill(response=answer, json=body)

    page.route("**/v1/members/*/ledger?*", reversal)
    open_member(page, seeded.card)
    newest = page.get_by_role("table", name="Ledger (newest first)").locator("tbody tr").first
    expect(newest.locator("td").nth(1)).to_have_text("payment reversal")
