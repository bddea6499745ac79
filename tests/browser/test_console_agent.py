"""Customer service's left-overs on the member page, and what walking the console as an agent
found: each field as long as the API takes, a purchase's and a use's context, the customer's
gift cards and coupons beside the card, and the held rewards past the picker's first 2,000."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_member
from tests.browser.seed import Api, Seeded, import_listed, member_with_customer, vip_program_body

OPENAPI = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
REWARD = "seed-gift-3"  # the seed's catalog: 10 NQ points a unit
PROGRAM = "service-club"  # one VIP tier, `press` (after the seed's in the Jobs section's list)


def _schema(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return OPENAPI["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else node


def _longest(schema: dict[str, Any]) -> int:
    """The longest text a schema takes: its maxLength, else its pattern's longest match."""
    for choice in [schema, *schema.get("anyOf", [])]:
        if "maxLength" in choice:
            return int(choice["maxLength"])
        if "pattern" in choice:
            return _widest(choice["pattern"].removeprefix("^").removesuffix("$"))
    raise AssertionError(f"no length limit in {schema}")


def _widest(pattern: str) -> int:
    """The longest text a pattern of the API matches (classes, `(?:a|b)` groups, escapes and
    `{m,n}` / `{n}` / `?` repeats: what its patterns use)."""
    best, width, i, last = 0, 0, 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "|":
            best, width, i = max(best, width), 0, i + 1
            continue
        if char == "{":
            end = pattern.index("}", i)
            width += last * (int(pattern[i + 1 : end].split(",")[-1]) - 1)
            i = end + 1
            continue
        if char == "?":
            i += 1
            continue
        assert char not in "*+", f"{pattern} has no longest match"
        if char == "(":
            depth, end = 0, i
            while True:
                depth += {"(": 1, ")": -1}.get(pattern[end], 0) if pattern[end - 1 : end] != "\\" else 0
                if depth == 0:
                    break
                end += 1
            last = _widest(pattern[i + 1 : end].removeprefix("?:"))
            i = end + 1
        elif char == "[":
            end = i + 1
            while pattern[end] != "]" or pattern[end - 1] == "\\":
                end += 1
            last, i = 1, end + 1
        else:
            last, i = 1, i + (2 if char == "\\" else 1)
        width += last
    return max(best, width)


def api_limit(path: str, method: str, where: str, name: str) -> int:
    """The API's limit of one field the console sends (docs/openapi.json)."""
    operation = OPENAPI["paths"][path][method]
    if where == "body":
        body = _schema(operation["requestBody"]["content"]["application/json"]["schema"])
        return _longest(_schema(body["properties"][name]))
    (parameter,) = [p for p in operation["parameters"] if p["in"] == where and p["name"] == name]
    return _longest(parameter["schema"])


MEMBERS = "/v1/members"
GROUP = "/v1/customer-groups/{customer_group_id}/customers"
BY, VALUE = "#customer-search-by", "#customer-search-value"  # the Customers section's search
# The console's text fields, each with what it sends: (field, path, method, where, name).
FIELDS = [
    ("#card-code", "/v1/members/{card_code}", "get", "path", "card_code"),
    ("#customer-id", "/v1/customers/{customer_id}", "get", "path", "customer_id"),
    ("#import-file", "/v1/imports", "get", "query", "file"),
    ("#audit-object", "/v1/audit", "get", "query", "object"),
    ("#audit-key", "/v1/audit", "get", "query", "key_id"),
    ("#key-name", "/v1/api-keys", "post", "body", "name"),
    ("#key-merchant", "/v1/api-keys", "post", "body", "merchant_id"),
]
MEMBER_FIELDS = [
    ("#adjust-comment", "/v1/members/{card_code}/adjustments", "post", "body", "comment"),
    ("#vip-reason", "/v1/members/{card_code}/vip-tiers/{vip_tier}", "put", "body", "reason"),
    ("#vip-remove-reason", "/v1/members/{card_code}/vip-tiers/{vip_tier}", "delete", "query", "reason"),
    ("#buy-reward", "/v1/members/{card_code}/rewards", "post", "body", "reward_id"),
    ("#buy-store", "/v1/members/{card_code}/rewards", "post", "body", "store_id"),
    ("#use-store", "/v1/members/{card_code}/rewards/{attribution_id}/burns", "post", "body", "store_id"),
    ("#buy-context", "/v1/members/{card_code}/rewards", "post", "body", "context"),
    ("#use-context", "/v1/members/{card_code}/rewards/{attribution_id}/burns", "post", "body", "context"),
]
# (the search's list, its choice, field, path, method, where, name)
SEARCHES = [
    ("#search-by", "email", "#search-value", MEMBERS, "get", "query", "email"),
    ("#search-by", "card_prefix", "#search-value", MEMBERS, "get", "query", "card_prefix"),
    ("#search-by", "customer_id", "#search-value", MEMBERS, "get", "query", "customer_id"),
    (BY, "email", VALUE, "/v1/customers", "get", "query", "email"),
    (BY, "card_prefix", VALUE, MEMBERS, "get", "query", "card_prefix"),
    (BY, "customer_group", VALUE, GROUP, "get", "path", "customer_group_id"),
]


