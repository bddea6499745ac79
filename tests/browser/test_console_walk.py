"""Defects found walking the console as its agents do on a busy day: a gift card looked up
while an earlier look-up was on its way, a refused action leaving the keyboard's focus
nowhere, and the tables on a phone's width."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import open_member, sign_in
from tests.browser.seed import Api, Seeded

PHONE = {"width": 375, "height": 800}


def _slow(page: Any, ms: int = 1000) -> Any:
    def handler(route: Any) -> None:
        page.wait_for_timeout(ms)
        route.continue_()

    return handler


def test_the_number_looked_up_last_is_the_one_shown(signed_in: Any, seeded: Seeded) -> None:
    """The gift card's slower answer came after the coupon's and replaced it: the agent read
    the gift card's status under the coupon's number typed in the field."""
    page = signed_in
    page.route(f"**/v1/instruments/{seeded.gift_card}", _slow(page))
    page.get_by_role("button", name="Gift cards & coupons").click()
    field = page.get_by_label("Gift card or coupon number")
    field.fill(seeded.gift_card)
    page.get_by_role("button", name="Look up").click()
    field.fill(seeded.coupon)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", name=f"coupon {seeded.coupon}")).to_be_visible()
    page.wait_for_timeout(1500)  # the gift card's late answer has come and gone
    expect(page.get_by_role("heading", name=f"coupon {seeded.coupon}")).to_be_visible()
    expect(page.locator("#instrument-view")).not_to_contain_text(seeded.gift_card)
    expect(page.get_by_role("status")).to_have_text(f"Found {seeded.coupon}.")


def test_a_number_still_looked_up_at_sign_out_is_not_shown_after(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    page.route(f"**/v1/instruments/{seeded.gift_card}", _slow(page))
    page.get_by_role("button", name="Gift cards & coupons").click()
    page.get_by_label("Gift card or coupon number").fill(seeded.gift_card)
    page.get_by_role("button", name="Look up").click()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, seeded.admin_key)
    page.get_by_role("button", name="Sign out").wait_for()
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Gift cards & coupons").click()
    expect(page.locator("#instrument-view")).to_be_empty()
    expect(page.get_by_role("status")).not_to_contain_text(seeded.gift_card)


def test_a_refused_adjustment_leaves_the_focus_on_its_button(signed_in: Any, seeded: Seeded) -> None:
    """The button is disabled while its request is on its way, which took the focus away: after
    the API's refusal, the keyboard was back at the top of the page (focus on the body)."""
    page = signed_in
    open_member(page, seeded.card)
    page.get_by_label("Change (signed)").fill("-99999999")
    button = page.get_by_role("button", name="Adjust points")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("insufficient_points")
    expect(button).to_be_focused()


