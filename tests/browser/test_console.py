"""The operator console in a real browser: sign in and out (with the mouse and with the keyboard
only), a refused key, a member's balances, lots with their expiry, tier and history, rewards and chart, the programs and their tiers, a partner file uploaded through the
presigned flow and watched until its import completes, its report downloaded, and a gift card
and a coupon looked up. Assertions are on what the page shows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import open_member, sign_in
from tests.browser.seed import GROUP, Seeded

GMT1 = timezone(timedelta(hours=1))  # partner file names carry the day in GMT+1


def test_sign_in_keeps_the_key_out_of_the_url_and_sign_out_forgets_it(page: Any, seeded: Seeded) -> None:
    sign_in(page, seeded.admin_key)
    expect(page.locator("#who")).to_have_text(f"Loyalty group {GROUP}")
    expect(page.get_by_role("status")).to_contain_text(f"Signed in to loyalty group {GROUP}")
    assert seeded.admin_key not in page.url
    assert page.evaluate("sessionStorage.getItem('loyalty-console-api-key')") == seeded.admin_key
    page.reload()  # the session survives a reload of the tab
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Admin API key")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Signed out")
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_label("Admin API key")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()


def test_a_bad_key_and_a_shop_key_are_refused_with_a_clear_message(page: Any, seeded: Seeded) -> None:
    sign_in(page, seeded.admin_key[:-4] + "zzzz")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The key was refused")
    expect(alert).to_contain_text("unauthorized, HTTP 401")
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    sign_in(page, seeded.shop_key)
    expect(alert).to_contain_text("it needs an admin key")
    expect(alert).to_contain_text("forbidden, HTTP 403")
    assert page.evaluate("sessionStorage.length") == 0


def test_keyboard_only_sign_in_and_member_lookup(page: Any, seeded: Seeded) -> None:
    # The key field has the focus when the page opens; nothing below uses the mouse.
    expect(page.get_by_label("Admin API key")).to_be_focused()
    page.keyboard.type(seeded.admin_key)
    page.keyboard.press("Enter")
    card_field = page.get_by_label("Card code", exact=True)
    expect(card_field).to_be_focused()
    page.keyboard.type(seeded.card)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Open member")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Member {seeded.card}")).to_be_focused()
    expect(page.locator("#nq-available")).to_have_text("650")
    # The sections are reached with Tab and Enter too.
    page.get_by_role("button", name="Programs").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Programs and tiers")).to_be_focused()


def test_a_member_shows_balances_lots_tier_history_and_the_points_chart(
    signed_in: Any, seeded: Seeded
) -> None:
    page = signed_in
    open_member(page, seeded.card)
    # 600 + 150 earned (1 point per EUR), 100 burned; the upgrade run made the member Silver.
    expect(page.locator("#nq-available")).to_have_text("650")
    expect(page.locator("#q-valid")).to_have_text("750")
    expect(page.locator("#tier-name")).to_have_text("Silver")
    view = page.locator("#member-view")
    expect(view).to_contain_text(seeded.program_id)
    history = page.get_by_role("table", name="Tier history")
    expect(history.get_by_role("row")).to_have_count(2)  # the header and the upgrade
    expect(history).to_contain_text("upgrade run")
    expect(history.get_by_role("row").nth(1)).to_contain_text("Blue")
    expect(history.get_by_role("row").nth(1)).to_contain_text("Silver")
    # The first NQ lot (600) lost the 100 burned; the second holds its 150. Q points are not
    # burned. Each lot expires a year after its order (the program's validity).
    lots = page.get_by_role("table", name="Lots (soonest expiry first)")
    expect(lots.locator("tbody tr")).to_have_count(4)
    rows = [row.split("\t") for row in lots.locator("tbody tr").all_inner_texts()]
    left = {kind: sorted(int(row[1]) for row in rows if row[0] == kind) for kind in ("NQ", "Q")}
    assert left == {"NQ": [150, 500], "Q": [150, 600]}, rows
    nq_600 = next(row for row in rows if row[0] == "NQ" and row[1] == "500")
    assert nq_600[2] == "600" and nq_600[6] == "console-1", nq_600
    earned_on = datetime.strptime(nq_600[3], "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
    assert abs(earned_on - (datetime.now(UTC) - timedelta(days=3))) < timedelta(hours=1), nq_600
    assert nq_600[5] == f"{earned_on.replace(year=earned_on.year + 1):%Y-%m-%d %H:%M} UTC", nq_600
    assert [row[5] for row in rows] == sorted(row[5] for row in rows), rows  # soonest expiry first
    ledger = page.get_by_role("table", name="Ledger (newest first)")
    expect(ledger.locator("tbody tr")).to_have_count(3)
    expect(ledger.locator("tbody tr").first).to_contain_text("burn")
    expect(ledger.locator("tbody tr").first).to_contain_text("-100")
    expect(view).to_contain_text("Rewards: no reward.")
    chart = page.locator("#points-chart svg")
    days = {(datetime.now(UTC) - timedelta(days=n)).date().isoformat() for n in (1, 0)}
    label = chart.get_attribute("aria-label") or ""
    assert "750 earned, 100 burned" in label, label
    assert chart.locator("rect.bar-earned").count() >= 2
    titles = chart.locator("title").evaluate_all("nodes => nodes.map((node) => node.textContent)")
    # Entries count on the day they were recorded (the ledger's `at`): all today here.
    assert [title.partition(": ")[2] for title in titles] == ["750 earned", "100 burned"], titles
    assert {title[:10] for title in titles} <= days, (titles, days)


def test_an_unknown_card_says_so(signed_in: Any) -> None:
    open_card = signed_in.get_by_label("Card code", exact=True)
    open_card.fill("NO-SUCH-CARD")
    signed_in.get_by_role("button", name="Open member").click()
    alert = signed_in.get_by_role("alert")
    expect(alert).to_contain_text("Member NO-SUCH-CARD")
    expect(alert).to_contain_text("member_not_found, HTTP 404")


def test_programs_and_their_tiers(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    page.get_by_role("button", name="Programs").click()
    programs = page.get_by_role("table", name="Programs", exact=True)
    expect(programs).to_contain_text(seeded.program_name)
    tiers = page.get_by_role("table", name=f"Tiers of {seeded.program_name}")
    expect(tiers.locator("tbody tr")).to_have_count(3)
    expect(tiers.locator("tbody tr").nth(1)).to_contain_text("Silver")
    expect(tiers.locator("tbody tr").nth(1)).to_contain_text("500")
    # The seed sets no multiplier: each tier's is its rank, as the engine applies it.
    multipliers = [row.split("\t")[4:6] for row in tiers.locator("tbody tr").all_inner_texts()]
    assert multipliers == [["1", "1"], ["2", "2"], ["3", "3"]], multipliers
    chart = page.get_by_role("img", name=f"Members per tier of {seeded.program_name}")
    expect(chart).to_have_attribute("aria-label", re.compile(r"Blue 0, Silver 1, Gold 0$"))
    expect(page.locator("#members-per-tier figcaption")).to_contain_text("Silver 1")


def test_a_partner_file_is_uploaded_watched_until_complete_and_its_report_downloaded(
    signed_in: Any, seeded: Seeded, tmp_path: Path
) -> None:
    page = signed_in
    name = f"{GROUP}_masterreward_{seeded.program_id}_{datetime.now(GMT1):%Y%m%d}.csv"
    content = (
        b"external_id;name;monetary;nqp_value;holding_days;validity_interval_count;"
        b"validity_interval_type;forced_validity;is_limited;max_attribution_count\n"
        b"console-gift;Console gift;0;10;0;1;month;0;1;100\n"
        b"console-broken;No stock;0;10;0;1;day;0;0;0\n"
    )
    page.get_by_role("button", name="Upload a file").click()
    page.get_by_label("Partner file (CSV)").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("heading", name="Imports")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"Uploaded {name}")
    imports = page.get_by_role("table", name=f"Imports of {name}")
    # The page refreshes by itself until the import ends.
    expect(imports.locator("tbody tr")).to_have_count(1)
    row = imports.locator("tbody tr").first
    expect(row).to_contain_text("completed")
    expect(row.locator("td").nth(3)).to_have_text("1")  # applied
    expect(row.locator("td").nth(4)).to_have_text("1")  # skipped
    expect(page.locator("#imports-refresh")).to_contain_text("Up to date")
    with page.expect_download() as download_info:
        row.get_by_role("button", name="Download report").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".report.json")
    saved = tmp_path / "report.json"
    download.save_as(saved)
    summary = json.loads(saved.read_text())
    assert (summary["applied"], summary["skipped"]) == (1, 1), summary
    # the report in words, not its JSON: each field's value after its name
    report = page.locator("#report-summary")
    for name, value in (
        ("State", "completed"),
        ("Lines read", str(summary["lines_read"])),
        ("Applied", "1"),
        ("Skipped", "1"),
    ):
        expect(report.locator(f"dt:text-is('{name}') + dd")).to_have_text(value)
    expect(report).not_to_contain_text("{")
    expect(page.get_by_role("link", name="Skipped lines (CSV)")).to_be_visible()


def test_the_groups_recent_imports_are_listed_without_typing_a_name(
    signed_in: Any, seeded: Seeded, tmp_path: Path
) -> None:
    page = signed_in
    older, newer = seeded.import_files
    page.get_by_role("button", name="Imports", exact=True).click()
    recent = page.get_by_role("table", name="Recent imports")
    rows = recent.locator("tbody tr")
    for name in (older, newer):
        row = rows.filter(has_text=name)
        expect(row).to_have_count(1)
        expect(row).to_contain_text("completed")
        expect(row.locator("td").nth(4)).to_have_text("1")  # applied
    names = [rows.nth(n).locator("td").first.inner_text() for n in range(rows.count())]
    assert names.index(newer) < names.index(older), names  # newest received first
    with page.expect_download() as download_info:
        rows.filter(has_text=older).get_by_role("button", name="Download report").click()
    saved = tmp_path / "report.json"
    download_info.value.save_as(saved)
    assert json.loads(saved.read_text())["applied"] == 1
    assert not page.get_by_role("button", name="More imports").is_visible()  # all on one page


def test_older_imports_come_with_more(signed_in: Any, seeded: Seeded) -> None:
    """Pages of one import (the console's limit rewritten on the way): "More imports" adds the
    next page under the first until the last."""
    page = signed_in
    page.route(
        re.compile(r".*/v1/imports\?.*"),
        lambda route: route.continue_(url=re.sub(r"limit=\d+", "limit=1", route.request.url)),
    )
    page.get_by_role("button", name="Imports", exact=True).click()
    rows = page.get_by_role("table", name="Recent imports").locator("tbody tr")
    expect(rows).to_have_count(1)
    more = page.get_by_role("button", name="More imports")
    expect(more).to_be_visible()
    for pages in range(2, 12):  # one import more a page (the last may be empty: its cursor is null)
        if not more.is_visible():
            break
        shown = rows.count()
        more.click()
        expect(page.get_by_role("status")).to_contain_text(f"Page {pages} of recent imports read")
        assert rows.count() in (shown, shown + 1)
    names = [rows.nth(n).locator("td").first.inner_text() for n in range(rows.count())]
    older, newer = seeded.import_files
    assert names.index(newer) < names.index(older), names
    expect(more).to_be_hidden()


def test_a_gift_card_and_a_coupon_are_looked_up(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    page.get_by_role("button", name="Gift cards & coupons").click()
    field = page.get_by_label("Gift card or coupon number")
    field.fill(seeded.gift_card)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", name=f"gift card {seeded.gift_card}")).to_be_visible()
    expect(page.locator("#instrument-status")).to_have_text("issued")
    expect(page.locator("#instrument-view")).to_contain_text("Console gift card (console-gift)")
    field.fill(seeded.coupon)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", name=f"coupon {seeded.coupon}")).to_be_visible()
    expect(page.locator("#instrument-view")).to_contain_text("10 % off")
    field.fill("0000000000000000")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("alert")).to_contain_text("Number 0000000000000000")


def test_a_blank_card_code_or_number_is_refused_in_the_page(signed_in: Any) -> None:
    """Spaces only in the card code or the instrument number: a clear message and no request
    (the card was silently ignored; the number became the API's `no route` 404)."""
    page = signed_in
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if "/v1/" in request.url else None)
    page.get_by_label("Card code", exact=True).fill("   ")
    page.get_by_role("button", name="Open member").click()
    expect(page.get_by_role("alert")).to_contain_text("Type a card code")
    page.get_by_role("button", name="Gift cards & coupons").click()
    page.get_by_label("Gift card or coupon number").fill("  ")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("alert")).to_contain_text("Type a gift card or coupon number")
    assert sent == [], sent


