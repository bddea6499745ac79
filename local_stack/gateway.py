"""A local API Gateway (REST API, stage `api`) in front of the in-process handlers.

What it does as API Gateway does, for the routes of `loyalty_engine.wiring` only:
- matches the path against the route templates (`{param}` is one segment; the event's
  `path` stays percent-encoded, `pathParameters` and query values are decoded);
- runs the REQUEST authorizer on every route, identity source the `Authorization` header
  (absent: 401 without calling it), caching its policy 60 s per header value; a policy
  that does not allow the method ARN is a 403;
- builds the v1 proxy event, with the authorizer's context in `requestContext.authorizer`,
  and writes the function's answer back.

Its own answers are JSON `{"code", "message"}`: 404 route_not_found (an unknown path
or method, as the deployed API answers), 401 unauthorized, 403 forbidden, 413
payload_too_large, 400 bad_request (malformed HTTP), and 502 internal_error when a function fails; a failure is
a bug, so its traceback goes to stderr. Client input never makes the gateway fail.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local_stack.aws import ACCOUNT_ID, HOST, REGION
from local_stack.runtime import FunctionRuntime, InvocationError
from loyalty_engine.wiring import FUNCTIONS, ApiRoute, Function

API_ID = "localapi"
STAGE = "api"
MAX_BODY_BYTES = 1024 * 1024
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024  # past this, a too-large body is not read: the connection is closed
AUTHORIZER_CACHE_TTL_S = 60.0
AUTHORIZER_CACHE_MAX_ENTRIES = 10_000
AUTHORIZATION_HEADER = "Authorization"
# Hop-by-hop and framing headers: the gateway writes its own.
_NOT_FORWARDED = {"connection", "content-length", "transfer-encoding", "keep-alive", "date", "server"}


class GatewayError(Exception):
    """An answer of the gateway itself."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _unauthorized() -> GatewayError:
    return GatewayError(401, "unauthorized", "Missing or invalid API key")


def _forbidden() -> GatewayError:
    return GatewayError(403, "forbidden", "The API key may not call this API")


def _internal_error() -> GatewayError:
    return GatewayError(502, "internal_error", "Internal server error")


# ---------------------------------------------------------------- routing


@dataclass(frozen=True)
class RouteMatch:
    route: ApiRoute
    function: Function
    path_parameters: dict[str, str]


class Router:
    """The wiring's routes; a literal segment wins over a `{param}` one, as on API Gateway."""

    def __init__(self, functions: Iterable[Function]):
        self._routes: list[tuple[re.Pattern[str], tuple[int, ...], ApiRoute, Function]] = []
        for function in functions:
            for route in function.routes:
                pattern, rank = self._compile(route.path)
                self._routes.append((pattern, rank, route, function))

    @staticmethod
    def _compile(template: str) -> tuple[re.Pattern[str], tuple[int, ...]]:
        parts, rank = [], []
        for segment in template.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
                rank.append(1)
            else:
                parts.append(re.escape(segment))
                rank.append(0)
        return re.compile("^/" + "/".join(parts) + "/?$"), tuple(rank)

    def match(self, method: str, path: str) -> RouteMatch:
        """The route for METHOD path, or GatewayError 404."""
        candidates = []
        for pattern, rank, route, function in self._routes:
            found = pattern.match(path)
            if found:
                candidates.append((rank, route, function, found))
        if not candidates:
            raise GatewayError(404, "route_not_found", f"no route for {path}")
        best = min(rank for rank, *_ in candidates)
        candidates = [c for c in candidates if c[0] == best]
        for _, route, function, found in candidates:
            if route.method == method:
                parameters = {name: unquote(value) for name, value in found.groupdict().items()}
                return RouteMatch(route, function, parameters)
        # As deployed: API Gateway has no such method there, and infra maps that to 404 too.
        allowed = ", ".join(sorted({route.method for _, route, _, _ in candidates}))
        raise GatewayError(
            404,
            "route_not_found",
            f"no route for {method} {candidates[0][1].path} (routes there: {allowed})",
        )


# ---------------------------------------------------------------- authorizer