@pytest.fixture(scope="module")
def service(seeded: Seeded) -> str:
    api = Api(seeded.api_url, seeded.admin_key)
    api("PUT", f"/v1/programs/{PROGRAM}", 201, json=vip_program_body("Service Club", [{"name": "press"}]))
    return PROGRAM


def enrol(seeded: Seeded, card: str, program: str, points: int = 0) -> Api:
    api = Api(seeded.api_url, seeded.admin_key)
    api("POST", f"/v1/programs/{program}/members", 201, json={"card_code": card})
    if points:
        body = {"kind": "nq", "points": points, "reason_code": "goodwill"}
        api("POST", f"/v1/members/{card}/adjustments", 201, json=body, headers={"Idempotency-Key": card})
    return api


def _maxlength(page: Any, selector: str) -> int | None:
    value = page.locator(selector).get_attribute("maxlength")
    return None if value is None else int(value)


def test_every_text_field_takes_what_the_api_takes(signed_in: Any, seeded: Seeded, service: str) -> None:
    """The grant's reason took 500 characters where the API takes 256 (a 422 after typing them),
    and other fields had no limit or another than the API's."""
    page = signed_in
    card = "AGENT-0001"
    api = enrol(seeded, card, service, points=100)
    buy = {"reward_id": REWARD}
    api("POST", f"/v1/members/{card}/rewards", 201, json=buy, headers={"Idempotency-Key": card})
    api("PUT", f"/v1/members/{card}/vip-tiers/press", 200, json={"reason": "journalist"})
    wrong = []
    for selector, *field in FIELDS:
        if _maxlength(page, selector) != api_limit(*field):
            wrong.append((selector, _maxlength(page, selector), api_limit(*field)))
    for select, choice, selector, *field in SEARCHES:
        if select == BY:
            page.get_by_role("button", name="Customers", exact=True).click()
        page.locator(select).select_option(choice)
        if _maxlength(page, selector) != api_limit(*field):
            wrong.append((f"{selector} ({choice})", _maxlength(page, selector), api_limit(*field)))
    page.get_by_role("button", name="Members", exact=True).click()
    open_member(page, card)
    page.get_by_role("button", name="Remove VIP tier").click()
    for selector, *field in MEMBER_FIELDS:
        if _maxlength(page, selector) != api_limit(*field):
            wrong.append((selector, _maxlength(page, selector), api_limit(*field)))
    page.get_by_role("button", name="Gift cards & coupons").click()
    page.get_by_label("Gift card or coupon number").fill(seeded.gift_card)
    page.get_by_role("button", name="Look up").click()
    link = ("/v1/instruments/{number}/customer", "put", "body", "customer_id")
    if (got := _maxlength(page, "#instrument-link-customer")) != api_limit(*link):
        wrong.append(("#instrument-link-customer", got, api_limit(*link)))
    assert wrong == [], wrong
    page.get_by_role("button", name="Sign out").click()  # the forms reset: back to the e-mail's
    # (the limit follows the reset on the next turn of the page's event loop: waited for)
    expect(page.locator("#customer-search-value")).to_have_attribute("maxlength", "254")
    expect(page.locator("#search-value")).to_have_attribute("maxlength", "254")


def test_a_grant_s_reason_as_long_as_the_api_takes_is_granted(
    signed_in: Any, seeded: Seeded, service: str
) -> None:
    """300 characters typed in the grant's reason were sent, and refused by the API (422)."""
    page = signed_in
    card = "AGENT-0002"
    api = enrol(seeded, card, service)
    open_member(page, card)
    reason = page.get_by_label("Reason for the grant")
    expect(reason).to_be_visible()  # once the program's VIP tiers are read
    reason.press_sequentially("x" * 300, delay=0)
    assert len(reason.input_value()) == 256
    page.get_by_role("button", name="Grant VIP tier").click()
    expect(page.get_by_role("status")).to_contain_text("Granted the VIP tier press")
    expect(page.get_by_role("alert")).to_be_hidden()
    change = api("GET", f"/v1/members/{card}/tier-history", 200)["changes"][0]
    assert change["reason"] == "x" * 256, change