def test_an_error_clears_the_status_line_of_the_action_before(signed_in: Any, seeded: Seeded) -> None:
    """The status line never contradicts the alert: after a member was loaded, an unknown card
    (its view emptied) no longer says "Member … loaded", and a refused search no longer says
    how many members the search before found."""
    page = signed_in
    status = page.get_by_role("status")
    open_member(page, seeded.card)
    expect(status).to_contain_text(f"Member {seeded.card} loaded")
    page.get_by_label("Card code", exact=True).fill("NO-SUCH-CARD")
    page.get_by_role("button", name="Open member").click()
    expect(page.get_by_role("alert")).to_contain_text("member_not_found")
    expect(status).to_have_text("")
    page.get_by_label("Search by").select_option("card_prefix")
    page.get_by_label("Search for").fill("CONSOLE-")
    page.get_by_role("button", name="Search").click()
    expect(status).to_contain_text("member(s) found")
    page.get_by_label("Search by").select_option("email")
    page.get_by_label("Search for").fill("not-an-e-mail")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("validation_error")
    expect(status).to_have_text("")


def test_sign_out_empties_the_forms_of_the_agent_before(signed_in: Any, seeded: Seeded) -> None:
    """What an agent typed (a customer's e-mail, a card, a number, a file name) does not wait in
    the forms for the next one to sign in on the tab."""
    page = signed_in
    page.get_by_label("Card code", exact=True).fill(seeded.card)
    page.get_by_label("Search by").select_option("email")
    page.get_by_label("Search for").fill("someone@example.com")
    page.get_by_role("button", name="Gift cards & coupons").click()
    page.get_by_label("Gift card or coupon number").fill(seeded.gift_card)
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, seeded.admin_key)
    page.get_by_role("button", name="Sign out").wait_for()
    for label in ("Card code", "Search for", "Gift card or coupon number", "Watch a file by name"):
        assert page.get_by_label(label, exact=True).input_value() == "", label


