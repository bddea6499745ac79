"""A local API Gateway (REST API, stage `api`) in front of the in-process handlers.

What it does as API Gateway does, for the routes of `loyalty_engine.wiring` only:
- matches the path against the route templates (`gateway_routes.py`);
- runs the REQUEST authorizer on every route, identity source the `Authorization` header
  (absent: 401 without calling it), caching its policy 60 s per header value; a policy
  that does not allow the method ARN is a 403 (`gateway_authorizer.py`);
- counts the request against the usage plan of the authorizer's `usageIdentifierKey` (the
  caller's group's limits, `gateway_quotas.py`): 429 throttled / quota_exceeded past them;
- serves Swagger UI of the OpenAPI document at `GET /v1/docs` (`?format=json`: the document),
  with no key, as the Api function does on non-production stages (`handlers/routes_docs.py`);
- builds the v1 proxy event, with the authorizer's context in `requestContext.authorizer`,
  and writes the function's answer back (`gateway_events.py`).

Its own answers are JSON `{"code", "message"}` (`gateway_http.py`): 404 route_not_found (an
unknown path or method, as the deployed API answers), 401 unauthorized, 403 forbidden, 429
throttled / quota_exceeded (with Retry-After), 413
payload_too_large, 400 bad_request (malformed HTTP), and 502 internal_error when a function
fails; a failure is a bug, so its traceback goes to stderr. Client input never makes the
gateway fail. `Gateway` is independent of HTTP: `gateway_server.py` serves it.
"""

from __future__ import annotations

import sys
import traceback
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from local_stack.gateway_authorizer import Authorization, AuthorizerCache, authorization_from, policy_allows
from local_stack.gateway_events import (
    authorizer_event,
    event_parts,
    method_arn,
    proxy_event,
    proxy_response,
    request_context,
)
from local_stack.gateway_http import (
    GatewayError,
    HttpRequest,
    HttpResponse,
    error_response,
    forbidden,
    internal_error,
    payload_too_large,
    unauthorized,
)
from local_stack.gateway_quotas import UsagePlans
from local_stack.gateway_routes import RouteMatch, Router
from local_stack.gateway_static import console_response, is_console
from local_stack.runtime import FunctionRuntime, InvocationError
from loyalty_engine.wiring import AUTHORIZATION_HEADER, DOCS_PATH, FUNCTIONS, Function

MAX_BODY_BYTES = 1024 * 1024


class Gateway:
    """Routing, authorization and invocation, independent of the HTTP server."""

    def __init__(
        self,
        runtimes: dict[str, FunctionRuntime],
        functions: Iterable[Function] = FUNCTIONS,
        usage_plans: UsagePlans | None = None,
    ):
        functions = list(functions)
        self.usage_plans = usage_plans  # None: no usage plans (every request is admitted)
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
            return error_response(error, request_id)
        except Exception:  # a bug of the gateway itself: still an answer, and a traceback
            sys.stderr.write(f"local stack: the gateway failed\n{traceback.format_exc()}")
            return error_response(internal_error(), request_id)

    def _handle(self, request: HttpRequest, request_id: str) -> HttpResponse:
        target = urlsplit(request.target)
        path = target.path or "/"
        if path.rstrip("/") == DOCS_PATH and request.method in ("GET", "HEAD"):
            return self._docs(target.query, request_id)
        if is_console(path):  # the operator console's static files, no key needed
            return console_response(request.method, path)
        match = self.router.match(request.method, path)
        if len(request.body) > MAX_BODY_BYTES:
            raise payload_too_large(MAX_BODY_BYTES)
        parts = event_parts(request, request_id)
        context = request_context(request, match, path, request_id)
        authorization = self._authorize(request, match, path, parts, context)
        if self.usage_plans is not None:
            self.usage_plans.admit(authorization.usage_key, authorization.context.get("group", ""))
        event = proxy_event(request, match, path, parts, context, authorization)
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
        identities = [
            value for name, value in request.headers if name.lower() == AUTHORIZATION_HEADER.lower()
        ]
        if len(identities) != 1 or not identities[0].strip():
            # The identity source is missing, empty or given twice (which of the two would the
            # cache key on?): 401, the authorizer is not called.
            raise unauthorized()
        identity = identities[0]
        arn = method_arn(request.method, path)
        authorization = self.cache.get(identity)
        if authorization is None:
            event = authorizer_event(request, match, path, arn, parts, context)
            try:
                result = self._authorizer.invoke(event)
            except Exception as error:
                if str(error) == "Unauthorized":
                    raise unauthorized() from None
                self._report(self._authorizer.spec, error)
                raise internal_error() from None
            try:
                authorization = authorization_from(result)
            except ValueError as error:
                self._report(self._authorizer.spec, error)
                raise internal_error() from None
            self.cache.put(identity, authorization)
        try:
            allowed = policy_allows(authorization.policy_document, arn)
        except (ValueError, AttributeError, TypeError) as error:
            self._report(self._authorizer.spec, error)
            raise internal_error() from None
        if not allowed:
            raise forbidden()
        return authorization

    @staticmethod
    def _docs(query: str, request_id: str) -> HttpResponse:
        """Swagger UI (the page embeds its assets: it works offline), or the document itself."""
        from loyalty_engine.handlers import api  # registers the Api resolver with routes_docs
        from loyalty_engine.handlers.routes_docs import docs_page, document_json

        assert api.app is not None

        if "format=json" in query.split("&"):
            body, content_type = document_json("/").encode(), "application/json"
        else:
            body, content_type = docs_page("/").encode(), "text/html; charset=utf-8"
        return HttpResponse(200, [("Content-Type", content_type), ("x-amzn-RequestId", request_id)], body)

    def _invoke(self, runtime: FunctionRuntime, event: dict[str, Any]) -> Any:
        try:
            return runtime.invoke(event)
        except Exception as error:
            self._report(runtime.spec, error)
            raise internal_error() from None

    def _proxy_response(self, function: Function, result: Any, request_id: str) -> HttpResponse:
        try:
            return proxy_response(result, request_id)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            self._report(function, InvocationError(f"malformed Lambda proxy response: {error!r}"))
            raise internal_error() from None

    @staticmethod
    def _report(function: Function, error: BaseException) -> None:
        lines = traceback.format_exception(error)
        sys.stderr.write(f"local stack: {function.name} ({function.handler}) failed: a bug\n{''.join(lines)}")