def test_a_refused_key_action_leaves_the_focus_on_its_button(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    page.get_by_role("button", name="API keys", exact=True).click()
    page.get_by_role("table", name=re.compile("API keys")).wait_for()
    page.get_by_label("Name", exact=True).fill("expired already")
    page.get_by_label("shop", exact=True).check()
    page.get_by_label("Expires (UTC, optional)").fill("2020-01-01T00:00")
    create = page.get_by_role("button", name="Create key")
    create.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("expires_in_past")
    expect(create).to_be_focused()
    own = seeded.admin_key.split(".")[2]
    page.get_by_role("button", name=f"Revoke key {own}").click()
    page.get_by_label("Type the key id to confirm").fill(own)
    revoke = page.get_by_role("button", name="Revoke key", exact=True)
    revoke.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("own_key")
    expect(revoke).to_be_focused()


def _fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px phone"


def test_wide_tables_scroll_in_their_box_on_a_phone(signed_in: Any, seeded: Seeded) -> None:
    """On a 375 px phone the member's lots and ledger, the imports, the jobs, the audit log and
    the keys made the whole page scroll sideways (up to 1,475 px), header and forms with it."""
    page = signed_in
    page.set_viewport_size(PHONE)
    open_member(page, seeded.card)
    page.locator("#lots table").wait_for()
    _fits(page)
    ledger = page.locator(".table-scroll", has=page.get_by_role("table", name="Ledger (newest first)"))
    assert ledger.evaluate("box => box.scrollWidth > box.clientWidth")  # it scrolls in its box
    for section, table in [
        ("Imports", "Recent imports"),
        ("Jobs", re.compile("Runs")),
        ("Audit log", re.compile("Audit log")),
        ("API keys", re.compile("API keys")),
    ]:
        page.get_by_role("button", name=section, exact=True).click()
        page.get_by_role("table", name=table).wait_for()
        _fits(page)


def test_programs_answering_after_the_agent_left_are_dropped(signed_in: Any, seeded: Seeded) -> None:
    """The programs read when the section opened answer late: after the agent moved to Members
    the status line said "1 program(s)." there, and after sign-out the next agent's session
    held the group's programs."""
    page = signed_in
    page.route("**/v1/programs?*", _slow(page))
    page.get_by_role("button", name="Programs", exact=True).click()
    page.get_by_role("button", name="Members", exact=True).click()
    page.wait_for_timeout(1500)
    expect(page.get_by_role("status")).not_to_contain_text("program")
    page.get_by_role("button", name="Programs", exact=True).click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("Signed out")
    page.wait_for_timeout(1500)
    expect(page.get_by_role("status")).to_contain_text("Signed out")
    expect(page.locator("#programs-view")).to_be_empty()
    page.unroute("**/v1/programs?*")
    page.get_by_role("button", name="Sign in").wait_for()
    sign_in(page, seeded.admin_key)
    page.get_by_role("button", name="Programs", exact=True).click()
    expect(page.get_by_role("table", name="Programs")).to_contain_text(seeded.program_id)


def test_a_double_click_on_upload_sends_the_file_once(signed_in: Any, seeded: Seeded) -> None:
    """The Upload button stayed enabled while the file went up: a double click asked two upload
    tickets and put the file twice, two versions, so two imports (the second a duplicate)."""
    page = signed_in
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.method) if r.method in ("POST", "PUT") else None)
    page.route("**/v1/imports/uploads", _slow(page, 500))
    name = f"demo_masterreward_{seeded.program_id}_20261101.csv"
    content = (
        b"external_id;name;monetary;nqp_value;holding_days;validity_interval_count;"
        b"validity_interval_type;forced_validity;is_limited;max_attribution_count\n"
        b"walk-gift;Walk gift;0;10;0;1;month;0;1;100\n"
    )
    page.get_by_role("button", name="Upload a file").click()
    page.get_by_label("Partner file (CSV)").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="Upload", exact=True).dblclick()
    expect(page.get_by_role("status")).to_contain_text(f"Uploaded {name}")
    page.wait_for_timeout(1000)
    assert sent == ["POST", "PUT"], sent


def _pick_file(page: Any, name: str) -> None:
    page.get_by_role("button", name="Upload a file").click()
    content = b"external_id;name;monetary;nqp_value\nwalk;Walk;0;10\n"
    page.get_by_label("Partner file (CSV)").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="Upload", exact=True).click()


