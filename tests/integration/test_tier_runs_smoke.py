from __future__ import annotations

from datetime import UTC, datetime

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.tiers.context import JobServices
from loyalty_engine.tiers.jobs import JobRequest
from loyalty_engine.tiers.run_use_cases import run_now
from tests.integration.conftest import ADMIN, SHOP, order_body
from tests.support.api import call


def services() -> JobServices:
    ctx = default_context()
    return JobServices(programs=ctx.programs, members=ctx.members, jobs=ctx.jobs, queue=None, clock=ctx.clock)


def test_upgrade_run_moves_member_and_records_history(member, clock):
    reply = call("api_earn_order", SHOP, body=order_body(amount="650.00", order_id="O-1"))
    assert reply.status == 201, reply.body
    at = datetime(2026, 12, 11, 2, 0, tzinfo=UTC)  # 03:00 GMT+1, an upgrade occurrence
    clock.now = at  # an operator's run is as of an instant that has come
    summary = run_now(
        services(), JobRequest(group="demo", program_id="club", job="tier-upgrade", scheduled_at=at)
    )
    assert summary.state == "completed", summary
    assert summary.changed == 1 and summary.members == 1
    view = call("api_get_member", SHOP).body
    assert view["tier"]["name"] == "Silver"
    history = call("api_get_tier_history", SHOP).body
    assert [c["cause"] for c in history["changes"]] == ["upgrade_run"]
    again = run_now(
        services(), JobRequest(group="demo", program_id="club", job="tier-upgrade", scheduled_at=at)
    )
    assert again == summary
    granted = call("api_grant_vip_tier", ADMIN)
    assert granted.status == 200, granted.body
    assert granted.body["vip_tiers"] == ["staff"]
    history = call("api_get_tier_history", SHOP).body
    assert [c["cause"] for c in history["changes"]] == ["vip_grant", "upgrade_run"]
    removed = call("api_remove_vip_tier", ADMIN)
    assert removed.status == 200 and removed.body["vip_tiers"] == []
