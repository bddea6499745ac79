"""The Lambda proxy integration, as API Gateway (REST API, stage `api`) does it: the events it
hands the functions, and the HTTP response it makes of a function's answer.

- `authorizer_event`: the REQUEST authorizer's event (with the method ARN);
- `proxy_event`: the v1 proxy event, with the authorizer's context in
  `requestContext.authorizer`; the event's `path` stays percent-encoded, `pathParameters`
  and query values are decoded, headers and query strings come single and multi-valued;
- `proxy_response`: the function's answer back to HTTP (`multiValueHeaders` replace the same
  name in `headers`; hop-by-hop and framing headers are the gateway's own).
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local_stack.aws import ACCOUNT_ID, HOST, REGION
from local_stack.gateway_authorizer import Authorization
from local_stack.gateway_http import HttpRequest, HttpResponse
from local_stack.gateway_routes import RouteMatch

API_ID = "localapi"
STAGE = "api"
# Hop-by-hop and framing headers: the gateway writes its own.
_NOT_FORWARDED = {"connection", "content-length", "transfer-encoding", "keep-alive", "date", "server"}


def method_arn(method: str, path: str) -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{method}{path}"


def request_context(request: HttpRequest, match: RouteMatch, path: str, request_id: str) -> dict[str, Any]:
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


def event_parts(request: HttpRequest, request_id: str) -> dict[str, Any]:
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


def authorizer_event(
    request: HttpRequest,
    match: RouteMatch,
    path: str,
    arn: str,
    parts: dict[str, Any],
    context: dict[str, Any],
) -> dict[str, Any]:
    """The REQUEST authorizer's event; `arn` is the method ARN, `parts` and `context` as above."""
    return {
        "type": "REQUEST",
        "methodArn": arn,
        "resource": match.route.path,
        "path": path,
        "httpMethod": request.method,
        **parts,
        "pathParameters": match.path_parameters,
        "stageVariables": {},
        "requestContext": context,
    }


def proxy_event(
    request: HttpRequest,
    match: RouteMatch,
    path: str,
    parts: dict[str, Any],
    context: dict[str, Any],
    authorization: Authorization,
) -> dict[str, Any]:
    """The v1 proxy event; `context` gets the authorizer's context (`requestContext.authorizer`)."""
    context["authorizer"] = {
        **authorization.context,
        "principalId": authorization.principal_id,
        "integrationLatency": 0,
    }
    return {
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


def proxy_response(result: Any, request_id: str) -> HttpResponse:
    """The HTTP response of a Lambda proxy answer; KeyError, TypeError, ValueError or
    AttributeError if the answer is malformed (a 502 on API Gateway)."""
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
    pairs = [
        (name, v) for key, (name, values) in headers.items() if key not in _NOT_FORWARDED for v in values
    ]
    pairs.append(("x-amzn-RequestId", request_id))
    return HttpResponse(status, pairs, data)