def test_an_upload_ending_after_the_agent_moved_on_or_signed_out(signed_in: Any, seeded: Seeded) -> None:
    """An upload that ended after the agent had moved to Members took them to Imports (focus
    and all); one that ended after sign-out put its file name in the next session's storage,
    and the next agent's Imports watched it."""
    page = signed_in
    page.route("**/v1/imports/uploads", _slow(page))
    moved = f"demo_masterreward_{seeded.program_id}_20261102.csv"
    _pick_file(page, moved)
    page.get_by_role("button", name="Members", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Uploaded {moved}")
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_focused()
    page.get_by_role("button", name="Imports", exact=True).click()
    expect(page.get_by_role("table", name=f"Imports of {moved}")).to_be_visible()
    page.unroute("**/v1/imports/uploads")

    def slow_put(route: Any) -> None:  # the file itself going up (a big one)
        if route.request.method == "PUT":
            page.wait_for_timeout(1000)
        route.continue_()

    page.route(re.compile(r".*"), slow_put)
    gone = f"demo_masterreward_{seeded.program_id}_20261103.csv"
    _pick_file(page, gone)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_timeout(1500)  # the upload has ended
    expect(page.get_by_role("status")).to_contain_text("Signed out")
    assert page.evaluate("sessionStorage.length") == 0
    sign_in(page, seeded.admin_key)
    page.get_by_role("button", name="Imports", exact=True).click()
    expect(page.locator("#imports-view")).to_contain_text("No file watched by name")


def test_the_report_asked_for_last_is_the_one_shown_and_none_after_sign_out(
    signed_in: Any, seeded: Seeded
) -> None:
    """A report asked for before another (or before sign-out) answered late: it replaced the
    report shown, and was saved to the disk (its link clicked) in the next agent's session."""
    page = signed_in
    older, newer = seeded.import_files
    downloads: list[str] = []
    page.on("download", lambda d: downloads.append(d.suggested_filename))
    page.get_by_role("button", name="Imports", exact=True).click()
    rows = page.get_by_role("table", name="Recent imports").locator("tbody tr")
    older_id = rows.filter(has_text=older).locator("td").nth(1).inner_text()
    page.route(f"**/v1/imports/{older_id}/report", _slow(page))
    rows.filter(has_text=older).get_by_role("button", name="Download report").click()
    rows.filter(has_text=newer).get_by_role("button", name="Download report").click()
    expect(page.locator("#report-title")).to_contain_text(newer)
    page.wait_for_timeout(1500)  # the older report's late answer has come and gone
    expect(page.locator("#report-title")).to_contain_text(newer)
    assert downloads == [downloads[0]] and older_id not in downloads[0], downloads
    rows.filter(has_text=older).get_by_role("button", name="Download report").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_timeout(1500)
    expect(page.locator("#report-view")).to_be_empty()
    expect(page.get_by_role("status")).to_contain_text("Signed out")
    assert len(downloads) == 1, downloads


def test_an_adjustment_answering_after_the_agent_moved_on(signed_in: Any, seeded: Seeded) -> None:
    """The adjustment's answer read its card again: the agent who had opened another member
    meanwhile was taken back to the adjusted one, and after sign-out the card was read with no
    key, a 401 shown on the sign-in page."""
    page = signed_in
    card, other = "WALK-0001", "WALK-0002"  # the seed's card is left as the other tests read it
    api = Api(seeded.api_url, seeded.admin_key)
    for code in (card, other):
        api("POST", f"/v1/programs/{seeded.program_id}/members", 201, json={"card_code": code})
    page.route(f"**/v1/members/{card}/adjustments", _slow(page))
    open_member(page, card)
    page.get_by_label("Change (signed)").fill("3")
    page.get_by_role("button", name="Adjust points").click()
    open_member(page, other)
    expect(page.get_by_role("status")).to_contain_text(f"Adjusted +3 NQ points of card {card}")
    expect(page.get_by_role("heading", name=f"Member {other}")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Member {card}")).to_have_count(0)
    open_member(page, card)
    page.get_by_label("Change (signed)").fill("4")
    page.get_by_role("button", name="Adjust points").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_timeout(1500)
    expect(page.get_by_role("status")).to_contain_text("Signed out")
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(page.locator("#member-view")).to_be_empty()


def test_cancel_and_hide_the_secret_leave_the_focus_in_the_keys_section(
    signed_in: Any, seeded: Seeded
) -> None:
    """Cancel of a rotation or revocation, and "I have copied it: hide it", removed the button
    that had the focus: the keyboard was back at the top of the page."""
    page = signed_in
    page.get_by_role("button", name="API keys", exact=True).click()
    page.get_by_role("table", name=re.compile("API keys")).wait_for()
    shop = seeded.shop_key.split(".")[2]
    for action in ("Rotate", "Revoke"):
        page.get_by_role("button", name=f"{action} key {shop}").click()
        page.get_by_role("button", name="Cancel").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#key-action")).to_be_empty()
        expect(page.get_by_role("button", name=f"{action} key {shop}")).to_be_focused()
    page.get_by_label("Name", exact=True).fill("walk hide")
    page.get_by_label("partner", exact=True).check()
    page.get_by_role("button", name="Create key").click()
    hide = page.get_by_role("button", name="I have copied it: hide it")
    hide.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#keys-secret")).to_be_hidden()
    expect(page.get_by_role("button", name="Create key")).to_be_focused()


def test_a_report_and_its_long_file_name_fit_a_phone(signed_in: Any, seeded: Seeded) -> None:
    """The report's "Save <file>.<import>.report.json again" link, one unbroken word, pushed
    the page to 491 px on a 375 px phone."""
    page = signed_in
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Imports", exact=True).click()
    rows = page.get_by_role("table", name="Recent imports").locator("tbody tr")
    with page.expect_download():
        rows.filter(has_text=seeded.import_files[0]).get_by_role("button", name="Download report").click()
    page.locator("#report-file").wait_for()
    _fits(page)