def test_a_purchase_and_a_use_carry_the_context_the_agent_gives(signed_in: Any, seeded: Seeded) -> None:
    """Buying and using sent no `context` (the situation the API keeps with the reward and the
    use): the complaint a goodwill reward settled was nowhere."""
    page = signed_in
    card = "AGENT-0003"
    api = enrol(seeded, card, seeded.program_id, points=100)
    posts: list[dict[str, Any]] = []
    page.on("request", lambda r: posts.append(r.post_data_json) if r.method == "POST" else None)
    open_member(page, card)
    page.get_by_label("Reward id").fill(REWARD)
    context = page.get_by_label("Context (optional: why it is bought", exact=False)
    context.fill("   ")
    page.get_by_role("button", name="Buy reward").click()
    expect(page.get_by_role("alert")).to_contain_text("Type the context, or leave it empty")
    expect(context).to_be_focused()
    assert posts == []
    context.fill(" complaint #4411: late delivery ")
    page.get_by_role("button", name="Buy reward").click()
    expect(page.get_by_role("status")).to_contain_text(f"Bought 1 of {REWARD}")
    assert posts[-1]["context"] == "complaint #4411: late delivery", posts[-1]
    bought = api("GET", f"/v1/members/{card}/rewards", 200)["attributions"][0]
    assert bought["context"] == "complaint #4411: late delivery", bought
    rewards = page.get_by_role("table", name="Rewards")
    expect(rewards.locator("tbody tr").first).to_contain_text("complaint #4411: late delivery")
    page.get_by_label("Context (optional: why or how it is used)").fill("<b>handed over</b> at the desk")
    page.get_by_role("button", name="Use reward").click()
    expect(page.get_by_role("status")).to_contain_text(f"Used 1 of reward {bought['attribution_id']}")
    burn = api("GET", f"/v1/members/{card}/rewards", 200)["attributions"][0]["burns"][0]
    assert burn["context"] == "<b>handed over</b> at the desk", burn
    expect(rewards.locator("tbody tr").first).to_contain_text("used: <b>handed over</b> at the desk")
    # without one, none is sent
    open_member(page, card)
    page.get_by_label("Reward id").fill(REWARD)
    page.get_by_role("button", name="Buy reward").click()
    expect(page.get_by_role("status")).to_contain_text(f"Bought 1 of {REWARD}")
    assert "context" not in posts[-1], posts[-1]


def test_the_member_view_shows_its_customer_s_gift_cards_and_coupons(signed_in: Any, seeded: Seeded) -> None:
    """The customer view and the instrument view showed a customer's gift cards and coupons;
    the member view, of a card linked to that customer, did not."""
    page = signed_in
    card, alone, customer = "AGENT-0004", "AGENT-0005", "agent-cara"
    api = member_with_customer(seeded, card, customer, "Cara")
    enrol(seeded, alone, seeded.program_id)
    try:
        open_member(page, card)
        instruments = page.locator("#member-instruments")
        expect(page.locator("#linked-customer")).to_contain_text(customer)
        opener = instruments.get_by_role("button", name=f"Open {seeded.coupon} in Gift cards and coupons")
        expect(opener).to_have_text(seeded.coupon)
        opener.press("Enter")
        expect(page.get_by_role("heading", name=f"coupon {seeded.coupon}")).to_be_focused()
        expect(page.locator("#instrument-customer-id")).to_have_text(customer)
        page.get_by_role("button", name="Members", exact=True).click()
        open_member(page, alone)
        expect(instruments).to_have_text("none: the card is linked to no customer")
    finally:
        api("DELETE", f"/v1/instruments/{seeded.coupon}/customer", 200)


def _paged(page: Any, pattern: str, field: str, rows: list[dict[str, Any]]) -> list[str]:
    """The test's network answers `pattern`'s GETs with `rows`, paged as the API does (its
    `limit`, an opaque cursor): the cursors asked ("" for the first page)."""
    asked: list[str] = []

    def answer(route: Any) -> None:
        query = parse_qs(urlparse(route.request.url).query)
        cursor = query.get("cursor", [""])[0]
        asked.append(cursor)
        start = int(cursor[1:] or 0)
        end = start + int(query["limit"][0])
        body = {field: rows[start:end], "next_cursor": f"c{end}" if end < len(rows) else None}
        route.fulfill(status=200, body=json.dumps(body), content_type="application/json")

    page.route(re.compile(pattern), answer)
    return asked


