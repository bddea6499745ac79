"""The console's Audit log section on the real `GET /v1/audit` of the local stack: the seed's
writes newest first, filtered by resource, key and time range, paged with More, each record's
details as text; stale answers dropped, sign-out clearing it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from playwright.sync_api import expect

from tests.browser.seed import Seeded

UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$")
TITLE = "Audit log (newest first)"


def _open_audit(page: Any) -> Any:
    page.get_by_role("button", name="Audit log", exact=True).click()
    return page.get_by_role("table", name=TITLE)


def _show(page: Any) -> None:
    page.get_by_role("button", name="Show records").click()


def _column(table: Any, index: int) -> list[str]:
    return [text.strip() for text in table.locator(f"tbody tr td:nth-child({index})").all_inner_texts()]


def test_the_audit_log_lists_the_writes_newest_first_with_their_details(
    signed_in: Any, seeded: Seeded
) -> None:
    page = signed_in
    log = _open_audit(page)
    expect(log.locator("tbody tr").first).to_be_visible()
    times = _column(log, 1)
    assert all(UTC_TIME.match(t) for t in times), times
    assert times == sorted(times, reverse=True), times
    # the seed's program, by its resource
    page.get_by_label("Resource").fill(f"programs/{seeded.program_id}")
    _show(page)
    expect(log).to_be_focused()
    expect(log.locator("tbody tr").first).to_contain_text(f"programs/{seeded.program_id}")
    assert set(_column(log, 5)) == {f"programs/{seeded.program_id}"}
    creation = log.locator("tbody tr", has_text="PUT /v1/programs/{program_id}").last
    expect(creation).to_contain_text("201")
    toggle = creation.get_by_role("button", name="Details")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.press("Enter")  # keyboard reachable
    expect(toggle).to_have_attribute("aria-expanded", "true")
    details = creation.locator("pre")
    expect(details).to_be_visible()
    expect(details).to_contain_text("Summary: ")
    expect(details).to_contain_text(f"Ids: program_id {seeded.program_id}")
    toggle.click()
    expect(details).to_be_hidden()


def test_the_audit_log_is_filtered_by_key_and_time_range(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    key_id = seeded.admin_key.split(".")[2]
    log = _open_audit(page)
    page.get_by_label("Key id").fill(key_id)
    _show(page)
    expect(log.locator("tbody tr").first).to_be_visible()
    assert set(_column(log, 2)) == {key_id}
    # a range in the future holds nothing; one of the last days holds the seed's writes
    later = datetime.now(UTC) + timedelta(days=1)
    page.get_by_label("From (UTC)").fill(later.strftime("%Y-%m-%dT%H:%M"))
    _show(page)
    expect(page.locator("#audit-view")).to_have_text("Audit log (newest first): no record.")
    page.get_by_label("From (UTC)").fill((later - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("To (UTC)").fill(later.strftime("%Y-%m-%dT%H:%M"))
    _show(page)
    expect(log.locator("tbody tr").first).to_be_visible()
    # from after to: the API's refusal in words, nothing shown
    page.get_by_label("From (UTC)").fill(later.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("To (UTC)").fill((later - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    _show(page)
    expect(page.get_by_role("alert")).to_contain_text("`from` is after `to`")
    expect(page.get_by_role("alert")).to_contain_text("HTTP 422")
    expect(page.locator("#audit-view")).to_be_empty()
    # a key id that is not one: the field's refusal
    page.get_by_label("From (UTC)").fill("")
    page.get_by_label("To (UTC)").fill("")
    page.get_by_label("Key id").fill("not-a-key")
    _show(page)
    expect(page.get_by_role("alert")).to_contain_text("key_id")


def test_the_audit_log_is_paged_with_more(signed_in: Any) -> None:
    page = signed_in

    def smaller(route: Any) -> None:  # the real API's pages of two records, with its cursors
        url = urlsplit(route.request.url)
        query = dict(parse_qsl(url.query))
        route.continue_(url=urlunsplit(url._replace(query=urlencode({**query, "limit": "2"}))))

    page.route("**/v1/audit?*", smaller)
    log = _open_audit(page)
    expect(log.locator("tbody tr")).to_have_count(2)
    first_two = _column(log, 1)
    page.get_by_role("button", name="More audit records").click()
    expect(log.locator("tbody tr")).to_have_count(4)
    expect(log.locator("tbody tr").nth(2)).to_be_focused()
    times = _column(log, 1)
    assert times[:2] == first_two and times == sorted(times, reverse=True), times


def test_a_record_s_details_are_text_never_markup(signed_in: Any) -> None:
    page = signed_in
    hostile = '<img src=x onerror="document.body.dataset.pwned=1">'
    record = {
        "at": "2026-12-01T09:05:00Z",
        "key_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "method": "POST",
        "route": "/v1/members/{card_code}/adjustments",
        "object": f"members/{hostile}",
        "ids": {"card_code": hostile},
        "status": 201,
        "summary": f"reason_code goodwill, comment {hostile}",
        "request_id": "r-1",
    }
    page.route(
        "**/v1/audit?*",
        lambda route: route.fulfill(json={"items": [record], "next_cursor": None, "next": None}),
    )
    log = _open_audit(page)
    row = log.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_have_text("2026-12-01 09:05 UTC")
    row.get_by_role("button", name="Details").click()
    expect(row.locator("pre")).to_contain_text(f"Summary: reason_code goodwill, comment {hostile}")
    expect(page.locator("#audit-view img")).to_have_count(0)
    assert page.evaluate("document.body.dataset.pwned") is None


def test_the_list_asked_for_last_is_shown_and_sign_out_clears_it(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    log = _open_audit(page)
    expect(log.locator("tbody tr").first).to_be_visible()
    held: list[Any] = []

    def hold_the_program_filter(route: Any) -> None:
        if "object=programs" in route.request.url:
            held.append(route)  # answered later, after the next filter's answer
        else:
            route.continue_()

    page.route("**/v1/audit?*", hold_the_program_filter)
    page.get_by_label("Resource").fill(f"programs/{seeded.program_id}")
    _show(page)
    for _ in range(100):  # the route's handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the first filter was not sent"
    page.get_by_label("Resource").fill(f"members/{seeded.card}")
    _show(page)
    expect(log.locator("tbody tr").first).to_contain_text(f"members/{seeded.card}")
    held[0].continue_()  # the earlier filter's answer arrives last: dropped
    page.wait_for_timeout(500)
    assert set(_column(log, 5)) == {f"members/{seeded.card}"}
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#audit-view")).to_be_empty()
    expect(page.locator("#audit-object")).to_have_value("")
