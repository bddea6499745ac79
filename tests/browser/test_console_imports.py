"""The console's imports page against answers of the imports list made in the test (the page
route answers them): what a refresh keeps of the pages loaded with More."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from playwright.sync_api import expect


def _import(import_id: str, received_at: str, state: str = "completed") -> dict[str, Any]:
    return {
        "import_id": import_id,
        "file_name": f"demo_masterreward_club_{import_id.lower()}.csv",
        "key": f"incoming/demo/{import_id}.csv",
        "state": state,
        "scope": "masterreward",
        "subsection": "club",
        "received_at": received_at,
        "started_at": received_at,
        "finished_at": None if state == "running" else received_at,
        "progress": {"lines_read": 1, "lines_total": 2, "applied": 1, "skipped": 0, "unchanged": 0},
        "rejection": None,
        "duplicate_of": None,
        "report": None,
    }


def test_a_refresh_keeps_the_older_imports_received_in_the_same_second(signed_in: Any) -> None:
    """A partner's files often arrive in one second: the list orders them by id within it. The
    page's refresh (while an import runs) reads the first page again and must keep what More
    added after it, those of the first page's last second included."""
    page = signed_in
    first_reads = {"n": 0}

    def imports(route: Any) -> None:
        query = dict(parse_qsl(urlsplit(route.request.url).query))
        if query.get("cursor") == "page-2":
            body = {"imports": [_import("KKKK", "2026-12-01T10:00:04Z")], "next_cursor": None}
        else:
            first_reads["n"] += 1
            state = "running" if first_reads["n"] <= 2 else "completed"
            page_1 = [_import("AAAA", "2026-12-01T10:00:05Z", state), _import("MMMM", "2026-12-01T10:00:04Z")]
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
