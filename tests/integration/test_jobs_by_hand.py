"""An operator's run "as of" an instant, on moto: refused in the future (nothing written), and the
dry run that says what a run would change; through the use cases and through `loyalty-admin`."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from loyalty_engine.cli import main
from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.kernel.table import PARTITION_KEY
from loyalty_engine.tiers.jobs import JOB_NAMES, JobRequest
from loyalty_engine.tiers.previews import preview_run
from loyalty_engine.tiers.run_use_cases import run_now
from tests.integration.conftest import CARD, SHOP, order_body
from tests.support.api import call
from tests.support.jobs import run_in_time, services

ORDERED = datetime(2026, 3, 10, 12, tzinfo=UTC)  # 650 EUR: 6,500 NQ and 650 Q, until 10 March 2027 12:00
EXPIRY_RUN = datetime(2027, 3, 10, 23, tzinfo=UTC)  # the first expire-points run after (00:00 GMT+1)
DOWNGRADE_2028 = datetime(2028, 1, 1, 2, tzinfo=UTC)  # the yearly downgrade, 03:00 GMT+1


def request(job: str, at: datetime) -> JobRequest:
    return JobRequest(group="demo", program_id="club", job=job, scheduled_at=at)  # type: ignore[arg-type]


def demo_items(table) -> list[dict]:
    client, name = table
    items, params = [], {"TableName": name}
    while True:
        page = client.scan(**params)
        items += [item for item in page["Items"] if item[PARTITION_KEY]["S"].startswith("G#demo")]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture
def silver(member, clock) -> dict:
    """The sample member at Silver (650 Q points, valid until 10 March 2027), by an upgrade run today."""
    body = order_body(order_id="O-SILVER", amount="650.00", ordered_at=ORDERED.isoformat(), lines=[])
    assert call("api_earn_order", SHOP, body=body).status == 201
    upgraded = run_now(services(), request("tier-upgrade", datetime(2026, 12, 10, 2, tzinfo=UTC)))
    assert (upgraded.state, upgraded.changed) == ("completed", 1)
    view = call("api_get_member", SHOP).body
    assert (view["tier"]["name"], view["balances"]["q"]["valid"]) == ("Silver", 650)
    return view


@pytest.mark.parametrize("job", JOB_NAMES)
def test_a_run_as_of_an_instant_in_the_future_is_refused_and_writes_nothing(silver, clock, table, job):
    before = demo_items(table)
    at = clock.now + timedelta(seconds=1)
    with pytest.raises(InvalidRequest) as refused:
        run_now(services(), request(job, at))
    assert refused.value.code == "run_in_future"
    assert refused.value.details == [
        {"field": "scheduled_at", "reason": "in_future", "now": "2026-12-10T12:00:00+00:00"}
    ]
    assert "--dry-run" in refused.value.message
    assert demo_items(table) == before, "no run item, no member change, no entry"
    clock.now = at  # once the instant has come, the same run runs
    assert run_now(services(), request(job, at)).state == "completed"


def test_expire_points_in_the_future_dry_run_says_what_the_run_will_do(silver, clock, table):
    before = demo_items(table)
    preview = preview_run(services(), request("expire-points", EXPIRY_RUN))
    assert (preview.state, preview.written, preview.members, preview.changed) == ("dry_run", False, 1, 1)
    assert (preview.expiring_nq, preview.expiring_q) == (6500, 650)
    assert [c.model_dump() for c in preview.cards] == [
        {"card_code": CARD, "outcome": "6500 NQ and 650 Q expire"}
    ]
    assert demo_items(table) == before
    assert preview_run(services(), request("expire-points", EXPIRY_RUN)) == preview, "nothing was recorded"
    earlier = preview_run(services(), request("expire-points", EXPIRY_RUN - timedelta(days=1)))
    assert (earlier.changed, earlier.expiring_nq, earlier.cards) == (0, 0, [])

    done = run_in_time(request("expire-points", EXPIRY_RUN))  # once its time has come
    assert (done.state, done.changed) == ("completed", preview.changed)
    assert call("api_get_ledger", SHOP).body["entries"][0]["nq"] == -preview.expiring_nq
    after = preview_run(services(), request("expire-points", EXPIRY_RUN))
    assert (after.changed, after.expiring_nq) == (0, 0), "the run took what the dry run saw"


def test_tier_runs_dry_run_report_the_moves_without_making_them(silver, clock, table):
    before = demo_items(table)
    down = preview_run(services(), request("tier-downgrade", DOWNGRADE_2028))
    assert (down.state, down.changed, down.moves) == ("dry_run", 1, {"Silver -> Blue": 1})
    assert [(c.card_code, c.outcome) for c in down.cards] == [(CARD, "Silver -> Blue")]
    up = preview_run(services(), request("tier-upgrade", DOWNGRADE_2028))
    assert (up.changed, up.moves) == (0, {})
    assert demo_items(table) == before
    assert call("api_get_member", SHOP).body["tier"]["name"] == "Silver"
    assert call("api_get_tier_history", SHOP).body["changes"][0]["cause"] == "upgrade_run"

    reconcile = preview_run(services(), request("reconcile", DOWNGRADE_2028))
    assert (reconcile.state, reconcile.drift, reconcile.changed) == ("dry_run", 0, 0)
    gone = preview_run(
        services(), JobRequest(group="demo", program_id="gone", job="reconcile", scheduled_at=DOWNGRADE_2028)
    )
    assert (gone.state, gone.reason) == ("skipped", "program_not_found")


def _admin(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_loyalty_admin_refuses_the_future_and_makes_dry_runs(silver, table):
    """Through the CLI, on the real clock (the sample data lie around December 2026)."""
    now = datetime.now(UTC)
    future = (now + timedelta(days=800)).replace(microsecond=0).isoformat()
    past_at = (now - timedelta(days=1)).replace(microsecond=0)
    past, past_id = past_at.isoformat(), past_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    before = demo_items(table)
    for job in JOB_NAMES:
        argv = ("run-job", "--group", "demo", "--program", "club", "--job", job, "--at", future)
        code, out, err = _admin(*argv)
        assert (code, out) == (2, ""), err
        assert "run-job refused (run_in_future)" in err and "--dry-run" in err
        code, out, err = _admin(*argv, "--dry-run")
        assert code == 0, err
        preview = json.loads(out)
        assert (preview["state"], preview["written"], preview["job"]) == ("dry_run", False, job)
        assert "dry run, nothing was written" in err
        assert preview["changed"] == (1 if job in ("expire-points", "tier-downgrade") else 0), preview
    assert demo_items(table) == before

    code, out, err = _admin(
        "run-job", "--group", "demo", "--program", "club", "--job", "reconcile", "--at", past
    )
    assert code == 0, err
    assert (json.loads(out)["state"], json.loads(out)["drift"]) == ("completed", 0)
    runs = {i["pk"]["S"] for i in demo_items(table) if "#RUN#" in i["pk"]["S"]}
    assert runs == {
        "G#demo#P#club#RUN#tier-upgrade@2026-12-10T02:00:00Z",
        f"G#demo#P#club#RUN#reconcile@{past_id}",
    }
    code, out, _ = _admin(
        "run-job", "--group", "demo", "--program", "gone", "--job", "reconcile", "--at", past, "--dry-run"
    )
    assert (code, json.loads(out)["reason"]) == (1, "program_not_found")
