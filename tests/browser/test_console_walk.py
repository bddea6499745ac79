"""Defects found walking the console as its agents do on a busy day: a gift card looked up
while an earlier look-up was on its way."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.browser.seed import Seeded


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