def _arn_pattern(resource: str) -> re.Pattern[str]:
    # IAM wildcards: `*` any run of characters, `?` any one character.
    return re.compile("^" + re.escape(resource).replace(r"\*", ".*").replace(r"\?", ".") + "$")


def policy_allows(policy_document: Any, method_arn: str) -> bool:
    """IAM evaluation for execute-api:Invoke: an explicit Deny wins, else an Allow is needed."""
    if not isinstance(policy_document, dict):
        raise ValueError("policyDocument is not an object")
    statements = policy_document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise ValueError("policyDocument.Statement is missing")
    allowed = False
    for statement in statements:
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not any(_arn_pattern(a).match("execute-api:Invoke") for a in actions):
            continue
        if not any(_arn_pattern(r).match(method_arn) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


@dataclass(frozen=True)
class Authorization:
    principal_id: str
    policy_document: dict[str, Any]
    context: dict[str, str]


class AuthorizerCache:
    """Policies by identity (the Authorization header), for a TTL; refusals are not cached."""

    def __init__(
        self, ttl_s: float = AUTHORIZER_CACHE_TTL_S, max_entries: int = AUTHORIZER_CACHE_MAX_ENTRIES
    ):
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[str, tuple[float, Authorization]] = {}
        self._lock = threading.Lock()

    def get(self, identity: str) -> Authorization | None:
        with self._lock:
            entry = self._entries.get(identity)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._entries[identity]
                return None
            return entry[1]

    def put(self, identity: str, authorization: Authorization) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                while len(self._entries) >= self._max:
                    del self._entries[next(iter(self._entries))]
            self._entries[identity] = (now + self._ttl, authorization)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _authorization_from(result: Any) -> Authorization:
    """Check the authorizer's answer as API Gateway does (a malformed one is a 500 there)."""
    if not isinstance(result, dict):
        raise ValueError("the authorizer did not return an object")
    principal = result.get("principalId")
    document = result.get("policyDocument")
    if not isinstance(principal, str) or not principal or not isinstance(document, dict):
        raise ValueError("the authorizer's answer has no principalId or policyDocument")
    context: dict[str, str] = {}
    for name, value in (result.get("context") or {}).items():
        if isinstance(value, bool):
            context[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            context[name] = str(value)
        elif value is not None:
            raise ValueError(f"authorizer context value {name!r} is not a string, number or boolean")
    return Authorization(principal_id=principal, policy_document=document, context=context)


# ---------------------------------------------------------------- events


@dataclass
class HttpRequest:
    method: str
    target: str  # as on the request line: path and query
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str


def _method_arn(method: str, path: str) -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{method}{path}"


def _request_context(request: HttpRequest, match: RouteMatch, path: str, request_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    headers = {name.lower(): value for name, value in request.headers}
    return {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "resourceId": "local",
        "resourcePath": match.route.path,
        "httpMethod": request.method,
        "path": f"/{STAGE}{path}",
        "stage": STAGE,
        "requestId": request_id,
        "extendedRequestId": request_id,
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "protocol": "HTTP/1.1",
        "domainName": headers.get("host", HOST),
        "domainPrefix": API_ID,
        "identity": {
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent"),
            "accountId": None,
            "apiKey": None,
            "caller": None,
            "user": None,
            "userArn": None,
            "accessKey": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
        },
    }


def _event_parts(request: HttpRequest, request_id: str) -> dict[str, Any]:
    """Headers and query string as API Gateway hands them over (single and multi-value)."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    lower = {name.lower() for name in headers}
    added = {
        "X-Forwarded-For": request.source_ip,
        "X-Forwarded-Proto": "http",
        "X-Amzn-Trace-Id": f"Root=1-{int(time.time()):08x}-{request_id.replace('-', '')[:24]}",
    }
    for name, value in added.items():
        if name.lower() not in lower:
            headers[name] = value
            multi_headers[name] = [value]
    query = urlsplit(request.target).query
    pairs = parse_qsl(query, keep_blank_values=True) if query else []
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return {
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single or None,
        "multiValueQueryStringParameters": multi or None,
    }


# ---------------------------------------------------------------- the gateway


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _json_response(error: GatewayError, request_id: str) -> HttpResponse:
    body = json.dumps({"code": error.code, "message": error.message}).encode()
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    headers.extend(error.headers.items())
    return HttpResponse(error.status, headers, body)


class Gateway:
    """Routing, authorization and invocation, independent of the HTTP server."""

    def __init__(self, runtimes: dict[str, FunctionRuntime], functions: Iterable[Function] = FUNCTIONS):
        functions = list(functions)
        self.router = Router(functions)
        self.cache = AuthorizerCache()
        self._runtimes = runtimes
        authorizers = [function for function in functions if function.is_authorizer]
        if len(authorizers) != 1:
            raise ValueError(f"the wiring must name exactly one authorizer, found {len(authorizers)}")
        self._authorizer = runtimes[authorizers[0].name]

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            return self._handle(request, request_id)
        except GatewayError as error:
            return _json_response(error, request_id)
        except Exception:  # a bug of the gateway itself: still an answer, and a traceback
            sys.stderr.write(f"local stack: the gateway failed\n{traceback.format_exc()}")
            return _json_response(_internal_error(), request_id)

    def _handle(self, request: HttpRequest, request_id: str) -> HttpResponse:
        path = urlsplit(request.target).path or "/"
        match = self.router.match(request.method, path)
        if len(request.body) > MAX_BODY_BYTES:
            raise GatewayError(
                413, "payload_too_large", f"the request body is larger than {MAX_BODY_BYTES} bytes"
            )
        parts = _event_parts(request, request_id)
        context = _request_context(request, match, path, request_id)
        authorization = self._authorize(request, match, path, parts, context)
        context["authorizer"] = {
            **authorization.context,
            "principalId": authorization.principal_id,
            "integrationLatency": 0,
        }
        event = {
            "resource": match.route.path,
            "path": path,
            "httpMethod": request.method,
            **parts,
            "pathParameters": match.path_parameters or None,
            "stageVariables": None,
            "requestContext": context,
            "body": request.body.decode("utf-8", errors="replace") if request.body else None,
            "isBase64Encoded": False,
        }
        result = self._invoke(self._runtimes[match.function.name], event)
        return self._proxy_response(match.function, result, request_id)

    def _authorize(
        self,
        request: HttpRequest,
        match: RouteMatch,
        path: str,
        parts: dict[str, Any],
        context: dict[str, Any],
    ) -> Authorization:
        identity = next(
            (value for name, value in request.headers if name.lower() == AUTHORIZATION_HEADER.lower()), ""
        )
        if not identity.strip():
            raise _unauthorized()  # the identity source is missing: the authorizer is not called
        method_arn = _method_arn(request.method, path)
        authorization = self.cache.get(identity)
        if authorization is None:
            event = {
                "type": "REQUEST",
                "methodArn": method_arn,
                "resource": match.route.path,
                "path": path,
                "httpMethod": request.method,
                **parts,
                "pathParameters": match.path_parameters,
                "stageVariables": {},
                "requestContext": context,
            }
            try:
                result = self._authorizer.invoke(event)
            except Exception as error:
                if str(error) == "Unauthorized":
                    raise _unauthorized() from None
                self._report(self._authorizer.spec, error)
                raise _internal_error() from None
            try:
                authorization = _authorization_from(result)
            except ValueError as error:
                self._report(self._authorizer.spec, error)
                raise _internal_error() from None
            self.cache.put(identity, authorization)
        try:
            allowed = policy_allows(authorization.policy_document, method_arn)
        except (ValueError, AttributeError, TypeError) as error:
            self._report(self._authorizer.spec, error)
            raise _internal_error() from None
        if not allowed:
            raise _forbidden()
        return authorization

    def _invoke(self, runtime: FunctionRuntime, event: dict[str, Any]) -> Any:
        try:
            return runtime.invoke(event)
        except Exception as error:
            self._report(runtime.spec, error)
            raise _internal_error() from None

    def _proxy_response(self, function: Function, result: Any, request_id: str) -> HttpResponse:
        try:
            status = result["statusCode"]
            if isinstance(status, str) and status.isdigit():
                status = int(status)
            if not isinstance(status, int) or not 100 <= status <= 599:
                raise ValueError(f"statusCode {status!r}")
            # As API Gateway merges them: a name in multiValueHeaders replaces the same one in headers.
            headers: dict[str, tuple[str, list[str]]] = {}
            for name, value in (result.get("headers") or {}).items():
                headers[str(name).lower()] = (str(name), [str(value)])
            for name, values in (result.get("multiValueHeaders") or {}).items():
                headers[str(name).lower()] = (str(name), [str(v) for v in values])
            body = result.get("body")
            if body is None:
                data = b""
            elif result.get("isBase64Encoded"):
                data = base64.b64decode(body)
            else:
                data = str(body).encode()
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            self._report(function, InvocationError(f"malformed Lambda proxy response: {error!r}"))
            raise _internal_error() from None
        pairs = [
            (name, v) for key, (name, values) in headers.items() if key not in _NOT_FORWARDED for v in values
        ]
        pairs.append(("x-amzn-RequestId", request_id))
        return HttpResponse(status, pairs, data)

    @staticmethod
    def _report(function: Function, error: BaseException) -> None:
        lines = traceback.format_exception(error)
        sys.stderr.write(f"local stack: {function.name} ({function.handler}) failed: a bug\n{''.join(lines)}")


# ---------------------------------------------------------------- HTTP


class _BadRequest(Exception):
    pass


class _TooLarge(Exception):
    pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # answers to unparsable request lines get a status line
    server_version = "local-apigateway"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after this
    server: _HttpServer

    def version_string(self) -> str:
        return self.server_version

    def __getattr__(self, name: str) -> Any:
        # Every method, known or not, goes through the gateway (404 where no route has it).
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
        except _TooLarge:
            error = GatewayError(
                413, "payload_too_large", f"the request body is larger than {MAX_BODY_BYTES} bytes"
            )
            response = _json_response(error, str(uuid.uuid4()))
        except _BadRequest as problem:
            self.close_connection = True
            response = _json_response(GatewayError(400, "bad_request", str(problem)), str(uuid.uuid4()))
        else:
            request = HttpRequest(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
            )
            response = self.server.gateway.handle(request)
        self._write(response)
        if self.server.access_log:
            elapsed = (time.monotonic() - started) * 1000
            sys.stderr.write(f"{self.command} {self.path} {response.status} {elapsed:.0f} ms\n")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            raise _BadRequest("invalid Content-Length") from None
        if length < 0:
            raise _BadRequest("invalid Content-Length")
        if length > MAX_BODY_BYTES:
            if length <= DRAIN_LIMIT_BYTES:
                self._discard(length)
            else:
                self.close_connection = True
            raise _TooLarge()
        body = self.rfile.read(length)
        if len(body) < length:
            raise _BadRequest("the body is shorter than Content-Length")
        return body

    def _discard(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest("invalid chunked encoding") from None
            if size < 0:
                raise _BadRequest("invalid chunked encoding")
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                self.close_connection = True
                raise _TooLarge()
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _BadRequest("truncated chunk")
            body.extend(chunk)
            self.rfile.readline(16)

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed requests (bad request line, header too long...): JSON like every other answer.
        self.close_connection = True
        try:
            phrase = message or HTTPStatus(code).phrase
        except ValueError:
            phrase = str(code)
        body = json.dumps(
            {"code": "bad_request" if code < 500 else "internal_error", "message": phrase}
        ).encode()
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the access log above is enough


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], gateway: Gateway, access_log: bool):
        self.gateway = gateway
        self.access_log = access_log
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class GatewayServer:
    """The gateway on 127.0.0.1:<port> (0 = any free port), served by a thread per connection."""

    def __init__(self, gateway: Gateway, port: int = 0, access_log: bool = False):
        self.gateway = gateway
        self._server = _HttpServer((HOST, port), gateway, access_log)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="gateway", daemon=True
        )

    def start(self) -> GatewayServer:
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