def test_held_rewards_past_the_newest_2000_are_listed_on_demand(signed_in: Any, seeded: Seeded) -> None:
    """The use's picker read the member's newest 2,000 rewards and said older ones were not
    listed, with no way to list them though the API pages them: a reward held past them could
    not be used from the console."""
    page = signed_in
    card = "AGENT-0006"
    enrol(seeded, card, seeded.program_id)
    usable = {2100, 2449}  # older than the newest 2,000 (the API lists the newest first)
    held = [
        {
            "attribution_id": f"A{n:04}",
            "reward_id": REWARD,
            "status": "available" if n in usable else "burned",
            "quantity": 1,
            "burned": 0 if n in usable else 1,
            "nqp_spent": 10,
            "created_at": "2026-01-01T00:00:00+00:00",
            "valid_until": "2027-01-01T00:00:00+00:00",
        }
        for n in range(2450)
    ]
    asked = _paged(page, rf"/v1/members/{card}/rewards\?", "attributions", held)
    open_member(page, card)
    line = page.locator("#use-held")
    expect(line).to_have_text(
        "The member holds no reward to use (of the member's newest 2000 rewards; older ones are not listed yet)."
    )
    assert asked.count("") == 2 and "c2000" not in asked, asked  # the picker's first read, and the table's
    older = page.get_by_role("button", name="List older rewards")
    older.focus()
    older.press("Enter")
    picker = page.get_by_label("Reward held")
    expect(picker).to_be_focused()
    expect(picker.locator("option")).to_have_text(
        [f"{REWARD}: 1 of 1 left (available) · A2100", f"{REWARD}: 1 of 1 left (available) · A2449"]
    )
    expect(line).to_have_text("2 reward(s) to use.")
    expect(older).to_be_hidden()
    expect(page.get_by_role("status")).to_have_text("2450 rewards read: 2 to use.")
    assert "c2000" in asked and "c2400" in asked, asked


def test_a_field_the_api_refuses_for_its_form_is_explained_in_words(signed_in: Any, seeded: Seeded) -> None:
    """A card code, a customer id, a number or a key id the API refused for its form was
    explained with the API's regular expression (`String should match pattern '^[A-Za-z0-9]…'`)."""
    page = signed_in
    alert = page.get_by_role("alert")
    page.get_by_label("Card code", exact=True).fill("ab")
    page.get_by_role("button", name="Open member").click()
    expect(alert).to_contain_text(
        "card_code: a card code is 4 to 40 letters, digits and dashes, starting with a letter or a digit "
        "(string_pattern_mismatch)"
    )
    expect(alert).not_to_contain_text("pattern '")
    page.locator("#search-by").select_option("customer_id")
    page.get_by_label("Search for").fill("Ann_B")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(alert).to_contain_text("customer_id: a customer id is 1 to 63 lowercase letters, digits")
    page.get_by_role("button", name="Gift cards & coupons").click()
    page.get_by_label("Gift card or coupon number").fill("123")
    page.get_by_role("button", name="Look up").click()
    expect(alert).to_contain_text("number: a gift card or coupon number is 8 to 32 digits")
    page.get_by_role("button", name="Audit log").click()
    page.get_by_label("Key id").fill("not-a-key")
    page.get_by_role("button", name="Show records").click()
    expect(alert).to_contain_text("key_id: a key id is 26 capital letters and digits")
    expect(alert).not_to_contain_text("pattern '")


def test_the_imports_refresh_keeps_the_keyboard_where_it_was(signed_in: Any) -> None:
    """While an import ran, the page's refresh every 2 s drew the lists again: the report's
    Download button the agent had tabbed to was replaced, the focus thrown to the page's top."""
    page = signed_in
    reads = {"n": 0}
    at = "2026-12-01T10:00:00Z"
    listed = [import_listed("RUNS", at, "running"), import_listed("DONE", at, report=True)]

    def imports(route: Any) -> None:
        reads["n"] += 1
        body = {"imports": listed, "next_cursor": "p2"}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/v1/imports?*", imports)
    page.get_by_role("button", name="Imports", exact=True).click()
    download = page.get_by_role("button", name="Download report of DONE")
    download.focus()
    more = page.get_by_role("button", name="More imports")
    seen = reads["n"]
    page.wait_for_timeout(4500)  # two refreshes at least
    assert reads["n"] >= seen + 2, reads
    expect(download).to_be_focused()
    page.keyboard.press("Tab")
    expect(more).to_be_focused()
    page.wait_for_timeout(2500)
    expect(more).to_be_focused()
