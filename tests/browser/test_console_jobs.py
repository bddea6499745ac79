"""The console's Jobs section on the real `GET /v1/programs/{id}/jobs` of the local stack: the
seed's scheduled runs (the upgrade its schedule fired, the reconciliation the JobStarter ran)
newest first, filtered by job, paged with More, a run opened with its shards; data as text,
errors in words, stale answers dropped, sign-out clearing it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from playwright.sync_api import expect

from tests.browser.seed import Api, Seeded

UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$")
RUNS = re.compile(r"/v1/programs/[^/]+/jobs(\?.*)?$")
RUN = re.compile(r"/v1/programs/[^/]+/jobs/[^/?]+$")


def _open_jobs(page: Any, seeded: Seeded, job: str = "") -> Any:
    page.get_by_role("button", name="Jobs", exact=True).click()
    expect(page.get_by_label("Program", exact=True)).to_contain_text(seeded.program_name)
    page.get_by_label("Program", exact=True).select_option(seeded.program_id)
    page.get_by_label("Job", exact=True).select_option(job)
    page.get_by_role("button", name="Show runs").click()
    return page.locator("#job-runs table")


def _listed(seeded: Seeded, job: str | None = None) -> list[dict[str, Any]]:
    """The program's runs as the API lists them (the seed's two, and any other schedule that fired
    while the seed moved the stack's clock on: the expiry at midnight GMT+1...)."""
    params = {"job": job} if job else {}
    api = Api(seeded.api_url, seeded.admin_key)
    return api("GET", f"/v1/programs/{seeded.program_id}/jobs", 200, params=params)["runs"]


def _column(table: Any, index: int) -> list[str]:
    return [text.strip() for text in table.locator(f"tbody tr td:nth-child({index})").all_inner_texts()]


def test_the_runs_of_a_program_newest_first_and_one_opened_with_its_shards(
    signed_in: Any, seeded: Seeded
) -> None:
    page = signed_in
    listed = _listed(seeded)
    assert {"tier-upgrade", "reconcile"} <= {r["job"] for r in listed}
    runs = _open_jobs(page, seeded)
    expect(runs).to_be_focused()
    expect(runs.locator("caption")).to_contain_text(f"Runs of {seeded.program_name}")
    expect(runs.locator("tbody tr")).to_have_count(len(listed))
    assert _column(runs, 2) == [r["job"] for r in listed]
    times = _column(runs, 1)
    assert all(UTC_TIME.match(t) for t in times) and times == sorted(times, reverse=True), times
    upgrade = runs.locator("tbody tr", has_text="tier-upgrade").first
    expect(upgrade.locator("td").nth(2)).to_have_text("completed")
    expect(upgrade.locator("td").nth(5)).to_have_text("1")  # the member read
    expect(upgrade.locator("td").nth(6)).to_have_text("1")  # and made Silver
    runs.get_by_role("button", name=re.compile(r"^Open the tier-upgrade run of ")).first.click()
    heading = page.get_by_role("heading", name=re.compile(r"^tier-upgrade run of .* UTC$"))
    expect(heading).to_be_focused()
    view = page.locator("#job-run-view")
    expect(view).to_contain_text("completed")
    shards = view.locator("table")
    expect(shards.locator("tbody tr")).to_have_count(16)
    assert set(_column(shards, 2)) == {"done"}
    assert sum(int(n) for n in _column(shards, 4)) == 1
    expect(page.get_by_role("status")).to_contain_text("opened")
    # the reconciliation counted the member per tier
    runs.get_by_role("button", name=re.compile(r"^Open the reconcile run of ")).first.press("Enter")
    expect(page.get_by_role("heading", name=re.compile(r"^reconcile run of "))).to_be_focused()
    expect(view).to_contain_text("Members per tier rank")


