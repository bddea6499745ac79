"""The local stack end to end: moto, seed keys, the gateway and the handlers, over HTTP."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.demo import run_scenario
from local_stack.gateway import MAX_BODY_BYTES
from local_stack.stack import LocalStack
from loyalty_engine.events.models import BUS_ENV
from loyalty_engine.wiring import BUCKETS, PROGRAM_SCHEDULES, QUEUES

TIMEOUT = 30


@pytest.fixture(scope="module")
def state_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local") / "stack.json"


@pytest.fixture(scope="module")
def stack(state_file: Path) -> Iterator[LocalStack]:
    with LocalStack.start(state_file=state_file) as running:
        yield running
    assert not state_file.exists(), "stop() removes the state file"


def _auth(stack: LocalStack, group: str = "demo", role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.keys[group][role]}"}


def _call(stack: LocalStack, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, stack.api_url + path, timeout=TIMEOUT, **kwargs)


def _program(program_id: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "currency": "EUR",
        "starts_at": "2025-01-01T00:00:00+01:00",
        "nq_points": {"conversion_rate": "10", "rounding": "down", "validity": {"value": 1, "unit": "year"}},
    }


# One instant for every order of the module: a till's retry sends the very same body, and an
# `ordered_at` computed per call would differ across a second's boundary (a 409, not a replay).
ORDERED_AT = (datetime.now(UTC) - timedelta(hours=1)).astimezone().isoformat(timespec="seconds")


def _order(order_id: str, amount: str) -> dict[str, Any]:
    return {"order_id": order_id, "amount": amount, "currency": "EUR", "ordered_at": ORDERED_AT}


def _enrolled(stack: LocalStack, program_id: str, card_code: str) -> None:
    created = _call(
        stack,
        "PUT",
        f"/v1/programs/{program_id}",
        json=_program(program_id, program_id),
        headers=_auth(stack),
    )
    assert created.status_code == 201, created.text
    enrolled = _call(
        stack,
        "POST",
        f"/v1/programs/{program_id}/members",
        json={"card_code": card_code},
        headers=_auth(stack),
    )
    assert enrolled.status_code == 201, enrolled.text


# ---------------------------------------------------------------- the stack


def test_state_file_describes_the_running_stack(stack: LocalStack, state_file: Path) -> None:
    state = json.loads(state_file.read_text())
    assert state == stack.info()
    resources = {bucket.env.lower() for bucket in BUCKETS} | {queue.env.lower() for queue in QUEUES}
    resources |= {queue.dead_letter_env.lower() for queue in QUEUES if queue.dead_letter_env}  # webhooks
    resources |= {
        name.lower()
        for name in (
            PROGRAM_SCHEDULES.group_env,
            PROGRAM_SCHEDULES.role_env,
            PROGRAM_SCHEDULES.target_env,
            PROGRAM_SCHEDULES.dead_letter_env,
            BUS_ENV,  # the domain events' bus
        )
    }
    assert set(state) == {"aws_endpoint_url", "api_url", "table_name", "region", "keys"} | resources
    assert resources >= {"import_bucket", "import_queue_url"}
    assert state["api_url"].startswith("http://127.0.0.1:")
    assert state["aws_endpoint_url"].startswith("http://127.0.0.1:")
    assert state["region"] == "eu-west-1"
    assert state["table_name"] == stack.table_name
    assert set(state["keys"]) == {"demo", "demo-b"}
    for group, keys in state["keys"].items():
        assert set(keys) == {"admin", "shop", "partner"}
        assert all(token.startswith(f"lk.{group}.") for token in keys.values())
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600, "the keys are readable by the owner only"


def test_handlers_use_the_local_aws(stack: LocalStack) -> None:
    assert os.environ["AWS_ENDPOINT_URL"] == stack.aws_endpoint_url
    assert os.environ["TABLE_NAME"] == stack.table_name
    import boto3

    dynamodb = boto3.client("dynamodb")
    table = dynamodb.describe_table(TableName=stack.table_name)["Table"]
    assert {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])} == {"gsi1"}
    ttl = dynamodb.describe_time_to_live(TableName=stack.table_name)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"


def test_only_one_stack_per_process(stack: LocalStack) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        LocalStack.start()


# ---------------------------------------------------------------- gateway answers


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer lk.demo.01ARZ3NDEKTSV4RRFFQ69G5FAV.not-the-secret"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer garbage"},
    ],
    ids=["no header", "empty", "unknown key", "not bearer", "malformed"],
)
def test_401_without_a_valid_key(stack: LocalStack, headers: dict[str, str]) -> None:
    response = _call(stack, "GET", "/v1/members/CARD-0001", headers=headers)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["code"] == "unauthorized"


def test_a_tampered_secret_is_refused(stack: LocalStack) -> None:
    token = stack.keys["demo"]["admin"]
    response = _call(stack, "GET", "/v1/members/CARD-0001", headers={"Authorization": f"Bearer {token}x"})
    assert response.status_code == 401


def test_authorizer_results_are_cached_per_key(stack: LocalStack) -> None:
    headers = _auth(stack, "demo", "shop")
    stack.gateway.cache.clear()
    assert _call(stack, "GET", "/v1/programs/nope", headers=headers).status_code == 404
    assert stack.gateway.cache.get(headers["Authorization"]) is not None


def test_404_for_an_unknown_route(stack: LocalStack) -> None:
    for path in ("/v1/nope", "/", "/v1/member", "/v1/members/CARD-0001/unknown", "/v2/members/CARD-0001"):
        response = _call(stack, "GET", path, headers=_auth(stack))
        assert response.status_code == 404, path
        assert response.json()["code"] == "route_not_found"


def test_404_for_another_method_on_a_known_route_as_deployed(stack: LocalStack) -> None:
    response = _call(stack, "DELETE", "/v1/programs/some-program", headers=_auth(stack))
    assert response.status_code == 404
    assert response.json()["code"] == "route_not_found"
    assert "GET, PUT" in response.json()["message"]


def test_403_when_the_key_scope_does_not_allow_the_route(stack: LocalStack) -> None:
    response = _call(
        stack,
        "PUT",
        "/v1/programs/shop-try",
        json=_program("shop-try", "Shop try"),
        headers=_auth(stack, "demo", "shop"),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_413_above_one_megabyte(stack: LocalStack) -> None:
    body = b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = _call(stack, "PUT", "/v1/programs/big", data=body, headers=_auth(stack))
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_invalid_json_reaches_the_handler(stack: LocalStack) -> None:
    for body in (b"{not json", b"\xff\xfe\x00", b"[]", b""):
        response = _call(
            stack,
            "PUT",
            "/v1/programs/bad-input",
            data=body,
            headers={**_auth(stack), "Content-Type": "application/json"},
        )
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_error"


def test_routes_come_from_the_wiring_with_decoded_path_parameters(stack: LocalStack) -> None:
    match = stack.gateway.router.match("POST", "/v1/members/A%20B/orders/O%2F1/returns")
    assert match.route.path == "/v1/members/{card_code}/orders/{order_id}/returns"
    assert match.function.name == "Api"
    assert match.path_parameters == {"card_code": "A B", "order_id": "O/1"}
    assert stack.gateway.router.match("GET", "/v1/programs/p1/").route.path == "/v1/programs/{program_id}"


def test_malformed_http_is_a_400_not_a_500(stack: LocalStack) -> None:
    port = int(stack.api_url.rsplit(":", 1)[1])
    for raw in (
        b"GARBAGE\r\n\r\n",
        b"POST /v1/members/CARD-0001/burns HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"POST /v1/members/CARD-0001/burns HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as connection:
            connection.sendall(raw)
            answer = connection.recv(65536).decode("latin-1")
        status = int(answer.split(" ", 2)[1])
        assert status == 400, answer


def test_chunked_bodies_are_read(stack: LocalStack) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "Chunked", "currency": "EUR", '
        yield b'"starts_at": "2025-01-01T00:00:00+01:00"}'

    response = _call(stack, "PUT", "/v1/programs/chunked", data=chunks(), headers=_auth(stack))
    assert response.status_code == 201, response.text


# ---------------------------------------------------------------- the API through the gateway


def test_earn_and_burn_flow(stack: LocalStack) -> None:
    _enrolled(stack, "flow", "FLOW-0001")
    shop = _auth(stack, "demo", "shop")
    earned = _call(stack, "POST", "/v1/members/FLOW-0001/orders", json=_order("F-1", "25.00"), headers=shop)
    assert earned.status_code == 201, earned.text
    assert earned.json()["earned"]["nq"] == 250
    replay = _call(stack, "POST", "/v1/members/FLOW-0001/orders", json=_order("F-1", "25.00"), headers=shop)
    assert replay.status_code == 201
    assert replay.json()["balances"]["nq"]["available"] == 250, "a retried order is not credited twice"
    burned = _call(
        stack, "POST", "/v1/members/FLOW-0001/burns", json={"burn_id": "FB-1", "points": 100}, headers=shop
    )
    assert burned.status_code == 201, burned.text
    assert burned.json()["balances"]["nq"]["available"] == 150
    too_much = _call(
        stack, "POST", "/v1/members/FLOW-0001/burns", json={"burn_id": "FB-2", "points": 151}, headers=shop
    )
    assert too_much.status_code == 409
    assert too_much.json()["code"] == "insufficient_points"
    member = _call(stack, "GET", "/v1/members/FLOW-0001", headers=shop)
    assert member.status_code == 200
    assert member.json()["balances"]["nq"]["available"] == 150
    ledger = _call(stack, "GET", "/v1/members/FLOW-0001/ledger", params={"limit": 1}, headers=shop)
    assert ledger.status_code == 200
    page = ledger.json()
    assert [entry["kind"] for entry in page["entries"]] == ["burn"]
    rest = _call(
        stack, "GET", "/v1/members/FLOW-0001/ledger", params={"cursor": page["next_cursor"]}, headers=shop
    )
    assert [entry["kind"] for entry in rest.json()["entries"]] == ["earn"]
    hidden = _call(stack, "GET", "/v1/members/FLOW-0001", headers=_auth(stack, "demo-b", "admin"))
    assert hidden.status_code == 404


def test_concurrent_requests_keep_tenants_and_balances_apart(stack: LocalStack) -> None:
    """Many requests at once, from two groups: each sees its own data, and no credit is lost."""
    _enrolled(stack, "rush", "RUSH-0001")
    demo, other = _auth(stack, "demo", "shop"), _auth(stack, "demo-b", "shop")

    def earn(index: int) -> int:
        order = _order(f"R-{index}", "1.00")
        return _call(stack, "POST", "/v1/members/RUSH-0001/orders", json=order, headers=demo).status_code

    def read(index: int) -> int:
        return _call(stack, "GET", "/v1/members/RUSH-0001", headers=other if index % 2 else demo).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        earns = pool.map(earn, range(12))
        reads = list(pool.map(read, range(24)))
    assert list(earns) == [201] * 12
    assert reads == [404 if index % 2 else 200 for index in range(24)]
    member = _call(stack, "GET", "/v1/members/RUSH-0001", headers=demo).json()
    assert member["balances"]["nq"]["available"] == 12 * 10


def test_the_demo_scenario_runs_green(stack: LocalStack) -> None:
    out = io.StringIO()
    result = run_scenario(stack.api_url, stack.keys, out=out, suffix="-t")
    assert result.ok, out.getvalue()
    assert "all" in out.getvalue().splitlines()[-1]


def test_the_partner_import_scenario_runs_green(stack: LocalStack) -> None:
    from local_stack.demo_imports import run_import_scenario

    out = io.StringIO()
    result = run_import_scenario(stack, out=out, suffix="-t")
    assert result.ok, out.getvalue()
    assert "all" in out.getvalue().splitlines()[-1]
