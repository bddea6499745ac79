"""The console's imports page: what a refresh keeps of the pages loaded with More (against
answers of the imports list made in the test), and a file uploaded again under its name,
followed until its new import shows (the real API, the new import held back for a while as the
deployed importer's delay does)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.browser.seed import GROUP, Seeded, import_listed


def test_a_refresh_keeps_the_older_imports_received_in_the_same_second(signed_in: Any) -> None:
    """A partner's files often arrive in one second: the list orders them by id within it. The
    page's refresh (while an import runs) reads the first page again and must keep what More
    added after it, those of the first page's last second included."""
    page = signed_in
    first_reads = {"n": 0}

    def imports(route: Any) -> None:
        query = dict(parse_qsl(urlsplit(route.request.url).query))
        if query.get("cursor") == "page-2":
            body = {"imports": [import_listed("KKKK", "2026-12-01T10:00:04Z")], "next_cursor": None}
        else:
            first_reads["n"] += 1
            state = "running" if first_reads["n"] <= 2 else "completed"
            page_1 = [
                import_listed("AAAA", "2026-12-01T10:00:05Z", state),
                import_listed("MMMM", "2026-12-01T10:00:04Z"),
            ]
            body = {"imports": page_1, "next_cursor": "page-2"}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/v1/imports?*", imports)
    page.get_by_role("button", name="Imports", exact=True).click()
    rows = page.get_by_role("table", name="Recent imports").locator("tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_role("button", name="More imports").click()
    expect(rows).to_have_count(3)
    # The refreshes (every 2 s while AAAA runs) until AAAA has completed.
    expect(page.locator("#imports-refresh")).to_contain_text("Up to date", timeout=10_000)
    assert first_reads["n"] >= 3, first_reads
    names = [rows.nth(n).locator("td").nth(1).inner_text() for n in range(rows.count())]
    assert names == ["AAAA", "MMMM", "KKKK"], names


def _upload(page: Any, name: str, content: bytes) -> None:
    page.get_by_role("button", name="Upload a file").click()
    page.get_by_label("Partner file (CSV)").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Uploaded {name}")


def test_a_file_uploaded_again_is_followed_until_its_new_import_shows(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    day = datetime.now(timezone(timedelta(hours=1))) - timedelta(days=1)  # a day no other test uses
    name = f"{GROUP}_masterreward_{seeded.program_id}_{day:%Y%m%d}.csv"
    header = (
        "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;"
        "validity_interval_type;forced_validity;is_limited;max_attribution_count\n"
    )
    _upload(page, name, (header + "imports-again;Again;0;10;0;1;month;0;1;100\n").encode())
    imports = page.get_by_role("table", name=f"Imports of {name}")
    expect(imports.locator("tbody tr")).to_have_count(1)
    expect(imports.locator("tbody tr").first).to_contain_text("completed")
    first = imports.locator("tbody tr").first.locator("td").first.inner_text()
    held = {"on": True}

    def hold_new_imports(route: Any) -> None:  # the importer has not seen the new upload yet
        answer = route.fetch()
        body = answer.json()
        if held["on"] and "imports" in body:
            body["imports"] = [
                i for i in body["imports"] if i["file_name"] != name or i["import_id"] == first
            ]
        route.fulfill(response=answer, body=json.dumps(body))

    page.route("**/v1/imports?*", hold_new_imports)
    # A corrected file (other bytes) under the same name.
    _upload(page, name, (header + "imports-again;Again, corrected;0;20;0;1;month;0;1;100\n").encode())
    waiting = page.locator("#imports-view").get_by_text(f"{name}: waiting for the import of the upload")
    expect(waiting).to_be_visible()
    expect(page.locator("#imports-refresh")).to_contain_text("Refreshing every 2 s")
    held["on"] = False
    expect(imports.locator("tbody tr")).to_have_count(2)
    expect(imports.locator("tbody tr").first).to_contain_text("completed")
    expect(waiting).to_have_count(0)
    expect(page.locator("#imports-refresh")).to_contain_text("Up to date")
    recent = page.get_by_role("table", name="Recent imports").locator("tbody tr").filter(has_text=name)
    expect(recent).to_have_count(2)


def test_the_refresh_time_is_in_utc_as_the_imports_times(browser: Any, seeded: Seeded) -> None:
    """An operator in Paris: the imports' times say UTC, and so does the time of the refresh."""
    context = browser.new_context(base_url=seeded.api_url, timezone_id="Europe/Paris")
    try:
        page = context.new_page()
        page.goto("/console/")
        page.wait_for_selector("body[data-ready=true]")
        sign_in(page, seeded.admin_key)
        page.get_by_role("button", name="Imports", exact=True).click()
        note = page.locator("#imports-refresh")
        expect(note).to_contain_text("Up to date")
        shown = re.search(r"\((\d\d:\d\d:\d\d) UTC\)", note.inner_text())
        assert shown, note.inner_text()
        at = datetime.strptime(shown.group(1), "%H:%M:%S").time()
        now = datetime.now(UTC)
        gap = abs(datetime.combine(now.date(), at, UTC) - now)
        assert min(gap, timedelta(days=1) - gap) < timedelta(minutes=1), (shown.group(1), now)
    finally:
        context.close()


def test_a_file_named_while_the_page_refreshes_is_shown(signed_in: Any, seeded: Seeded) -> None:
    """The imports list answers slowly; the operator names a file to watch meanwhile."""
    page = signed_in
    name = seeded.import_files[0]

    def slow(route: Any) -> None:
        page.wait_for_timeout(700)
        route.continue_()

    page.route("**/v1/imports?*", slow)
    page.get_by_role("button", name="Imports", exact=True).click()
    page.get_by_label("Watch a file by name").fill(name)
    page.get_by_role("button", name="Watch").click()  # while the first refresh is on its way
    imports = page.get_by_role("table", name=f"Imports of {name}")
    expect(imports.locator("tbody tr")).to_have_count(1, timeout=10_000)
    expect(imports).to_contain_text("completed")
