"""The console's API keys section on the real routes of the local stack: the group's keys
(never a secret, this session's key marked, paged with More), create (the secret shown once,
in no storage, URL or status line, gone when the agent leaves), revoke (the key id typed to
confirm), rotate with a grace period, and this session's own key refused in words."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from playwright.sync_api import expect

from tests.browser.seed import Api, Seeded

LIST = re.compile(r"/v1/api-keys\?")
TOKEN = re.compile(r"lk\.[a-z0-9-]+\.[0-9A-Z]{26}\.\S+")


def _open_keys(page: Any) -> None:
    page.get_by_role("button", name="API keys", exact=True).click()
    page.get_by_role("table", name=re.compile("API keys")).wait_for()


def _row(page: Any, text: str) -> Any:
    return page.locator("#keys-list tbody tr", has_text=text)


def _create(page: Any, name: str, *scopes: str) -> str:
    page.get_by_label("Name", exact=True).fill(name)
    for scope in scopes:
        page.get_by_label(scope, exact=True).check()
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-secret")
    expect(secret).to_have_text(TOKEN)
    return str(secret.text_content())


def _own_id(seeded: Seeded) -> str:
    return seeded.admin_key.split(".")[2]


def test_the_list_marks_this_sessions_key_and_shows_no_secret(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    _open_keys(page)
    own = _row(page, _own_id(seeded))
    expect(own).to_contain_text("this session's key")
    expect(own).to_contain_text("admin")
    expect(own).to_contain_text("active")
    last_used = own.locator("td").nth(8)  # the console signed in with it: used, not "never"
    expect(last_used).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d"))
    body = page.locator("body").inner_text()
    assert not TOKEN.search(body)
    for key in (seeded.admin_key, seeded.shop_key):
        assert key.split(".")[3] not in page.content()


def test_a_created_keys_secret_is_shown_once_and_nowhere_else(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    _open_keys(page)
    token = _create(page, "Till <b>3</b>", "shop")
    key_id = token.split(".")[2]
    expect(page.locator("#keys-secret")).to_contain_text("it will not be shown again")
    assert Api(seeded.api_url, token)("GET", "/v1/members/NOPE-0001", 404)  # the secret works
    row = _row(page, key_id)
    expect(row).to_contain_text("Till <b>3</b>")  # markup as text
    expect(row).to_contain_text("shop")
    assert token not in page.get_by_role("status").inner_text()
    assert token not in page.url
    stored = page.evaluate("JSON.stringify(Object.values(sessionStorage))")
    assert token.split(".")[3] not in stored
    page.get_by_role("button", name="Audit log").click()  # leaving the section forgets it
    _open_keys(page)
    assert token.split(".")[3] not in page.content()
    expect(_row(page, key_id)).to_be_visible()


def test_a_create_whose_answer_is_lost_is_retried_under_its_key(signed_in: Any) -> None:
    page = signed_in
    _open_keys(page)
    keys: list[str] = []
    lost = {"first": True}

    def lose_the_first_answer(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers["idempotency-key"])
        if lost.pop("first", False):
            route.fetch()  # the API creates it; the answer never reaches the page
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r"/v1/api-keys$"), lose_the_first_answer)
    page.get_by_label("Name", exact=True).fill("lost answer")
    page.get_by_label("partner", exact=True).check()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_contain_text("The API cannot be reached")
    page.get_by_role("button", name="Create key").click()  # the agent tries again
    expect(page.get_by_role("status")).to_contain_text("rotate the key to get one")
    assert len(keys) == 2 and keys[0] == keys[1], keys
    expect(_row(page, "lost answer")).to_have_count(1)


def test_a_key_is_revoked_once_its_id_is_typed(signed_in: Any) -> None:
    page = signed_in
    _open_keys(page)
    key_id = _create(page, "to revoke", "shop").split(".")[2]
    deletes: list[str] = []
    page.on("request", lambda r: deletes.append(r.url) if r.method == "DELETE" else None)
    page.get_by_role("button", name=f"Revoke key {key_id}").click()
    expect(page.locator("#keys-secret")).to_be_hidden()  # the secret goes with another action
    page.get_by_label("Type the key id to confirm").fill("not it")
    page.get_by_role("button", name="Revoke key", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was revoked")
    assert not deletes
    page.get_by_label("Type the key id to confirm").fill(key_id)
    page.get_by_role("button", name="Revoke key", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Key {key_id} revoked")
    expect(_row(page, key_id)).to_contain_text("revoked")
    assert len(deletes) == 1


def test_a_key_is_rotated_with_a_grace_period_and_its_new_secret_shown_once(signed_in: Any) -> None:
    page = signed_in
    _open_keys(page)
    first = _create(page, "to rotate", "shop")
    key_id = first.split(".")[2]
    page.get_by_role("button", name=f"Rotate key {key_id}").click()
    page.get_by_label(re.compile("Grace period")).fill("600")
    page.get_by_role("button", name="Rotate key", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Key {key_id} rotated")
    second = str(page.locator("#new-secret").text_content())
    assert TOKEN.fullmatch(second) and second != first
    expect(page.locator("#keys-secret")).to_contain_text("it will not be shown again")
    expect(_row(page, key_id)).to_contain_text("rotating until")
    expect(_row(page, key_id).locator("td").nth(8)).to_have_text("never (old secret not used since)")


def test_this_sessions_own_key_rotated_without_grace_or_revoked_is_said_in_words(
    signed_in: Any, seeded: Seeded
) -> None:
    page = signed_in
    _open_keys(page)
    own = _own_id(seeded)
    page.get_by_role("button", name=f"Rotate key {own}").click()
    page.get_by_label(re.compile("Grace period")).fill("0")
    page.get_by_role("button", name="Rotate key", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Give a grace period above 0 seconds")
    expect(alert).to_contain_text("grace_required_for_own_key")
    page.get_by_role("button", name=f"Revoke key {own}").click()
    expect(page.locator("#key-action")).to_contain_text("revoking it signs the console out")
    page.get_by_label("Type the key id to confirm").fill(own)
    page.get_by_role("button", name="Revoke key", exact=True).click()
    expect(alert).to_contain_text("a key cannot revoke itself")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # nothing changed


def test_revoking_this_sessions_key_signs_out(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    _open_keys(page)
    own = _own_id(seeded)
    page.route(  # as if the API let a key revoke itself: the console then signs out
        re.compile(rf"/v1/api-keys/{own}$"),
        lambda route: route.fulfill(status=200, json={"key_id": own, "status": "revoked"}),
    )
    page.get_by_role("button", name=f"Revoke key {own}").click()
    page.get_by_label("Type the key id to confirm").fill(own)
    page.get_by_role("button", name="Revoke key", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("was revoked")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_the_list_pages_with_more_and_the_keyboard(signed_in: Any) -> None:
    page = signed_in

    def smaller(route: Any) -> None:
        url = urlsplit(route.request.url)
        query = dict(parse_qsl(url.query))
        route.continue_(url=urlunsplit(url._replace(query=urlencode({**query, "limit": "1"}))))

    page.route(LIST, smaller)
    _open_keys(page)
    rows = page.locator("#keys-list tbody tr")
    expect(rows).to_have_count(1)
    more = page.get_by_role("button", name="More keys")
    more.focus()
    page.keyboard.press("Enter")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_be_focused()


def test_sign_out_forgets_the_secret_and_the_list(signed_in: Any) -> None:
    page = signed_in
    _open_keys(page)
    token = _create(page, "forgotten", "shop")
    page.get_by_role("button", name="Sign out").click()
    assert token.split(".")[3] not in page.content()
    expect(page.locator("#keys-list")).to_be_empty()
    expect(page.get_by_label("Name", exact=True)).to_have_value("")


def test_errors_in_words_and_a_late_list_dropped(signed_in: Any) -> None:
    page = signed_in
    page.route(
        LIST, lambda route: route.fulfill(status=403, json={"code": "forbidden", "message": "Forbidden"})
    )
    page.get_by_role("button", name="API keys", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("it needs an admin key")
    page.unroute(LIST)
    held: list[Any] = []
    page.route(LIST, lambda route: held.append(route))
    page.get_by_role("button", name="API keys", exact=True).click()
    while not held:
        page.wait_for_timeout(50)
    page.get_by_role("button", name="Audit log").click()  # the agent moves on
    for route in held:
        route.continue_()
    page.unroute(LIST)
    page.wait_for_timeout(300)
    expect(page.locator("#keys-list tbody tr")).to_have_count(0)
    expect(page.get_by_role("status")).not_to_contain_text("key(s) shown")


def test_a_double_click_on_create_sends_one_request(signed_in: Any) -> None:
    page = signed_in
    _open_keys(page)
    posts: list[str] = []

    def slow(route: Any) -> None:  # the API answers slowly: the second click lands meanwhile
        if route.request.method == "POST":
            posts.append(route.request.headers.get("idempotency-key", ""))
            page.wait_for_timeout(300)
        route.continue_()

    page.route(re.compile(r"/v1/api-keys$"), slow)
    page.get_by_label("Name", exact=True).fill("double click")
    page.get_by_label("shop", exact=True).check()
    page.get_by_role("button", name="Create key").dblclick()
    expect(page.locator("#new-secret")).to_have_text(TOKEN)
    assert len(posts) == 1, posts
    expect(_row(page, "double click")).to_have_count(1)


def test_an_expiry_is_typed_in_utc_and_one_in_the_past_is_refused_in_words(signed_in: Any) -> None:
    page = signed_in
    _open_keys(page)
    page.get_by_label("Name", exact=True).fill("expiring")
    page.get_by_label("shop", exact=True).check()
    page.get_by_label("Expires (UTC, optional)").fill("2020-01-01T00:00")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_contain_text("The expiry must be in the future")
    expect(page.get_by_role("alert")).to_contain_text("expires_in_past")
    expect(_row(page, "expiring")).to_have_count(0)
    page.get_by_label("Expires (UTC, optional)").fill("2099-01-01T12:30")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-secret")).to_have_text(TOKEN)
    expect(_row(page, "expiring")).to_contain_text("2099-01-01 12:30 UTC")


def test_a_key_is_created_with_the_keyboard_only(signed_in: Any) -> None:
    page = signed_in
    _open_keys(page)
    page.get_by_label("Name", exact=True).focus()
    page.keyboard.type("keyboard")
    page.keyboard.press("Tab")  # the admin scope
    page.keyboard.press("Tab")  # the shop scope
    page.keyboard.press("Space")
    page.keyboard.press("Enter")  # submits the form
    expect(page.locator("#new-secret")).to_have_text(TOKEN)
    expect(page.get_by_role("heading", name=re.compile("New key"))).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Copy")).to_be_focused()
