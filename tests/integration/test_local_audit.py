"""On the local gateway: an admin key's writes on both APIs land in one audit log, with the
gateway's request id and time, and a shop key's writes do not; an adjustment shows in the
member's ledger and timeline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from local_stack.stack import LocalStack

TIMEOUT = 60


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack.start(state_file=tmp_path_factory.mktemp("audit") / "stack.json") as running:
        yield running


def _auth(stack: LocalStack, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.keys['demo'][scope]}"}


def test_both_apis_write_one_log_through_the_gateway(stack: LocalStack) -> None:
    base, admin, shop = stack.api_url, _auth(stack, "admin"), _auth(stack, "shop")
    program = requests.put(
        f"{base}/v1/programs/audit-club",
        json={"name": "Audit club", "currency": "EUR", "starts_at": "2025-01-01T00:00:00+01:00"},
        headers=admin,
        timeout=TIMEOUT,
    )
    assert program.status_code in (200, 201), program.text
    enrolled = requests.post(
        f"{base}/v1/programs/audit-club/members",
        json={"card_code": "AUDIT-0001"},
        headers=shop,
        timeout=TIMEOUT,
    )
    assert enrolled.status_code == 201, enrolled.text
    group = requests.put(
        f"{base}/v1/merchant-groups/audit-stores", json={"name": "Stores"}, headers=admin, timeout=TIMEOUT
    )
    assert group.status_code in (200, 201), group.text
    adjusted = requests.post(
        f"{base}/v1/members/AUDIT-0001/adjustments",
        json={"kind": "nq", "points": 40, "reason_code": "migration", "comment": "from the old system"},
        headers=admin | {"Idempotency-Key": "audit-migration-1"},
        timeout=TIMEOUT,
    )
    assert adjusted.status_code == 201 and adjusted.json()["balance"] == {"nq": 40, "q": 0}, adjusted.text
    log = requests.get(f"{base}/v1/audit", headers=admin, timeout=TIMEOUT)
    assert log.status_code == 200, log.text
    routes = [(i["method"], i["route"], i["status"]) for i in log.json()["items"]]
    assert ("PUT", "/v1/programs/{program_id}", program.status_code) in routes
    assert ("PUT", "/v1/merchant-groups/{merchant_group_id}", group.status_code) in routes  # instrument API
    assert ("POST", "/v1/members/{card_code}/adjustments", 201) in routes
    assert not any(route == "/v1/programs/{program_id}/members" for _, route, _ in routes)  # shop key
    assert len({i["request_id"] for i in log.json()["items"]}) == len(routes)
    timeline = requests.get(f"{base}/v1/members/AUDIT-0001/timeline", headers=admin, timeout=TIMEOUT)
    assert timeline.status_code == 200, timeline.text
    assert [i["kind"] for i in timeline.json()["items"]] == ["adjustment"]
