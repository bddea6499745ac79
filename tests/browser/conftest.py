"""The console's browser tests: headless Chromium (the distribution's, see browser.py) driven by
Playwright for Python against a fresh local stack that serves the console at /console/.

One local stack, one seed and one browser for the package; a fresh browser context (so a fresh
session storage) per test. No browser is a failure that says how to get one, never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.browser import NoBrowser, chromium_path, launch_arguments
from tests.browser.seed import Seeded, seed

TIMEOUT_MS = 15_000


@pytest.fixture(scope="package")
def chromium() -> str:
    try:
        return chromium_path()
    except NoBrowser as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="package")
def seeded() -> Iterator[Seeded]:
    from local_stack.stack import LocalStack

    with LocalStack.start() as stack:
        yield seed(stack)


@pytest.fixture(scope="package")
def browser(chromium: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "Playwright for Python is missing: `make install` (it is in the dev dependencies)", pytrace=False
        )
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=chromium, args=launch_arguments(), headless=True)
    except Exception as error:
        playwright.stop()
        pytest.fail(f"Chromium at {chromium} did not start: {error}", pytrace=False)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture
def page(browser: Any, seeded: Seeded) -> Iterator[Any]:
    context = browser.new_context(base_url=seeded.api_url, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/console/")
    page.wait_for_selector("body[data-ready=true]")
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the console raised in the page: {errors}"


def sign_in(page: Any, key: str) -> None:
    page.get_by_label("Admin API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def signed_in(page: Any, seeded: Seeded) -> Any:
    sign_in(page, seeded.admin_key)
    page.get_by_role("button", name="Sign out").wait_for()
    return page


def open_member(page: Any, card: str) -> None:
    page.get_by_label("Card code", exact=True).fill(card)
    page.get_by_role("button", name="Open member").click()
    page.get_by_role("heading", name=f"Member {card}").wait_for()
