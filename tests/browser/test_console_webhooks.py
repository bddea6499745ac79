"""The console's Webhooks section on the real routes of the local stack: the group's
subscriptions (never a secret), a subscription's delivery log paged with More, and Redeliver
(a new Idempotency-Key per click, one request for a double click, the same key for a retry
after a lost answer). A receiver on 127.0.0.1 refuses the first delivery (HTTP 500)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.browser.seed import Api, Seeded
from tests.support.webhooks import Receiver, receiver

CARDS = ("HOOKS-0001", "HOOKS-0002")  # not CONSOLE- cards: the search tests count those
ANSWER = "<b>refused</b>"  # the receiver's answer, shown as text in the log
DESCRIPTION = "CRM <i>hooks</i>"
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")
WAIT_S = 30


@dataclass(frozen=True)
class Hook:
    subscription_id: str
    url: str
    secret: str
    failed_event: str  # the event of the attempt the receiver refused
    server: Receiver


def _attempts(api: Api, subscription_id: str) -> list[dict[str, Any]]:
    return list(
        api("GET", f"/v1/webhooks/{subscription_id}/deliveries", 200, params={"limit": 200})["deliveries"]
    )


def _wait_for(check: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {WAIT_S} s")


@pytest.fixture(scope="module")
def hook(seeded: Seeded) -> Iterator[Hook]:
    """A webhook of member.enrolled events and two enrolments: the first delivery refused (500),
    the second accepted. Deleted afterwards (nothing more is sent to the receiver, then gone)."""
    api = Api(seeded.api_url, seeded.admin_key)
    with receiver(script=[(500, 0.0)], answer_text=ANSWER) as server:
        made = api(
            "POST",
            "/v1/webhooks",
            201,
            json={"url": server.url, "kinds": ["member.enrolled"], "description": DESCRIPTION},
            headers={"Idempotency-Key": "console-hook-1"},
        )
        subscription_id = made["subscription_id"]
        try:
            for card in CARDS:
                api("POST", f"/v1/programs/{seeded.program_id}/members", 201, json={"card_code": card})

            def delivered_once() -> list[dict[str, Any]] | None:
                attempts = _attempts(api, subscription_id)
                return attempts if any(a["succeeded"] for a in attempts) else None

            attempts = _wait_for(delivered_once, "the webhook's first deliveries")
            failed = next(a for a in attempts if not a["succeeded"])
            yield Hook(subscription_id, server.url, made["secret"], failed["event_id"], server)
        finally:
            api("DELETE", f"/v1/webhooks/{subscription_id}", 200)


def _open_webhooks(page: Any) -> Any:
    page.get_by_role("button", name="Webhooks", exact=True).click()
    return page.get_by_role("table", name="Webhooks")


def _open_deliveries(page: Any, hook: Hook) -> Any:
    _open_webhooks(page)
    page.get_by_role("button", name=f"Open {hook.url}").click()
    expect(page.get_by_role("heading", name=f"Deliveries to {hook.url}")).to_be_focused()
    return page.get_by_role("table", name="Deliveries (newest first)")


def test_the_webhooks_and_their_deliveries_are_shown_without_a_secret(signed_in: Any, hook: Hook) -> None:
    page = signed_in
    webhooks = _open_webhooks(page)
    row = webhooks.locator("tbody tr", has_text=hook.url)
    expect(row).to_contain_text("member.enrolled")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text(DESCRIPTION)  # markup in the description stays text
    expect(row.locator("td").nth(4)).to_have_text(UTC_TIME)
    deliveries = _open_deliveries(page, hook)
    failed = deliveries.locator("tbody tr", has_text=hook.failed_event)
    expect(failed.first).to_contain_text("member.enrolled")
    expect(failed.last).to_contain_text("HTTP 500")
    expect(failed.last).to_contain_text(re.compile("failed, (retrying|given up)"))
    expect(failed.last).to_contain_text(ANSWER)  # the receiver's answer, as text
    expect(failed.last.get_by_role("button", name=f"Redeliver event {hook.failed_event}")).to_be_visible()
    expect(deliveries.locator("tbody tr", has_text="delivered").first).to_contain_text("HTTP 200")
    expect(page.locator("#webhooks b, #webhooks i")).to_have_count(0)
    assert hook.secret.startswith("whsec_") and hook.secret not in page.content()


def test_redeliver_sends_the_event_again_with_a_new_key_per_click(
    signed_in: Any, seeded: Seeded, hook: Hook
) -> None:
    page = signed_in
    api = Api(seeded.api_url, seeded.admin_key)
    deliveries = _open_deliveries(page, hook)
    keys: list[str] = []

    def slow(route: Any) -> None:  # the API answers slowly: a second click lands meanwhile
        keys.append(route.request.headers.get("idempotency-key", ""))
        page.wait_for_timeout(300)
        route.continue_()

    page.route("**/redeliveries", slow)
    button = deliveries.get_by_role("button", name=f"Redeliver event {hook.failed_event}").last
    button.dblclick()
    expect(page.get_by_role("status")).to_contain_text(f"Event {hook.failed_event} queued for redelivery")
    expect(button).to_be_enabled()
    assert len(keys) == 1, keys
    _wait_for(
        lambda: any(
            a["redelivery"] and a["event_id"] == hook.failed_event
            for a in _attempts(api, hook.subscription_id)
        ),
        "the redelivery",
    )
    page.unroute("**/redeliveries")
    with page.expect_response("**/redeliveries") as answered:
        button.click()  # another click is another redelivery, under a new key
    assert answered.value.status == 202
    keys.append(answered.value.request.headers.get("idempotency-key", ""))
    assert len(keys) == 2 and keys[1] != keys[0] and all(keys), keys
    # the log read again shows the redelivery
    deliveries = _open_deliveries(page, hook)
    expect(deliveries.locator("tbody tr", has_text="(redelivery)").first).to_contain_text(hook.failed_event)


def test_a_redelivery_whose_answer_is_lost_is_retried_under_its_key(signed_in: Any, hook: Hook) -> None:
    page = signed_in
    deliveries = _open_deliveries(page, hook)
    keys: list[str] = []
    lost = {"first": True}

    def lose_the_first_answer(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if lost.pop("first", False):
            route.fetch()  # the API queues it; the answer never reaches the page
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/redeliveries", lose_the_first_answer)
    button = deliveries.get_by_role("button", name=f"Redeliver event {hook.failed_event}").last
    button.click()
    expect(page.get_by_role("alert")).to_contain_text("The API cannot be reached")
    button.click()  # the operator tries again: the same request, queued once
    expect(page.get_by_role("status")).to_contain_text("already queued for redelivery by this request")
    assert len(keys) == 2 and keys[0] == keys[1], keys
    button.click()  # answered: the next click is a new redelivery
    expect(page.get_by_role("status")).to_contain_text(f"Event {hook.failed_event} queued for redelivery")
    assert len(keys) == 3 and keys[2] != keys[0], keys


def test_a_retry_told_the_first_request_is_still_being_queued_keeps_its_key(
    signed_in: Any, hook: Hook
) -> None:
    """A retry after a lost answer may find the first request still queuing the event: the API
    answers 409 concurrent_update ("retry in a minute"). That is no answer to the redelivery:
    the next Redeliver is the same request again (its key), or the event would be queued twice."""
    page = signed_in
    deliveries = _open_deliveries(page, hook)
    keys: list[str] = []
    answers = ["lost", "in_flight"]

    def first_lost_then_in_flight(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        answer = answers.pop(0) if answers else None
        if answer == "lost":
            route.abort("connectionreset")
        elif answer == "in_flight":
            route.fulfill(
                status=409,
                json={
                    "code": "concurrent_update",
                    "message": "a redelivery under this Idempotency-Key is being queued: retry in a minute",
                    "details": [],
                },
            )
        else:
            route.continue_()

    page.route("**/redeliveries", first_lost_then_in_flight)
    button = deliveries.get_by_role("button", name=f"Redeliver event {hook.failed_event}").last
    button.click()
    expect(page.get_by_role("alert")).to_contain_text("The API cannot be reached")
    button.click()
    expect(page.get_by_role("alert")).to_contain_text("retry in a minute")
    button.click()  # the retry the API asked for: still the first request's key
    expect(page.get_by_role("status")).to_contain_text(
        re.compile(f"Event {hook.failed_event} (was already )?queued")
    )
    page.unroute("**/redeliveries")
    assert len(keys) == 3 and keys[0] == keys[1] == keys[2], keys


def test_the_deliveries_are_paged_with_more(signed_in: Any, hook: Hook) -> None:
    page = signed_in

    def smaller(route: Any) -> None:  # the real API's pages of one attempt, with its cursors
        url = urlsplit(route.request.url)
        query = dict(parse_qsl(url.query))
        route.continue_(url=urlunsplit(url._replace(query=urlencode({**query, "limit": "1"}))))

    page.route("**/deliveries?*", smaller)
    deliveries = _open_deliveries(page, hook)
    expect(deliveries.locator("tbody tr")).to_have_count(1)
    page.get_by_role("button", name="More deliveries").click()
    expect(deliveries.locator("tbody tr")).to_have_count(2)
    expect(deliveries.locator("tbody tr").nth(1)).to_be_focused()


def test_a_slow_answer_is_dropped_once_the_operator_moved_on_and_sign_out_clears(
    signed_in: Any, hook: Hook
) -> None:
    page = signed_in
    _open_webhooks(page)
    held: list[Any] = []
    page.route("**/deliveries?*", lambda route: held.append(route))
    page.get_by_role("button", name=f"Open {hook.url}").click()
    for _ in range(100):  # the route's handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the deliveries were not asked for"
    page.get_by_role("button", name="Members", exact=True).click()  # moved on
    held[0].fulfill(status=500, json={"code": "internal_error", "message": "late"})
    page.wait_for_timeout(300)
    expect(page.get_by_role("alert")).to_be_hidden()  # the late answer says nothing
    page.unroute("**/deliveries?*")
    _open_deliveries(page, hook)
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#webhooks-list")).to_be_empty()
    expect(page.locator("#deliveries-view")).to_be_empty()


def test_a_redelivery_failing_after_sign_out_leaves_no_key_to_the_next_session(
    signed_in: Any, seeded: Seeded, hook: Hook
) -> None:
    """Sign-out forgets the keys of unanswered redeliveries, also of one still on its way: its
    failure afterwards keeps no key, and the next agent's Redeliver is a request of its own."""
    page = signed_in
    deliveries = _open_deliveries(page, hook)
    held: list[Any] = []
    keys: list[str] = []

    def hold(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        held.append(route)

    page.route("**/redeliveries", hold)
    deliveries.get_by_role("button", name=f"Redeliver event {hook.failed_event}").last.click()
    for _ in range(100):  # the route's handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the redelivery was not sent"
    page.get_by_role("button", name="Sign out").click()
    held[0].abort("connectionreset")  # no answer, after sign-out
    page.wait_for_timeout(300)
    page.unroute("**/redeliveries")
    sign_in(page, seeded.admin_key)
    page.get_by_role("button", name="Sign out").wait_for()
    deliveries = _open_deliveries(page, hook)
    with page.expect_request("**/redeliveries") as sent:
        deliveries.get_by_role("button", name=f"Redeliver event {hook.failed_event}").last.click()
    keys.append(sent.value.headers["idempotency-key"])
    assert len(keys) == 2 and keys[1] != keys[0], keys


def test_a_key_without_the_admin_scope_is_told_it_needs_one(signed_in: Any, hook: Hook) -> None:
    page = signed_in
    page.route(
        "**/v1/webhooks?*",
        lambda route: route.fulfill(status=403, json={"code": "forbidden", "message": "Forbidden"}),
    )
    page.get_by_role("button", name="Webhooks", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("it needs an admin key")
    expect(page.get_by_role("alert")).to_contain_text("HTTP 403")