def test_a_filter_by_job_and_more_runs(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    reconciliations = _listed(seeded, "reconcile")
    runs = _open_jobs(page, seeded, "reconcile")
    expect(runs.locator("caption")).to_contain_text("reconcile only")
    expect(runs.locator("tbody tr")).to_have_count(len(reconciliations))
    assert set(_column(runs, 2)) == {"reconcile"}

    def smaller(route: Any) -> None:  # the real API's pages of one run, with its cursors
        url = urlsplit(route.request.url)
        query = dict(parse_qsl(url.query))
        route.continue_(url=urlunsplit(url._replace(query=urlencode({**query, "limit": "1"}))))

    page.route(RUNS, smaller)
    runs = _open_jobs(page, seeded)
    expect(runs.locator("tbody tr")).to_have_count(1)
    listed = _listed(seeded)
    for shown in range(2, len(listed) + 1):
        page.get_by_role("button", name="More runs").press("Enter")
        expect(runs.locator("tbody tr")).to_have_count(shown)
        expect(runs.locator("tbody tr").nth(shown - 1)).to_be_focused()
    assert _column(runs, 2) == [r["job"] for r in listed]
    expect(page.get_by_role("button", name="More runs")).to_have_count(0)


def test_runs_are_text_never_markup_and_a_running_run_says_so(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    hostile = '<img src=x onerror="document.body.dataset.pwned=1">'
    run = {
        "run_id": "tier-downgrade@2026-12-01T23:00:00Z",
        "job": hostile,
        "scheduled_at": "2026-12-01T23:00:00Z",
        "state": "running",
        "started_at": "2026-12-01T23:00:02Z",
        "completed_at": None,
        "shards": 16,
        **dict.fromkeys(("shards_done", "members", "changed", "drift", "retried", "tiers", "vip_tiers")),
    }
    shards = [
        {
            "shard": n,
            "state": "done" if n < 3 else "not_started",
            "pages": 1 if n < 3 else 0,
            "members": 0,
            "changed": 0,
            "drift": 0,
            "retried": 0,
            "updated_at": "2026-12-01T23:01:00Z" if n < 3 else None,
        }
        for n in range(16)
    ]
    page.route(RUN, lambda route: route.fulfill(json={**run, "shard_progress": shards}))
    page.route(RUNS, lambda route: route.fulfill(json={"runs": [run], "next_cursor": None}))
    runs = _open_jobs(page, seeded)
    row = runs.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_have_text("2026-12-01 23:00 UTC")
    expect(row.locator("td").nth(1)).to_have_text(hostile)
    expect(row.locator("td").nth(5)).to_have_text("—")  # no totals while it runs
    row.get_by_role("button").click()
    view = page.locator("#job-run-view")
    expect(view).to_contain_text("running: 3 of 16 shards done")
    assert _column(view.locator("table"), 2).count("not started") == 13
    expect(page.locator("#jobs img")).to_have_count(0)
    assert page.evaluate("document.body.dataset.pwned") is None


def test_a_stalled_run_says_since_when_and_what_to_do(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    run = {
        "run_id": "expire-points@2026-12-01T23:00:00Z",
        "job": "expire-points",
        "scheduled_at": "2026-12-01T23:00:00Z",
        "state": "running",
        "started_at": "2026-12-01T23:00:02Z",
        "completed_at": None,
        "progress_at": "2026-12-01T23:04:00Z",
        "stalled": True,
        "shards": 16,
        **dict.fromkeys(("shards_done", "members", "changed", "drift", "retried", "tiers", "vip_tiers")),
    }
    shards = [
        {
            "shard": n,
            "state": "done" if n else "running",
            "pages": 1,
            "members": 0,
            "changed": 0,
            "drift": 0,
            "retried": 0,
            "updated_at": "2026-12-01T23:04:00Z",
        }
        for n in range(16)
    ]
    page.route(RUN, lambda route: route.fulfill(json={**run, "shard_progress": shards}))
    page.route(RUNS, lambda route: route.fulfill(json={"runs": [run], "next_cursor": None}))
    runs = _open_jobs(page, seeded)
    row = runs.locator("tbody tr")
    expect(row.locator("td").nth(2)).to_have_text("stalled since 2026-12-01 23:04 UTC")
    row.get_by_role("button").click()
    view = page.locator("#job-run-view")
    expect(view).to_contain_text("stalled since 2026-12-01 23:04 UTC: 15 of 16 shards done")
    expect(view).to_contain_text("wait in the jobs dead-letter queue")


def test_errors_in_words(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    forbidden = {"code": "forbidden", "message": "Forbidden"}
    page.route(RUNS, lambda route: route.fulfill(status=403, json=forbidden))
    _open_jobs(page, seeded)
    expect(page.get_by_role("alert")).to_contain_text(
        "This key may not read the scheduled jobs: it needs an admin key"
    )
    expect(page.locator("#job-runs")).to_be_empty()
    page.unroute(RUNS)
    runs = _open_jobs(page, seeded)
    expect(runs.locator("tbody tr")).to_have_count(len(_listed(seeded)))
    page.route(
        RUN, lambda route: route.fulfill(status=404, json={"code": "run_not_found", "message": "gone"})
    )
    runs.get_by_role("button", name=re.compile(r"^Open the reconcile run")).first.click()
    expect(page.get_by_role("alert")).to_contain_text("was not found")
    # a key revoked meanwhile: the console signs out and says why
    refused = {"code": "unauthorized", "message": "Unauthorized"}
    page.route(RUNS, lambda route: route.fulfill(status=401, json=refused))
    page.get_by_role("button", name="Show runs").click()
    expect(page.get_by_role("alert")).to_contain_text("revoked or has expired")
    expect(page.get_by_label("Admin API key")).to_be_visible()


def test_the_list_asked_for_last_is_shown_and_sign_out_forgets_it(signed_in: Any, seeded: Seeded) -> None:
    page = signed_in
    runs = _open_jobs(page, seeded)
    expect(runs.locator("tbody tr")).to_have_count(len(_listed(seeded)))
    held: list[Any] = []

    def hold_the_upgrades(route: Any) -> None:
        if "job=tier-upgrade" in route.request.url:
            held.append(route)  # answered later, after the next filter's answer
        else:
            route.continue_()

    page.route(RUNS, hold_the_upgrades)
    page.get_by_label("Job", exact=True).select_option("tier-upgrade")
    page.get_by_role("button", name="Show runs").click()
    for _ in range(100):  # the route's handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the first filter was not sent"
    page.get_by_label("Job", exact=True).select_option("reconcile")
    page.get_by_role("button", name="Show runs").click()
    expect(page.locator("#job-runs caption")).to_contain_text("reconcile only")
    held[0].continue_()  # the earlier filter's answer arrives last: dropped
    page.wait_for_timeout(500)
    assert set(_column(page.locator("#job-runs table"), 2)) == {"reconcile"}
    page.locator("#job-runs").get_by_role("button", name=re.compile("^Open")).first.click()
    expect(page.locator("#job-run-view table")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    for box in ("#job-runs", "#job-run-view", "#jobs-program"):
        expect(page.locator(box)).to_be_empty()
    expect(page.locator("#jobs-job")).to_have_value("")
