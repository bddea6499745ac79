"""The console's actions under a user's hands: a double click or a retry of the adjust form
applies one adjustment."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_member
from tests.browser.seed import Api, Seeded

CARD = "ACTIONS-0001"  # not a CONSOLE- card: the search tests count those


@pytest.fixture(scope="module")
def member(seeded: Seeded) -> str:
    """A member of the seeded program with no points yet."""
    api = Api(seeded.api_url, seeded.admin_key)
    api("POST", f"/v1/programs/{seeded.program_id}/members", 201, json={"card_code": CARD})
    return CARD


def _ledger(seeded: Seeded, card: str) -> list[dict[str, Any]]:
    return list(Api(seeded.api_url, seeded.admin_key)("GET", f"/v1/members/{card}/ledger", 200)["entries"])


def _fill_adjustment(page: Any, points: int, reason: str) -> None:
    page.get_by_label("Change (signed)").fill(str(points))
    page.get_by_label("Reason code").select_option(reason)
    page.get_by_label("Comment").fill("audit")


def test_a_double_click_on_adjust_points_adjusts_once(signed_in: Any, seeded: Seeded, member: str) -> None:
    page = signed_in
    open_member(page, member)
    before = len(_ledger(seeded, member))
    posts: list[str] = []

    def slow(route: Any) -> None:  # the API answers slowly: the second click lands meanwhile
        posts.append(route.request.headers.get("idempotency-key", ""))
        page.wait_for_timeout(300)
        route.continue_()

    page.route("**/adjustments", slow)
    _fill_adjustment(page, 7, "goodwill")
    page.get_by_role("button", name="Adjust points").dblclick()
    expect(page.get_by_role("status")).to_contain_text("Adjusted +7 NQ points")
    page.wait_for_timeout(500)
    assert len(posts) == 1, posts
    assert len(_ledger(seeded, member)) == before + 1


def test_a_retry_after_a_lost_answer_reuses_its_idempotency_key(
    signed_in: Any, seeded: Seeded, member: str
) -> None:
    page = signed_in
    open_member(page, member)
    before = len(_ledger(seeded, member))
    keys: list[str] = []
    lost = {"first": True}

    def lose_the_first_answer(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if lost.pop("first", False):
            route.fetch()  # the API applies it; the answer never reaches the page
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/adjustments", lose_the_first_answer)
    _fill_adjustment(page, 3, "goodwill")
    page.get_by_role("button", name="Adjust points").click()
    expect(page.get_by_role("alert")).to_contain_text("The API cannot be reached")
    page.get_by_role("button", name="Adjust points").click()  # the agent tries again
    expect(page.get_by_role("status")).to_contain_text("Adjusted +3 NQ points")
    assert len(keys) == 2 and keys[0] == keys[1], keys
    assert len(_ledger(seeded, member)) == before + 1
    # Another change afterwards is another adjustment, under a new key.
    _fill_adjustment(page, 4, "goodwill")
    page.get_by_role("button", name="Adjust points").click()
    expect(page.get_by_role("status")).to_contain_text("Adjusted +4 NQ points")
    assert len(keys) == 3 and keys[2] != keys[0]
    assert len(_ledger(seeded, member)) == before + 2


def test_a_refused_field_is_explained_in_words(signed_in: Any, member: str) -> None:
    page = signed_in
    open_member(page, member)
    _fill_adjustment(page, 5, "goodwill")
    page.get_by_label("Comment").fill("x" * 501)  # the API takes 500 characters at most
    page.get_by_role("button", name="Adjust points").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("validation_error, HTTP 422")
    expect(alert.get_by_role("listitem")).to_have_text(
        "comment: String should have at most 500 characters (string_too_long)"
    )


def test_the_reason_code_is_chosen_among_the_apis_codes(signed_in: Any, seeded: Seeded, member: str) -> None:
    page = signed_in
    open_member(page, member)
    reason = page.get_by_label("Reason code")
    values = reason.locator("option").evaluate_all("options => options.map((option) => option.value)")
    assert values == ["goodwill", "correction", "fraud", "migration", "other"], values
    page.get_by_label("Change (signed)").fill("2")
    reason.select_option("migration")
    page.get_by_role("button", name="Adjust points").click()
    expect(page.get_by_role("status")).to_contain_text("Adjusted +2 NQ points (migration)")
    assert _ledger(seeded, member)[0]["reason_code"] == "migration"
