"""The local gateway under hostile requests: the authorizer cache as API Gateway keeps it,
two Authorization headers refused, a burst of 200 simultaneous connections served without a
reset, and a pass of the hostile bodies and paths on every route over HTTP."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests

from local_stack.stack import LocalStack
from loyalty_engine.wiring import API_ROUTES, AUTHORIZER_CACHE_TTL_S, INSTRUMENT_ROUTES

TIMEOUT = 60
ROUTES = sorted({(r.method, r.path) for r in (*API_ROUTES, *INSTRUMENT_ROUTES)})
BURST = 200


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack.start(state_file=tmp_path_factory.mktemp("hostile") / "stack.json") as running:
        yield running


def _port(stack: LocalStack) -> int:
    port = urlsplit(stack.api_url).port
    assert port is not None
    return port


def _key(stack: LocalStack, role: str = "admin") -> str:
    return f"Bearer {stack.keys['demo'][role]}"


def _raw(
    stack: LocalStack, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", _port(stack), timeout=TIMEOUT)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in [*headers, ("Content-Length", str(len(body)))]:
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        text = response.read()
        return response.status, json.loads(text) if text else None
    finally:
        connection.close()


def test_two_authorization_headers_are_401_and_the_authorizer_is_not_called(stack: LocalStack) -> None:
    stack.gateway.cache.clear()
    calls = Counter[str]()
    authorizer = stack.gateway._authorizer
    invoke = authorizer.invoke

    def counting(event: dict[str, Any]) -> Any:
        calls["authorizer"] += 1
        return invoke(event)

    authorizer.invoke = counting  # type: ignore[method-assign]
    try:
        for second in (_key(stack), _key(stack, "shop"), "Bearer garbage"):
            status, body = _raw(
                stack, "GET", "/v1/programs/nope", [("Authorization", _key(stack)), ("Authorization", second)]
            )
            assert status == 401 and body["code"] == "unauthorized", body
        assert calls["authorizer"] == 0
        status, _ = _raw(stack, "GET", "/v1/programs/nope", [("Authorization", _key(stack))])
        assert status == 404 and calls["authorizer"] == 1
    finally:
        authorizer.invoke = invoke  # type: ignore[method-assign]


def test_the_authorizer_cache_is_keyed_on_the_header_value_for_the_wirings_ttl(stack: LocalStack) -> None:
    cache = stack.gateway.cache
    cache.clear()
    assert cache._ttl == AUTHORIZER_CACHE_TTL_S  # the CDK's results_cache_ttl reads the same setting
    calls = Counter[str]()
    authorizer = stack.gateway._authorizer
    invoke = authorizer.invoke

    def counting(event: dict[str, Any]) -> Any:
        calls["authorizer"] += 1
        return invoke(event)

    authorizer.invoke = counting  # type: ignore[method-assign]
    try:
        shop = _key(stack, "shop")
        for _ in range(3):  # one call, then the cached policy (evaluated on each method ARN)
            assert _raw(stack, "GET", "/v1/programs/nope", [("Authorization", shop)])[0] == 404
        program = {
            "name": "Shop try",
            "currency": "EUR",
            "starts_at": "2025-01-01T00:00:00+01:00",
            "nq_points": {
                "conversion_rate": "10",
                "rounding": "down",
                "validity": {"value": 1, "unit": "year"},
            },
        }
        headers = [("Authorization", shop), ("Content-Type", "application/json")]
        assert _raw(stack, "PUT", "/v1/programs/nope", headers, json.dumps(program).encode())[0] == 403
        assert calls["authorizer"] == 1
        # another spelling of the same key is another identity: the authorizer answers it afresh
        assert _raw(stack, "GET", "/v1/programs/nope", [("Authorization", shop.replace(" ", "  "))])[0] in (
            401,
            404,
        )
        assert calls["authorizer"] == 2
        # an Unauthorized refusal is not cached
        for _ in range(2):
            assert _raw(stack, "GET", "/v1/programs/nope", [("Authorization", "Bearer lk.x.y.z")])[0] == 401
        assert calls["authorizer"] == 4
    finally:
        authorizer.invoke = invoke  # type: ignore[method-assign]


def test_a_burst_of_200_simultaneous_connections_is_served_without_resets(stack: LocalStack) -> None:
    stack.gateway.cache.clear()
    request = (
        f"GET /v1/programs/nope HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {_key(stack, 'shop')}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    barrier = threading.Barrier(BURST)
    statuses: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            with socket.create_connection(("127.0.0.1", _port(stack)), timeout=TIMEOUT) as sock:
                sock.sendall(request)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            outcome = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else "garbled"
        except ConnectionResetError:
            outcome = "reset"
        except OSError as error:
            outcome = f"error:{error!r}"
        with lock:
            statuses.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT * 2)
    print(f"burst: {Counter(statuses)}")
    assert Counter(statuses) == {"404": BURST}


HTTP_CASES: list[tuple[str, bytes, str, set[str]]] = [
    ("deep", b"[" * 5000 + b"]" * 5000, "application/json", {"body_too_deep"}),
    ("deep object", b'{"a":' * 2000 + b"1" + b"}" * 2000, "application/json", {"body_too_deep"}),
    ("duplicate key", b'{"points": 1, "points": 2}', "application/json", {"duplicate_key"}),
    ("NaN", b'{"points": NaN}', "application/json", {"invalid_number"}),
    ("control", b'{"name": "a\\u0007b"}', "application/json", {"invalid_character"}),
    ("text/plain", b"{}", "text/plain", {"unsupported_media_type"}),
    ("form", b"a=1", "application/x-www-form-urlencoded", {"unsupported_media_type"}),
    ("huge", b'{"x": "' + b"a" * 300_000 + b'"}', "application/json", {"payload_too_large"}),
]


def _concrete(path: str, first: str | None = None) -> str:
    values = {"card_code": "CARD-0001", "number": "60000000000000001", "import_id": "A" * 26}
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    for index, name in enumerate(names):
        value = first if index == 0 and first is not None else values.get(name, "sample-1")
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def test_hostile_requests_on_every_route_through_the_gateway_are_4xx(stack: LocalStack) -> None:
    auth = {"Authorization": _key(stack)}
    sent = Counter[str]()
    server_errors = Counter[str]()
    for method, path in ROUTES:
        route = f"{method} {path}"
        for name, body, media, codes in HTTP_CASES:
            response = requests.request(
                method,
                stack.api_url + _concrete(path),
                data=body,
                headers={**auth, "Content-Type": media},
                timeout=TIMEOUT,
            )
            sent[route] += 1
            server_errors[route] += response.status_code >= 500
            assert 400 <= response.status_code < 500, (route, name, response.status_code, response.text[:200])
            assert response.json()["code"] in codes | {"forbidden"}, (route, name, response.text[:200])
        if "{" in path:
            response = requests.request(
                method, stack.api_url + _concrete(path, "ab\x01c"), headers=auth, timeout=TIMEOUT
            )
            sent[route] += 1
            assert 400 <= response.status_code < 500, (route, response.text[:200])
            assert response.json()["code"] in {"invalid_character", "forbidden"}, (route, response.text[:200])
    figures = {
        "routes": len(sent),
        "requests": sum(sent.values()),
        "server_errors": sum(server_errors.values()),
    }
    print(f"gateway pass: {figures}")
    assert figures["server_errors"] == 0