def test_the_members_per_tier_count_says_its_time_as_every_time_is_shown(
    signed_in: Any, seeded: Seeded
) -> None:
    """The count's time reads as the console's other times (`YYYY-MM-DD HH:MM UTC`), not as the
    API's ISO text (`…T02:00:00Z`)."""
    page = signed_in
    page.get_by_role("button", name="Programs").click()
    caption = page.locator("#members-per-tier figcaption")
    expect(caption).to_have_text(
        re.compile(rf"^Members per tier of {seeded.program_name}, as of \d{{4}}-\d\d-\d\d \d\d:\d\d UTC: ")
    )


def test_a_blank_file_name_to_watch_is_refused_with_a_message(signed_in: Any) -> None:
    """Spaces only as the file to watch said nothing at all; now the page says what to type."""
    page = signed_in
    page.get_by_role("button", name="Imports", exact=True).click()
    page.get_by_label("Watch a file by name").fill("   ")
    page.get_by_role("button", name="Watch").click()
    expect(page.get_by_role("alert")).to_contain_text("Type the name of a partner file")
    assert page.evaluate("sessionStorage.getItem('loyalty-console-watched-files')") is None


def test_an_error_goes_when_the_agent_moves_to_another_section(signed_in: Any) -> None:
    """A look-up's error stayed at the top of every section the agent opened next, as if it
    were theirs; moving to another section now takes it away."""
    page = signed_in
    page.get_by_role("button", name="Gift cards & coupons").click()
    page.get_by_label("Gift card or coupon number").fill("12345678")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("alert")).to_contain_text("Number 12345678")
    page.get_by_role("button", name="Members", exact=True).click()
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_focused()
    expect(page.locator("#error")).to_be_hidden()


def test_a_member_still_loading_at_sign_out_is_not_shown_after(signed_in: Any, seeded: Seeded) -> None:
    """The member asked for before signing out answers late: its view is dropped, not drawn
    into the next agent's session."""
    page = signed_in

    def slow(route: Any) -> None:
        page.wait_for_timeout(1000)
        route.continue_()

    page.route(f"**/v1/members/{seeded.card}", slow)
    page.get_by_label("Card code", exact=True).fill(seeded.card)
    page.get_by_role("button", name="Open member").click()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, seeded.admin_key)
    page.get_by_role("button", name="Sign out").wait_for()
    page.wait_for_timeout(1500)  # the late answer has come and gone
    expect(page.locator("#member-view")).to_be_empty()
    expect(page.get_by_role("alert")).to_be_hidden()


def test_the_status_line_of_a_section_left_is_not_carried_to_the_next(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    open_member(page, seeded.card)
    status = page.get_by_role("status")
    expect(status).to_contain_text(f"Member {seeded.card} loaded")
    page.get_by_role("button", name="Gift cards & coupons").click()
    expect(status).not_to_contain_text(seeded.card)
