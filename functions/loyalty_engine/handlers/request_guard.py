"""Checks every API request passes before the resolver reads its body (`rest_app` runs them).

In order, each a 4xx in the documented error shape, none doing work proportional to a hostile
body's depth: a JSON media type (415 `unsupported_media_type`), at most 256 KiB (413
`payload_too_large`), UTF-8 (422 `invalid_encoding`), brackets nested at most 32 deep, counted
by a linear scan outside strings before any parsing (422 `body_too_deep`), then one strict
parse: a duplicate key (422 `duplicate_key`), `NaN`/`Infinity`/an overflowing or non-ASCII
number (422 `invalid_number`), a control character in any string (422 `invalid_character`;
tab, line feed and carriage return are left to the fields that allow free text), a body that
is not a JSON object (422 `validation_error`, reason `object_expected`). Path and
query values are checked for control characters too, and a query parameter or the
Idempotency-Key header given twice is refused by name (422 `repeated_parameter`).

The parse is the one the resolver uses (`loads`, its `json_body_deserializer`): the body is
read once, the same way, with numbers as `int` and `Decimal` (never `float`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from decimal import Decimal
from itertools import accumulate
from typing import Any

from loyalty_engine.kernel.errors import DomainError

MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 32
# More digits than any field takes; bounds int() and Decimal() work, and no number stored from
# a body has more significant digits than DynamoDB keeps (38: more is a ValidationException).
MAX_NUMBER_CHARS = 38
MAX_EXPONENT = 30  # 1e99999 is finite for Decimal, and no amount or rate of this API

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
# C0 controls but tab, LF and CR; DEL; C1 controls. Names and ids refuse tab/LF/CR in their models.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ASCII_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


class Refused(DomainError):
    """A request refused before the resolver: its status, stable code and message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        where: str = "body",
        reason: str | None = None,
    ):
        details = [{"in": where, "field": field, "reason": reason or code}] if field else None
        super().__init__(message, code=code, details=details)
        self.status = status

    def response(self) -> dict[str, Any]:
        body = {"details": [], **self.to_body()}
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body),
        }


def is_json_media_type(content_type: str | None) -> bool:
    """A JSON media type, in any case, whose charset (if it names one) is UTF-8, the only one
    JSON is read in (RFC 8259): a body declared UTF-16 is refused rather than misread."""
    media_type, *parameters = (content_type or "application/json").lower().split(";")
    media_type = media_type.strip()
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8", "us-ascii"):
            return False
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def depth(text: str) -> int:
    """How deep brackets nest outside strings: linear, whatever the nesting (no recursion)."""
    brackets = "".join(_BRACKETS.findall(_STRING.sub("", text)))
    if not brackets:
        return 0
    return max(accumulate(1 if b in "[{" else -1 for b in brackets))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        key = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise Refused(422, "duplicate_key", f"the key {key!r} appears twice in one object", key)
    return result


def _number_text(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS or not _ASCII_NUMBER.fullmatch(text):
        raise Refused(422, "invalid_number", f"{text[:20]!r} is not a number this API takes")
    return text


def _int(text: str) -> int:
    # The scanner hands over ASCII digits only; the length bounds int()'s work (and its 4,300
    # digit limit, a ValueError that would otherwise escape as a 500).
    if len(text) > MAX_NUMBER_CHARS:
        raise Refused(422, "invalid_number", f"{text[:20]!r}... has more digits than any field takes")
    return int(text)


def _constant(name: str) -> Any:
    raise Refused(422, "invalid_number", f"{name} is not a number")


def _decimal(text: str) -> Decimal:
    value = Decimal(_number_text(text))
    if not value.is_finite() or (value and abs(value.adjusted()) > MAX_EXPONENT):
        raise Refused(422, "invalid_number", f"{text[:20]!r} is out of any field's range")
    return value


def _strict_loads(text: str) -> Any:
    return json.loads(
        text,
        object_pairs_hook=_no_duplicates,
        parse_int=_int,
        parse_float=_decimal,
        parse_constant=_constant,
    )


def _check_strings(text: str, value: Any) -> None:
    """Every key and string: valid Unicode (no lone surrogates), no control characters.

    JSON has no raw control character below U+0020 inside a string, and a lone surrogate or a
    control character only as an escape (`\\u0001`, `\\b`, `\\f`): without any escape in the
    body, one scan of the text finds DEL and C1 characters; with one, the parsed value is
    walked (and the field named)."""
    if "\\" not in text:
        _check_text(text, "")
        return
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, f"{path}.{key}".lstrip("."))
                if isinstance(child, dict | list | str):
                    stack.append((child, f"{path}.{key}".lstrip(".")))
        elif isinstance(item, list):
            stack.extend(
                (child, f"{path}.{index}".lstrip("."))
                for index, child in enumerate(item)
                if isinstance(child, dict | list | str)
            )


