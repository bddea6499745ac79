"""Escape closes what a control opened (a confirmation, a form over a key, a record's details, a
run or a webhook shown) and gives the focus back to that control, as Cancel does."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.seed import Seeded

HOOK = {
    "subscription_id": "01HESCAPE0000000000000000",
    "url": "https://hooks.example/escape",
    "kinds": ["member.enrolled"],
    "enabled": True,
    "status": "active",
    "description": "escape",
    "created_at": "2026-01-01T00:00:00+00:00",
    "updated_at": "2026-01-01T00:00:00+00:00",
}


def _answer(page: Any, pattern: str, body: dict[str, Any]) -> None:
    page.route(
        re.compile(pattern),
        lambda route: route.fulfill(status=200, body=json.dumps(body), content_type="application/json"),
    )


def test_escape_closes_a_keys_rotation_and_revocation(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    page.get_by_role("button", name="API keys", exact=True).click()
    page.get_by_role("table", name=re.compile("API keys")).wait_for()
    shop = seeded.shop_key.split(".")[2]
    for action, field in (("Rotate", "Grace period"), ("Revoke", "Type the key id to confirm")):
        page.get_by_role("button", name=f"{action} key {shop}").press("Enter")
        page.get_by_label(re.compile(field)).focus()
        page.keyboard.press("Escape")
        expect(page.locator("#key-action")).to_be_empty()
        expect(page.get_by_role("button", name=f"{action} key {shop}")).to_be_focused()


def test_escape_closes_an_audit_record_s_details(signed_in: Any) -> None:
    page = signed_in
    page.get_by_role("button", name="Audit log", exact=True).click()
    log = page.get_by_role("table", name="Audit log (newest first)")
    toggle = log.locator("tbody tr").first.get_by_role("button", name="Details")
    toggle.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(log.locator("tbody tr").first.locator("pre")).to_be_hidden()
    expect(toggle).to_be_focused()


def test_escape_closes_a_run_shown_and_a_webhook_shown(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    page.get_by_role("button", name="Jobs", exact=True).click()
    expect(page.get_by_label("Program", exact=True)).to_contain_text(seeded.program_name)
    page.get_by_label("Program", exact=True).select_option(seeded.program_id)
    page.get_by_role("button", name="Show runs").click()
    opener = page.locator("#job-runs").get_by_role("button", name=re.compile(r"^Open the ")).first
    opener.press("Enter")
    expect(page.locator("#job-run-view table")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#job-run-view")).to_be_empty()
    expect(opener).to_be_focused()

    _answer(page, r"/v1/webhooks\?", {"webhooks": [HOOK], "next_cursor": None})
    _answer(page, r"/deliveries\?", {"deliveries": [], "next_cursor": None})
    page.get_by_role("button", name="Webhooks", exact=True).click()
    url = page.get_by_role("button", name=f"Open {HOOK['url']}")
    url.press("Enter")
    expect(page.get_by_role("heading", name=f"Deliveries to {HOOK['url']}")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#deliveries-view")).to_be_empty()
    expect(url).to_be_focused()
