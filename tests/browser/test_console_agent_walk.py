"""What walking the console as a customer-service agent on a phone (375 px), by mouse and by
keyboard, found: an error said out of sight, a linked customer that did not open from the member
view, what was typed lost when another form succeeded, a gift card list left stale by a link
changed elsewhere."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import open_member
from tests.browser.seed import Api, Seeded, member_with_customer

PHONE = {"width": 375, "height": 740}


def _uncovered(page: Any, control: Any) -> None:
    """The control is below the alert kept at the screen's top, not under it."""
    alert_bottom = page.get_by_role("alert").evaluate("(node) => node.getBoundingClientRect().bottom")
    assert control.evaluate("(node) => node.getBoundingClientRect().top") >= alert_bottom


def test_an_error_is_in_sight_where_the_agent_is(signed_in: Any, seeded: Seeded) -> None:
    """On a phone the member page is some 4,000 px long: a refusal of the Buy form, near its
    end, was written in the alert at the page's top, out of sight, the focus left below."""
    page = signed_in
    page.set_viewport_size(PHONE)
    open_member(page, seeded.card)
    alert = page.get_by_role("alert")
    quantity = page.get_by_label("Quantity to buy")
    quantity.fill("0")
    page.get_by_label("Reward id").fill("seed-gift-3")
    page.get_by_role("button", name="Buy reward").click()
    expect(alert).to_contain_text("The quantity must be a whole number of at least 1.")
    expect(quantity).to_be_focused()
    expect(quantity).to_be_in_viewport()
    expect(alert).to_be_in_viewport()
    _uncovered(page, quantity)
    quantity.fill("1")
    page.get_by_label("Reward id").fill("no-such-reward")
    buy = page.get_by_role("button", name="Buy reward")
    buy.press("Enter")
    expect(alert).to_contain_text("No reward of the catalog has this id.")
    expect(buy).to_be_focused()
    expect(buy).to_be_in_viewport()
    expect(alert).to_be_in_viewport()
    _uncovered(page, buy)


def test_the_linked_customer_opens_from_the_member_view(signed_in: Any, seeded: Seeded) -> None:
    """The customer view's cards open in Members; the member view named its linked customer as
    text only: for the customer's privacy request or phone, the agent typed its id again."""
    page = signed_in
    page.set_viewport_size(PHONE)
    card, customer = "WALK-0001", "walk-dora"
    api = Api(seeded.api_url, seeded.admin_key)
    api("POST", f"/v1/programs/{seeded.program_id}/members", 201, json={"card_code": card})
    put = api.session.put(api.base + f"/v1/customers/{customer}", json={"first_name": "Dora"}, timeout=30)
    assert put.status_code in (200, 201), put.text
    api("PUT", f"/v1/members/{card}/customer", 200, json={"customer_id": customer})
    open_member(page, card)
    opener = page.get_by_role("button", name=f"Open customer {customer} in Customers")
    expect(opener).to_have_text(f"{customer} · Dora")
    opener.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Customer {customer}")).to_be_focused()
    expect(page.locator("#customer-cards")).to_contain_text(card)
    expect(page.get_by_role("status")).to_have_text(f"Customer {customer} loaded.")


def test_what_the_agent_typed_survives_another_form_s_success(signed_in: Any, seeded: Seeded) -> None:
    """A purchase (or any write) read the member view again and drew every form anew: the
    adjustment the agent had half typed for the same complaint was lost."""
    page = signed_in
    page.set_viewport_size(PHONE)
    card = "WALK-0002"
    api = Api(seeded.api_url, seeded.admin_key)
    api("POST", f"/v1/programs/{seeded.program_id}/members", 201, json={"card_code": card})
    body = {"kind": "nq", "points": 50, "reason_code": "goodwill"}
    api("POST", f"/v1/members/{card}/adjustments", 201, json=body, headers={"Idempotency-Key": card})
    open_member(page, card)
    page.get_by_label("Change (signed)").fill("7")
    page.get_by_label("Reason code").select_option("correction")
    page.get_by_label("Comment").fill("complaint #88: half typed")
    page.get_by_label("Reward id").fill("seed-gift-3")
    page.get_by_label("Store id (optional: where it was bought)").fill("S-1")
    page.get_by_role("button", name="Buy reward").click()
    expect(page.get_by_role("status")).to_contain_text("Bought 1 of seed-gift-3")
    expect(page.locator("#nq-available")).to_have_text("40")
    expect(page.get_by_label("Change (signed)")).to_have_value("7")
    expect(page.get_by_label("Reason code")).to_have_value("correction")
    expect(page.get_by_label("Comment")).to_have_value("complaint #88: half typed")
    # the form sent is drawn empty: the same purchase is not one Enter away
    expect(page.get_by_label("Reward id")).to_have_value("")
    expect(page.get_by_label("Store id (optional: where it was bought)")).to_have_value("")
    page.get_by_role("button", name="Adjust points").click()
    expect(page.get_by_role("status")).to_contain_text("Adjusted +7 NQ points (correction)")
    expect(page.get_by_label("Comment")).to_have_value("")


def test_the_member_view_s_gift_cards_follow_a_link_changed_elsewhere(signed_in: Any, seeded: Seeded) -> None:
    """A coupon opened from the member view and unlinked there was still listed as the
    customer's when the agent went back to the member (the customer view is read again)."""
    page = signed_in
    card, customer = "WALK-0003", "walk-emil"
    api = member_with_customer(seeded, card, customer, "Emil")
    try:
        open_member(page, card)
        instruments = page.locator("#member-instruments")
        instruments.get_by_role("button", name=f"Open {seeded.coupon} in Gift cards and coupons").click()
        page.get_by_role("button", name=f"Unlink {seeded.coupon} from customer {customer}").click()
        page.get_by_role("button", name=f"Yes, unlink {seeded.coupon}").click()
        expect(page.get_by_role("status")).to_have_text(f"Unlinked {seeded.coupon} from customer {customer}.")
        page.get_by_role("button", name="Members", exact=True).click()
        expect(page.get_by_role("heading", name=f"Member {card}")).to_be_visible()
        expect(instruments).to_have_text("none")
    finally:
        api("DELETE", f"/v1/instruments/{seeded.coupon}/customer", 200)
