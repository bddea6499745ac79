"""What the REST handlers share: the caller's scope check, the error shape and its documented
answers, the request guard (415/413/422 for hostile bodies, `request_guard.py`) run before the
resolver reads anything. Each API function builds its resolver with `rest_app`."""

import re
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import Field

from loyalty_engine.access.caller import caller_from_context
from loyalty_engine.access.models import Caller
from loyalty_engine.handlers import audit_trail, request_guard
from loyalty_engine.kernel.errors import DomainError
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.wiring_routes import PUBLIC_ROUTES, ApiRoute

SERVICE = "loyalty-engine"
# Read routes publish no metric; that is expected, not worth a warning per request.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)


class ErrorBody(DeferredModel):
    code: str = Field(description="Stable reason code")
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)


ERRORS: dict[int, Any] = {
    code: {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for code, text in (
        (401, "Missing or invalid API key"),
        (403, "The key's scopes (or its merchant's groups) do not allow this"),
        (404, "Not found in the caller's loyalty group"),
        (409, "Conflict (idempotency key reused, insufficient points or balance, concurrent update)"),
        (413, "The body exceeds 256 KiB"),
        (415, "The body is not JSON"),
        (422, "Invalid request, with field details"),
        (503, "Temporarily unavailable: retry with the same idempotency key"),
    )
}
# API Gateway's answer to a group over its usage plan's rate or daily quota, on every route
# (docs/quotas.md): the request reached no function; retry after Retry-After seconds.
ERRORS[429] = {
    **ERRORS[401],
    "description": "Over the loyalty group's rate (`throttled`) or daily quota (`quota_exceeded`): "
    "nothing was done; retry after `Retry-After` with the same idempotency key",
    "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}


def responses(*success: int) -> dict[int, Any]:
    """A route's documented answers: its success codes (model from the return type) and the errors."""
    texts = {200: "OK", 201: "Created", 202: "Accepted: running in the background"}
    return {**{code: {"description": texts[code]} for code in success}, **ERRORS}


def json_response(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def rest_app(routes: tuple[ApiRoute, ...], logger: Logger) -> APIGatewayRestResolver:
    """A validating resolver whose every route checks the key's scopes and knows its caller, and
    whose every request passes the request guard before the resolver reads its body."""
    app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=request_guard.loads)
    scopes = {(route.method, route.path): route.scopes for route in routes}

    def require_scope(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
        event = app.current_event
        if (event.http_method, event.resource) in PUBLIC_ROUTES:
            return next_middleware(app)  # no caller: the Swagger UI page (routes_docs.py)
        allowed = scopes.get((event.http_method, event.resource))
        if allowed is None:  # API Gateway sends declared resources only: never skip the check
            return json_response(404, {"code": "route_not_found", "message": "no such route"})
        caller = caller_from_context(event.request_context.authorizer.raw_event)
        caller.require(allowed)
        logger.append_keys(group=caller.group_id, key_id=caller.key_id)
        app.append_context(caller=caller)
        return next_middleware(app)

    app.use(middlewares=[require_scope])

    def route_keys(match: re.Match[str]) -> dict[str, str]:
        """The route's path values as API Gateway decoded them (`pathParameters`): the `path`
        powertools matches is still percent-encoded on a REST API (`coffee%20cup`)."""
        given = app.current_event.path_parameters or {}
        return {name: given.get(name) or unquote(value) for name, value in match.groupdict().items()}

    app._convert_matches_into_route_keys = route_keys  # type: ignore[method-assign]

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        if error.status >= 500:
            logger.warning("transient failure", extra={"code": error.code})
        return json_response(error.status, error.to_body())

    @app.exception_handler(RequestValidationError)
    def _validation_error(error: RequestValidationError) -> Response:
        details = [_detail(problem, _sent_body(app)) for problem in error.errors()]
        reasons = {detail["reason"] for detail in details}
        code = reasons.pop() if len(reasons) == 1 and reasons <= GUARD_CODES else "validation_error"
        body = {"code": code, "message": "the request is not valid", "details": details}
        return json_response(422, body)

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return json_response(404, {"code": "route_not_found", "message": "no such route"})

    declared: dict[tuple[str, str], frozenset[str]] = {}

    def declared_parameters(method: str, resource: str) -> frozenset[str] | None:
        """The query parameters of the route (method, path template), read from its signature on
        its first request, and `BODY` if it takes a body; None for no route (the resolver
        answers its 404)."""
        if (method, resource) not in declared:
            routes = (*app._static_routes, *app._dynamic_routes)
            route = next((r for r in routes if (r.method, r.openapi_path) == (method, resource)), None)
            if route is None:
                return None
            body = {BODY} if route.dependant.body_params else set()
            declared[method, resource] = frozenset(
                {*(param.alias for param in route.dependant.query_params), *body}
            )
        return declared[method, resource]

    resolve = app.resolve

    def guarded_resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if refusal := request_guard.malformed(event):  # no caller to audit: nothing read
            logger.info("request refused", extra={"status": refusal["statusCode"]})
            return refusal
        if refusal := (
            request_guard.check(event)
            or _unknown_parameter(declared_parameters, event)
            or _unexpected_body(declared_parameters, event)
        ):
            logger.info("request refused", extra={"status": refusal["statusCode"]})
            audit_trail.record_answer(event, refusal, logger, refused_by_guard=True)
            return refusal
        request_guard.read_as_json(event)
        try:
            answer = resolve(event, context)
        except Exception:
            audit_trail.record_answer(event, {"statusCode": 500}, logger)
            raise
        audit_trail.record_answer(event, answer, logger)  # writes of admin and partner keys
        return answer

    app.resolve = guarded_resolve  # type: ignore[method-assign,assignment]
    return app


def _sent_body(app: APIGatewayRestResolver) -> Any:
    try:
        return app.current_event.json_body  # the guard's parse, kept: nothing is read twice
    except Exception:  # malformed JSON: its own detail names the body
        return None


def _as_sent(location: list[str], body: Any) -> list[str]:
    """A body field's location as the body holds it: pydantic adds a tagged union's tag (a
    backlog item's `type`) to the location (`items.1.burn.request.burn_id`), a step no client
    can follow in what it sent (`items.1.request.burn_id`)."""
    path: list[str] = []
    value, tag_read = body, None
    for part in location:
        if isinstance(value, dict) and value is not tag_read and value.get("type") == part:
            tag_read = value  # the tag (once: an order item's `order` is then its field)
            continue
        path.append(part)
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            value = None
    return path


def _detail(problem: dict[str, Any], body: Any = None) -> dict[str, Any]:
    """One problem of the resolver's validation. Malformed JSON names the body as its field and
    gives the parser's reason and position in its message (powertools puts the position in
    `loc`, where a field's name goes)."""
    location = [str(part) for part in problem.get("loc", ())]
    if location[:1] == ["body"] and len(location) > 1:
        location[1:] = _as_sent(location[1:], body)
    if problem.get("type") == "json_invalid":
        reason = (problem.get("ctx") or {}).get("error") or "invalid JSON"
        at = f" at position {location[1]}" if len(location) > 1 else ""
        return {
            "in": "body",
            "field": "body",
            "reason": "json_invalid",
            "message": f"the body is not valid JSON: {reason}{at}",
        }
    if location[:1] == ["header"]:  # powertools lower-cases it: named as documented and as
        # every other answer names it (Idempotency-Key)
        location[1:] = ["-".join(part.capitalize() for part in ".".join(location[1:]).split("-"))]
    return {
        "in": location[0] if location else "body",
        "field": ".".join(location[1:]) or None,
        "reason": problem.get("type"),
        "message": problem.get("msg"),
    }


def _unknown_parameter(
    declared_parameters: Callable[[str, str], frozenset[str] | None], event: dict[str, Any]
) -> dict[str, Any] | None:
    """422 `unknown_parameter` for a query parameter the route does not declare (`?group=`
    included: the group is the key's): ignored, it would let the caller believe it applied.
    Before the resolver validates anything, so that every route answers it the same way."""
    given = {
        *(event.get("queryStringParameters") or {}),
        *(event.get("multiValueQueryStringParameters") or {}),
    }
    key = (str(event.get("httpMethod")), str(event.get("resource")))
    if not given or key in PUBLIC_ROUTES:
        return None
    declared = (declared_parameters(*key) or frozenset()) - {BODY}
    unknown = sorted(given - declared) if declared_parameters(*key) is not None else []
    if not unknown:
        return None
    takes = ", ".join(sorted(declared or ())) or "none"
    message = f"the query parameter {unknown[0]!r} is not one this route takes (it takes: {takes})"
    return request_guard.Refused(422, "unknown_parameter", message, unknown[0], "query").response()


BODY = "<body>"  # in a route's declared parameters: it takes a body (no query name has `<`)
_SAYS_NOTHING = re.compile(r"\s*(\{\s*\})?\s*")


def _unexpected_body(
    declared_parameters: Callable[[str, str], frozenset[str] | None], event: dict[str, Any]
) -> dict[str, Any] | None:
    """422 for a body sent to a route that takes none (a VIP removal's reason belongs in its
    query): read by nothing, it would be dropped without a word. An empty body is no body, and
    so is an empty object (`{}`: what many HTTP clients send by default)."""
    body = event.get("body")
    key = (str(event.get("httpMethod")), str(event.get("resource")))
    if not isinstance(body, str) or _SAYS_NOTHING.fullmatch(body) or key in PUBLIC_ROUTES:
        return None
    declared = declared_parameters(*key)
    if declared is None or BODY in declared:
        return None
    message = "this route takes no body: send its values in the path or the query"
    return request_guard.Refused(
        422, "validation_error", message, "body", reason="body_not_allowed"
    ).response()


# A field's own check may answer one of the guard's codes (a control character in a name, digits
# that are not ASCII): when it is the only reason, it is the answer's code too.
GUARD_CODES = {"invalid_character", "invalid_number"}


def caller_of(app: APIGatewayRestResolver) -> Caller:
    caller: Caller = app.context["caller"]  # set by the scope check for every route
    return caller


def non_json_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """Kept for handlers written before the guard: `rest_app`'s resolver now runs every check."""
    return None