def _check_text(text: str, path: str, pattern: re.Pattern[str] = _CONTROL, where: str = "body") -> None:
    if pattern.search(text):
        raise Refused(
            422, "invalid_character", "control characters are not allowed here", path or None, where
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(422, "invalid_encoding", "the text is not valid UTF-8", path or None, where) from None


_last: tuple[str, Any] = ("", None)  # the last body checked and its value: the resolver reuses it


def loads(text: str) -> Any:
    """The resolver's body parser: the value `check` read from this very string, else a strict parse."""
    last_text, value = _last
    if text is last_text:
        return value
    return _strict_loads(text)  # a Refused here is a DomainError: answered in the error shape


def _body_text(event: dict[str, Any]) -> str:
    body = event.get("body")
    if not isinstance(body, str):
        return ""
    if len(body) > MAX_BODY_BYTES * 2:  # base64 and UTF-8 both grow: a cheap first bound
        raise Refused(413, "payload_too_large", f"the body may not exceed {MAX_BODY_BYTES} bytes")
    raw: bytes
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
    except binascii.Error:
        raise Refused(422, "invalid_encoding", "the body is marked base64 but is not valid base64") from None
    except UnicodeEncodeError:
        raise Refused(422, "invalid_encoding", "the body is not valid UTF-8") from None
    if len(raw) > MAX_BODY_BYTES:
        raise Refused(413, "payload_too_large", f"the body may not exceed {MAX_BODY_BYTES} bytes")
    try:
        return raw.decode("utf-8") if event.get("isBase64Encoded") else body
    except UnicodeDecodeError:
        raise Refused(422, "invalid_encoding", "the body is not valid UTF-8") from None


def _check_parameters(event: dict[str, Any]) -> None:
    for source, where in (("pathParameters", "path"), ("queryStringParameters", "query")):
        for name, value in (event.get(source) or {}).items():
            for text in (str(name), str(value)):
                _check_text(text, str(name), _ANY_CONTROL, where)
    for name, values in (event.get("multiValueQueryStringParameters") or {}).items():
        for value in values or ():
            _check_text(str(value), str(name), _ANY_CONTROL, "query")
        _once(str(name), values, "query parameter", "query")
    keys = [  # the one header a route reads, in any spelling of its name
        value
        for name, values in (event.get("multiValueHeaders") or {}).items()
        if str(name).lower() == "idempotency-key"
        for value in (values if isinstance(values, list) else [values])
    ]
    _once("Idempotency-Key", keys, "header", "header")


def _once(name: str, values: Any, kind: str, where: str) -> None:
    """No route takes a list in a query parameter or a header: the resolver would read a
    repeated one as a list and answer 'Input should be a valid integer'."""
    if isinstance(values, list) and len(values) > 1:
        raise Refused(
            422,
            "repeated_parameter",
            f"the {kind} {name!r} is given {len(values)} times: give it once",
            name,
            where,
        )


_STRINGS = ("headers", "queryStringParameters", "pathParameters", "stageVariables")  # str -> str
_LISTS = ("multiValueHeaders", "multiValueQueryStringParameters")  # str -> [str]


def malformed(event: Any) -> dict[str, Any] | None:
    """The refusal of an event API Gateway never sends (a direct invoke, a broken harness), or
    None: without a `requestContext` and its `authorizer` there is no caller (401
    `unauthorized`, as for an empty one); a part of another type than API Gateway's is 400
    `malformed_request`, named. Checked before anything reads the event."""
    try:
        if not isinstance(event, dict):
            raise Refused(400, "malformed_request", "the request is not an API Gateway proxy event")
        context = event.get("requestContext")
        if not isinstance(context, dict) or not isinstance(context.get("authorizer") or {}, dict):
            raise Refused(401, "unauthorized", "no authorized caller")
        if wrong := next((name for name in _event_parts() if not _well_typed(name, event.get(name))), None):
            raise Refused(
                400,
                "malformed_request",
                f"the request's {wrong} is not what API Gateway sends",
                wrong,
                "request",
            )
    except Refused as refused:
        return refused.response()
    return None


def _event_parts() -> tuple[str, ...]:
    return ("httpMethod", "path", "resource", "body", "isBase64Encoded", *_STRINGS, *_LISTS)


def _well_typed(name: str, value: Any) -> bool:
    if name in ("httpMethod", "path"):
        return isinstance(value, str)
    if value is None:
        return True
    if name == "isBase64Encoded":
        return isinstance(value, bool)
    if name in ("resource", "body"):
        return isinstance(value, str)
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        return False
    if name in _STRINGS:
        return all(isinstance(item, str) for item in value.values())
    return all(
        isinstance(items, list) and all(isinstance(item, str) for item in items) for items in value.values()
    )


def read_as_json(event: dict[str, Any]) -> None:
    """After `check` let the request through: its body is JSON (any case of `application/json`, an
    `application/*+json`) or absent, so the resolver is told `application/json`. Powertools
    itself takes only a lower-case `application/json` prefix, answers anything else with a 415
    outside the error shape, and fails on a bodiless `multipart/form-data` (a 500)."""
    for source, value in (("headers", "application/json"), ("multiValueHeaders", ["application/json"])):
        headers = event.get(source)
        if isinstance(headers, dict):
            for name in [name for name in headers if str(name).lower() == "content-type"]:
                del headers[name]
            headers["Content-Type"] = value


def check(event: dict[str, Any]) -> dict[str, Any] | None:
    """The refusal (an API Gateway proxy response) of a hostile request, or None."""
    global _last
    try:
        _check_parameters(event)
        if not event.get("body"):
            return None
        headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        if not is_json_media_type(headers.get("content-type")):
            raise Refused(415, "unsupported_media_type", "send the body as application/json")
        text = _body_text(event)
        if depth(text) > MAX_DEPTH:
            raise Refused(422, "body_too_deep", f"the body may not nest more than {MAX_DEPTH} levels")
        try:
            value = _strict_loads(text)
        except json.JSONDecodeError:
            return None  # the resolver answers its own validation_error (json_invalid)
        _check_strings(text, value)
        if not isinstance(value, dict):  # every route's body is an object; powertools would
            # read an array as its first item and a fraction as an object of defaults
            raise Refused(
                422, "validation_error", "the body must be a JSON object", "body", reason="object_expected"
            )
        if text is event.get("body"):
            _last = (text, value)
        return None
    except Refused as refused:
        return refused.response()
