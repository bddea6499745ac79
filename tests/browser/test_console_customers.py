"""The Customers section and a privacy request in a real browser: find a customer (by e-mail, by
id), see it with its cards (each opens in Members), download its export, erase it after typing
its id (once, whatever the clicks; again after a lost answer); a card's export and erasure from
the member view; errors in words, data as text, stale answers dropped, sign-out forgets it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_member, sign_in
from tests.browser.seed import Api, Seeded

GROUP_ID = "privacy-vip"


def _customer(seeded: Seeded, customer_id: str, cards: tuple[str, ...], **fields: Any) -> str:
    api = Api(seeded.api_url, seeded.admin_key)
    for path, body in (
        (f"/v1/customer-groups/{GROUP_ID}", {"name": "Privacy VIP"}),
        (
            f"/v1/customers/{customer_id}",
            {"first_name": "Ada", "last_name": "Lovelace", "customer_groups": [GROUP_ID], **fields},
        ),
    ):
        put = api.session.put(api.base + path, json=body, timeout=30)
        assert put.status_code in (200, 201), put.text
    for card in cards:
        api("POST", f"/v1/programs/{seeded.program_id}/members", 201, json={"card_code": card})
        api("PUT", f"/v1/members/{card}/customer", 200, json={"customer_id": customer_id})
    return customer_id


@pytest.fixture(scope="module")
def customer(seeded: Seeded) -> str:
    return _customer(seeded, "priv-ada", ("PRIV-0001", "PRIV-0002"), email="ada@example.com")


def _open_customer(page: Any, customer_id: str) -> None:
    page.get_by_role("button", name="Customers", exact=True).click()
    page.get_by_label("Customer id").fill(customer_id)
    page.get_by_role("button", name="Open customer").click()
    page.get_by_role("heading", name=f"Customer {customer_id}").wait_for()


def _erasures(page: Any) -> list[Any]:
    """The bodies of the erasures the page sends."""
    posts: list[Any] = []
    page.on(
        "request",
        lambda r: (
            posts.append(r.post_data_json) if r.method == "POST" and r.url.endswith("/erasure") else None
        ),
    )
    return posts


def test_a_customer_is_found_by_e_mail_shown_and_its_card_opens_in_members(
    signed_in: Any, customer: str
) -> None:
    page = signed_in
    page.get_by_role("button", name="Customers", exact=True).click()
    page.get_by_label("Find customers by").select_option("email")
    page.get_by_label("Find customers matching").fill("  ADA@example.com ")
    page.get_by_role("button", name="Find customers").click()
    rows = page.get_by_role("table", name="Customers matching ADA@example.com").locator("tbody tr")
    expect(rows).to_have_count(1)  # two cards, one customer
    expect(rows.first).to_contain_text("Ada Lovelace")
    rows.first.get_by_role("button", name=customer).click()
    expect(page.get_by_role("heading", name=f"Customer {customer}")).to_be_focused()
    expect(page.locator("#customer-cards")).to_contain_text("PRIV-0001")
    expect(page.locator("#customer-cards")).to_contain_text("PRIV-0002")
    view = page.locator("#customer-view")
    expect(view.locator("dt:has-text('Name') + dd")).to_have_text("Ada Lovelace")
    expect(view.locator("dt:has-text('E-mail') + dd")).to_have_text("ada@example.com")
    expect(view.locator("dt:has-text('Customer groups') + dd")).to_have_text(GROUP_ID)
    page.get_by_role("button", name="Open card PRIV-0002 in Members").click()
    expect(page.get_by_role("heading", name="Member PRIV-0002")).to_be_focused()
    expect(page.locator("#members")).to_be_visible()
    expect(page.locator("#linked-customer")).to_contain_text(customer)


def test_a_customers_export_is_downloaded_as_json(signed_in: Any, customer: str, tmp_path: Path) -> None:
    page = signed_in
    _open_customer(page, customer)
    with page.expect_download() as download_info:
        page.get_by_role("button", name=f"Export Customer {customer}'s data (JSON)").click()
    download = download_info.value
    assert download.suggested_filename == f"customer-{customer}.export.json"
    saved = tmp_path / "export.json"
    download.save_as(saved)
    export = json.loads(saved.read_text())
    assert export["subject"] == "customer" and export["customer"]["customer_id"] == customer
    assert sorted(m["member"]["card_code"] for m in export["members"]) == ["PRIV-0001", "PRIV-0002"]
    expect(page.get_by_role("status")).to_contain_text(f"Export of Customer {customer} saved as")
    expect(page.locator("#customer-export-file")).to_have_text(f"Save customer-{customer}.export.json again")


def test_an_erasure_needs_the_id_typed_and_a_double_click_erases_once(signed_in: Any, seeded: Seeded) -> None:
    customer_id = _customer(seeded, "priv-bob", ("PRIV-0101",), email="bob@example.com")
    page = signed_in
    posts = _erasures(page)
    _open_customer(page, customer_id)
    page.get_by_label("Type the customer id to confirm").fill("priv-bo")
    page.get_by_role("button", name="Erase the customer's personal data").click()
    expect(page.get_by_role("alert")).to_contain_text("Type the customer id priv-bob exactly to confirm")
    assert posts == []  # nothing sent

    def slow(route: Any) -> None:  # the second click lands while the first is on its way
        page.wait_for_timeout(300)
        route.continue_()

    page.route("**/erasure", slow)
    page.get_by_label("Reason for the customer's erasure").select_option("retention_expired")
    page.get_by_label("Type the customer id to confirm").fill(customer_id)
    page.get_by_role("button", name="Erase the customer's personal data").dblclick()
    expect(page.locator("#customer-erased")).to_contain_text("erased")
    expect(page.get_by_role("status")).to_contain_text(f"Customer {customer_id}'s personal data was erased")
    page.wait_for_timeout(400)
    assert posts == [{"reason_code": "retention_expired"}], posts
    view = page.locator("#customer-view")
    expect(view.locator("dt:has-text('E-mail') + dd")).to_have_text("erased")
    expect(page.get_by_role("button", name="Erase the customer's personal data")).to_have_count(0)
    stored = Api(seeded.api_url, seeded.admin_key)("GET", f"/v1/customers/{customer_id}", 200)
    assert stored["erased"] is True and stored["email"] is None


def test_an_erasure_whose_answer_is_lost_is_sent_again(signed_in: Any, seeded: Seeded) -> None:
    customer_id = _customer(seeded, "priv-cy", (), email="cy@example.com")
    page = signed_in
    lost = {"first": True}

    def lose_the_first_answer(route: Any) -> None:
        if lost.pop("first", False):
            route.fetch()  # the API erases; the answer never reaches the page
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/erasure", lose_the_first_answer)
    _open_customer(page, customer_id)
    page.get_by_label("Type the customer id to confirm").fill(customer_id)
    button = page.get_by_role("button", name="Erase the customer's personal data")
    button.click()
    expect(page.get_by_role("alert")).to_contain_text("erase again")
    expect(button).to_be_enabled()
    button.click()
    expect(page.locator("#customer-erased")).to_contain_text("erased")


def test_errors_are_said_in_words(signed_in: Any, customer: str) -> None:
    page = signed_in
    page.get_by_role("button", name="Customers", exact=True).click()
    page.get_by_label("Customer id").fill("priv-nobody")
    page.get_by_role("button", name="Open customer").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Customer priv-nobody was not found in this loyalty group")
    expect(alert).to_contain_text("HTTP 404")
    page.get_by_label("Customer id").fill("   ")
    page.get_by_role("button", name="Open customer").click()
    expect(alert).to_contain_text("Type a customer id")
    _open_customer(page, customer)
    page.route(
        "**/export",
        lambda route: route.fulfill(status=403, body='{"code":"forbidden","message":"Forbidden"}'),
    )
    page.get_by_role("button", name=f"Export Customer {customer}'s data (JSON)").click()
    expect(alert).to_contain_text("This needs an admin key")
    page.unroute("**/export")
    page.route(
        "**/export",
        lambda route: route.fulfill(status=409, body='{"code":"export_too_large","message":"too large"}'),
    )
    page.get_by_role("button", name=f"Export Customer {customer}'s data (JSON)").click()
    expect(alert).to_contain_text("larger than 5 MB")
    page.route(
        "**/erasure",
        lambda route: route.fulfill(
            status=409, body='{"code":"customer_erased","message":"Customer erased"}'
        ),
    )
    page.get_by_label("Type the customer id to confirm").fill(customer)
    page.get_by_role("button", name="Erase the customer's personal data").click()
    expect(alert).to_contain_text(
        f"Customer {customer}'s personal data was erased: it cannot be saved or linked again"
    )
    expect(alert).to_contain_text("customer_erased, HTTP 409")


def test_a_customer_is_opened_with_the_keyboard_only(signed_in: Any, customer: str) -> None:
    page = signed_in
    page.get_by_role("button", name="Customers", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Customer id")).to_be_focused()
    page.keyboard.type(customer)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Customer {customer}")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Open card PRIV-0001 in Members")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Member PRIV-0001")).to_be_focused()


def test_a_customers_data_is_shown_as_text(signed_in: Any, seeded: Seeded) -> None:
    customer_id = _customer(
        seeded, "priv-markup", (), email="m@example.com", first_name="<b>Eve</b><img src=x onerror=alert(1)>"
    )
    page = signed_in
    _open_customer(page, customer_id)
    expect(page.locator("#customer-view dt:has-text('Name') + dd")).to_have_text(
        "<b>Eve</b><img src=x onerror=alert(1)> Lovelace"
    )
    assert page.locator("#customer-view b, #customer-view img").count() == 0


def test_the_customer_opened_last_is_shown(signed_in: Any, seeded: Seeded, customer: str) -> None:
    other = _customer(seeded, "priv-dan", (), email="dan@example.com")
    page = signed_in

    def slow(route: Any) -> None:
        page.wait_for_timeout(800)
        route.continue_()

    page.route(f"**/v1/customers/{customer}", slow)
    page.get_by_role("button", name="Customers", exact=True).click()
    page.get_by_label("Customer id").fill(customer)
    page.get_by_role("button", name="Open customer").click()
    page.get_by_label("Customer id").fill(other)
    page.get_by_role("button", name="Open customer").click()
    expect(page.get_by_role("heading", name=f"Customer {other}")).to_be_visible()
    page.wait_for_timeout(1200)
    expect(page.get_by_role("heading", name=f"Customer {other}")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Customer {customer}")).to_have_count(0)


def test_sign_out_forgets_the_customer(signed_in: Any, seeded: Seeded, customer: str) -> None:
    page = signed_in
    _open_customer(page, customer)
    page.get_by_label("Find customers matching").fill("ada@example.com")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, seeded.admin_key)
    page.get_by_role("button", name="Sign out").wait_for()
    page.get_by_role("button", name="Customers", exact=True).click()
    expect(page.locator("#customer-view")).to_be_empty()
    assert page.get_by_label("Customer id").input_value() == ""
    assert page.get_by_label("Find customers matching").input_value() == ""


def test_an_erasure_answering_after_sign_out_says_nothing_of_it(signed_in: Any, seeded: Seeded) -> None:
    """Sign-out forgets the customer: an erasure still on its way then names no customer on the
    signed-out page (the next person at the screen reads "Signed out")."""
    customer_id = _customer(seeded, "priv-dee", (), email="dee@example.com")
    page = signed_in
    held: list[Any] = []
    page.route("**/erasure", lambda route: held.append(route))
    _open_customer(page, customer_id)
    page.get_by_label("Type the customer id to confirm").fill(customer_id)
    page.get_by_role("button", name="Erase the customer's personal data").click()
    deadline = 50
    while not held and deadline:
        page.wait_for_timeout(100)
        deadline -= 1
    assert held, "the erasure was not sent"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("Signed out: the key is forgotten.")
    with page.expect_response("**/erasure") as answered:
        held[0].continue_()
    assert answered.value.status == 200
    page.wait_for_timeout(300)
    expect(page.get_by_role("status")).to_have_text("Signed out: the key is forgotten.")
    assert customer_id not in page.locator("body").inner_text()
    page.unroute("**/erasure")


def test_a_cards_export_and_erasure_from_the_member_view(
    signed_in: Any, seeded: Seeded, tmp_path: Path
) -> None:
    card = "PRIV-0201"
    api = Api(seeded.api_url, seeded.admin_key)
    api(
        "POST",
        f"/v1/programs/{seeded.program_id}/members",
        201,
        json={"card_code": card, "customer_ref": "crm-9"},
    )
    page = signed_in
    posts = _erasures(page)
    open_member(page, card)
    with page.expect_download() as download_info:
        page.get_by_role("button", name=f"Export Card {card}'s data (JSON)").click()
    assert download_info.value.suggested_filename == f"member-{card}.export.json"
    saved = tmp_path / "member.json"
    download_info.value.save_as(saved)
    assert json.loads(saved.read_text())["members"][0]["member"]["card_code"] == card
    expect(page.get_by_role("status")).to_contain_text(
        f"Export of Card {card} saved as member-{card}.export.json"
    )
    page.get_by_label("Type the card code to confirm").fill(card.lower())
    page.get_by_role("button", name="Erase the card's personal data").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Type the card code {card} exactly")
    assert posts == []
    page.get_by_label("Type the card code to confirm").fill(card)
    page.get_by_role("button", name="Erase the card's personal data").click()
    expect(page.locator("dt:has-text('Personal data') + dd")).to_contain_text("erased")
    expect(page.get_by_role("status")).to_contain_text(f"Card {card}'s personal data was erased")
    expect(page.locator("#linked-customer")).to_have_text("not shown: the card's personal data was erased")
    expect(page.get_by_role("button", name="Erase the card's personal data")).to_have_count(0)
    assert len(posts) == 1
    assert api("GET", f"/v1/members/{card}", 200)["erased_at"]


def test_a_customer_with_no_card_is_found_by_e_mail(signed_in: Any, seeded: Seeded) -> None:
    """A gift card's holder, saved by the back office with no member card: the e-mail finds it."""
    holder = _customer(seeded, "priv-gift-holder", (), email="holder@example.com")
    page = signed_in
    page.get_by_role("button", name="Customers", exact=True).click()
    page.get_by_label("Find customers by").select_option("email")
    page.get_by_label("Find customers matching").fill("Holder@Example.com")
    page.get_by_role("button", name="Find customers").click()
    rows = page.get_by_role("table", name="Customers matching Holder@Example.com").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(holder)
    expect(rows.first).to_contain_text("holder@example.com")
