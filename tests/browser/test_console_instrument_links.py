"""Linking a gift card or coupon to a customer from the console, on the real routes
(`PUT`/`DELETE /v1/instruments/{number}/customer`): from the instrument shown and from the
customer shown; moved, unlinked once confirmed; sent once for a double click; refusals in words;
a late answer dropped; the other view read again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.seed import Api, Seeded

GROUP_ID = "links-vip"


@pytest.fixture(scope="module")
def api(seeded: Seeded) -> Iterator[Api]:
    api = Api(seeded.api_url, seeded.admin_key)
    put = api.session.put(api.base + f"/v1/customer-groups/{GROUP_ID}", json={"name": "Links"}, timeout=30)
    assert put.status_code in (200, 201), put.text
    for customer_id in ("link-ann", "link-ben", "link-gone"):
        body = {"first_name": "Ann", "customer_groups": [GROUP_ID]}
        put = api.session.put(api.base + f"/v1/customers/{customer_id}", json=body, timeout=30)
        assert put.status_code in (200, 201), put.text
    api("POST", "/v1/customers/link-gone/erasure", 200, json={"reason_code": "other"})
    yield api
    for number in (seeded.gift_card, seeded.coupon):  # the seed's instruments as they were
        api("DELETE", f"/v1/instruments/{number}/customer", 200)


def _look_up(page: Any, number: str) -> None:
    page.get_by_role("button", name="Gift cards & coupons").click()
    page.get_by_label("Gift card or coupon number").fill(number)
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#instrument-title")).to_contain_text(number)


def _open_customer(page: Any, customer_id: str) -> None:
    page.get_by_role("button", name="Customers", exact=True).click()
    page.get_by_label("Customer id").fill(customer_id)
    page.get_by_role("button", name="Open customer").click()
    page.get_by_role("heading", name=f"Customer {customer_id}").wait_for()


def _writes(page: Any, delay: int = 300) -> list[str]:
    """The link writes the page sends ("PUT <customer>", "DELETE"), each answered slowly."""
    sent: list[str] = []

    def slow(route: Any) -> None:
        request = route.request
        body = request.post_data_json if request.method == "PUT" else {}
        sent.append(f"{request.method} {body.get('customer_id', '')}".strip())
        page.wait_for_timeout(delay)
        route.continue_()

    page.route("**/v1/instruments/*/customer", slow)
    return sent


def _luhn(body: str) -> str:
    """`body` with its check digit: a number no series issued, that the API reads as a number."""
    total = sum(d if i % 2 else sum(divmod(2 * d, 10)) for i, d in enumerate(int(c) for c in reversed(body)))
    return body + str(-total % 10)


def _linked(api: Api, number: str) -> Any:
    return api("GET", f"/v1/instruments/{number}", 200)["customer_id"]


def test_an_instrument_is_linked_moved_and_unlinked_from_its_view(
    signed_in: Any, api: Api, seeded: Seeded
) -> None:
    page = signed_in
    number = seeded.gift_card
    _open_customer(page, "link-ann")  # shown in Customers while the agent works on the card
    _look_up(page, number)
    writes = _writes(page)
    page.get_by_label("Customer to link it to (its id)").fill("  link-ann ")
    page.get_by_role("button", name="Link to customer").dblclick()
    expect(page.get_by_role("status")).to_have_text(f"Linked {number} to customer link-ann.")
    assert writes == ["PUT link-ann"] and _linked(api, number) == "link-ann"
    expect(page.locator("#instrument-customer-id")).to_have_text("link-ann")
    expect(page.locator("#instrument-title")).to_be_focused()
    page.get_by_label("Customer to move it to (its id)").fill("link-ben")
    page.get_by_role("button", name="Move to customer").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Moved {number} from customer link-ann to customer link-ben."
    )
    expect(page.locator("#instrument-customer-id")).to_have_text("link-ben")
    assert _linked(api, number) == "link-ben"
    unlink = page.get_by_role("button", name=f"Unlink {number} from customer link-ben")
    unlink.click()
    page.get_by_role("button", name="Cancel").click()
    expect(unlink).to_be_focused()
    assert writes == ["PUT link-ann", "PUT link-ben"]
    unlink.click()
    page.get_by_role("button", name=f"Yes, unlink {number}").dblclick()
    expect(page.get_by_role("status")).to_have_text(f"Unlinked {number} from customer link-ben.")
    assert writes == ["PUT link-ann", "PUT link-ben", "DELETE"] and _linked(api, number) is None
    expect(page.locator("#instrument-customer-id")).to_have_text("none")
    page.get_by_role("button", name="Customers", exact=True).click()  # read again: linked, then moved away
    expect(page.locator("#customer-instruments")).to_have_text("none")


def test_a_customer_links_a_number_then_unlinks_it(signed_in: Any, api: Api, seeded: Seeded) -> None:
    page = signed_in
    number = seeded.coupon
    _look_up(page, number)  # the instrument shown is read again after the change
    _open_customer(page, "link-ann")
    page.get_by_role("button", name="Link to this customer").click()
    expect(page.get_by_role("alert")).to_contain_text("Type a gift card or coupon number")
    expect(page.get_by_label("Number of a gift card or coupon to link")).to_be_focused()
    writes = _writes(page)
    page.get_by_label("Number of a gift card or coupon to link").fill(f" {number[:4]} {number[4:]} ")
    page.get_by_role("button", name="Link to this customer").dblclick()
    expect(page.get_by_role("status")).to_have_text(f"Linked {number} to customer link-ann.")
    expect(page.locator("#customer-instruments")).to_contain_text(number)
    expect(page.get_by_role("heading", name="Customer link-ann")).to_be_focused()
    assert writes == ["PUT link-ann"] and _linked(api, number) == "link-ann"
    page.get_by_role("button", name=f"Unlink {number} from customer link-ann").click()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name=f"Unlink {number} from customer link-ann")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name=f"Yes, unlink {number}")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#customer-instruments")).to_have_text("none")
    assert writes == ["PUT link-ann", "DELETE"] and _linked(api, number) is None
    page.get_by_role("button", name="Gift cards & coupons").click()
    expect(page.locator("#instrument-customer-id")).to_have_text("none")


def test_refused_links_are_said_in_words(signed_in: Any, api: Api, seeded: Seeded) -> None:
    page = signed_in
    _look_up(page, seeded.coupon)
    field = page.get_by_label("Customer to link it to (its id)")
    button = page.get_by_role("button", name="Link to customer")
    alert = page.get_by_role("alert")
    for customer_id, words in (
        ("link-nobody", "No customer of this loyalty group has this id."),
        ("link-gone", "The customer's personal data was erased"),
    ):
        field.fill(customer_id)
        button.click()
        expect(alert).to_contain_text(words)
        expect(button).to_be_focused()
    expect(alert).to_contain_text("customer_erased, HTTP 409")
    _open_customer(page, "link-ann")
    page.get_by_label("Number of a gift card or coupon to link").fill(_luhn("639100000000007"))
    page.get_by_role("button", name="Link to this customer").click()
    expect(alert).to_contain_text("No gift card or coupon of this loyalty group has this number.")
    body = json.dumps({"code": "forbidden", "message": "refused", "details": []})
    page.route(
        "**/v1/instruments/*/customer",
        lambda r: r.fulfill(status=403, body=body, content_type="application/json"),
    )
    page.get_by_role("button", name="Link to this customer").click()
    expect(alert).to_contain_text("it needs an admin key")
    assert _linked(api, seeded.coupon) is None


def test_a_late_answer_is_dropped_and_it_fits_a_phone(signed_in: Any, api: Api, seeded: Seeded) -> None:
    page = signed_in
    page.set_viewport_size({"width": 375, "height": 800})
    _look_up(page, seeded.gift_card)
    body = json.dumps({"code": "customer_not_found", "message": "no such customer", "details": []})

    def late(route: Any) -> None:
        page.wait_for_timeout(1500)
        route.fulfill(status=404, body=body, content_type="application/json")

    page.route("**/v1/instruments/*/customer", late)
    page.get_by_label("Customer to link it to (its id)").fill("link-ann")
    page.get_by_role("button", name="Link to customer").click()
    _look_up(page, seeded.coupon)  # the agent moved on: the refusal is not about it
    expect(page.get_by_role("status")).to_have_text(f"Found {seeded.coupon}.")
    page.wait_for_timeout(2000)
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(page.locator("#instrument-title")).to_contain_text(seeded.coupon)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    _open_customer(page, "link-ann")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_a_look_up_on_its_way_when_a_link_changes_is_the_one_shown(
    signed_in: Any, api: Api, seeded: Seeded
) -> None:
    """The instrument shown (the gift card) was read again after the link and replaced the
    coupon the agent was looking up meanwhile (its answer dropped as an earlier one)."""
    page = signed_in
    _look_up(page, seeded.gift_card)
    _open_customer(page, "link-ben")
    _writes(page, delay=1000)

    def slow(route: Any) -> None:
        page.wait_for_timeout(2500)
        route.continue_()

    page.route(f"**/v1/instruments/{seeded.coupon}", slow)
    page.get_by_label("Number of a gift card or coupon to link").fill(seeded.gift_card)
    page.get_by_role("button", name="Link to this customer").click()
    page.get_by_role("button", name="Gift cards & coupons").click()
    page.get_by_label("Gift card or coupon number").fill(seeded.coupon)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("status")).to_have_text(f"Found {seeded.coupon}.")
    expect(page.locator("#instrument-title")).to_contain_text(seeded.coupon)
    assert _linked(api, seeded.gift_card) == "link-ben"
