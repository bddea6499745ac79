"""The request guard: each hostile body is refused with its code, before any parsing work
proportional to its depth; a plain body passes and is read once, the same way."""

from __future__ import annotations

import base64
import json
import time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_engine.handlers import request_guard
from loyalty_engine.kernel.types import plain_decimal, plain_int, single_line
from tests.support.hostile import HOSTILE, NON_ASCII_DIGITS, Hostile


def _event(body: str | None, content_type: str = "application/json", **extra: Any) -> dict[str, Any]:
    return {"body": body, "headers": {"Content-Type": content_type}, **extra}


def _refusal(event: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    refusal = request_guard.check(event)
    if refusal is None:
        return None
    return refusal["statusCode"], json.loads(refusal["body"])


def _code(event: dict[str, Any]) -> str | None:
    refused = _refusal(event)
    return refused[1]["code"] if refused else None


def test_a_plain_body_passes_and_is_read_once_with_decimals() -> None:
    body = '{"amount": 12.50, "points": 3, "name": "Gold\\ttier", "lines": [{"q": 1}]}'
    event = _event(body)
    assert request_guard.check(event) is None
    value = request_guard.loads(event["body"])
    assert value == {"amount": Decimal("12.50"), "points": 3, "name": "Gold\ttier", "lines": [{"q": 1}]}
    assert isinstance(value["amount"], Decimal)
    assert request_guard.loads(event["body"]) is value  # the resolver reuses the guard's reading


@pytest.mark.parametrize("levels", [33, 1000, 5000, 40_000])
def test_deep_nesting_is_refused_without_recursion(levels: int) -> None:
    for body in ("[" * levels + "]" * levels, '{"a":' * levels + "1" + "}" * levels):
        started = time.perf_counter()
        assert _refusal(_event(body)) == (
            422,
            {"code": "body_too_deep", "message": "the body may not nest more than 32 levels", "details": []},
        )
        assert time.perf_counter() - started < 0.5


def test_thirty_two_levels_pass_and_brackets_in_strings_do_not_count() -> None:
    assert request_guard.check(_event('{"a": ' + "[" * 31 + "]" * 31 + "}")) is None
    assert request_guard.check(_event(json.dumps({"a": "[" * 5000, "b": '\\"{{{{' * 100}))) is None
    assert request_guard.depth('"\\"[[["') == 0


def test_duplicate_keys_are_refused_at_any_depth() -> None:
    assert _code(_event('{"points": 1, "points": 2}')) == "duplicate_key"
    assert _code(_event('{"a": [{"b": 1, "b": 1}]}')) == "duplicate_key"
    refused = _refusal(_event('{"points": 1, "points": 2}'))
    assert refused is not None and refused[1]["details"][0]["field"] == "points"


@pytest.mark.parametrize(
    "number",
    ["NaN", "Infinity", "-Infinity", "1e999999999", "9" * 65, "-" + "1" * 70, "9" * 39, "1" + "0" * 63],
)
def test_numbers_that_are_not_finite_or_too_long_are_refused(number: str) -> None:
    assert _code(_event(f'{{"amount": {number}}}')) == "invalid_number"


def test_wrong_content_types_are_415_and_json_types_pass() -> None:
    for media in (
        "text/plain",
        "multipart/form-data",
        "application/xml",
        "text/json",
        "application/jsonp",
        "application/json; charset=utf-16",  # JSON is read in UTF-8 only: refused, not misread
        'application/json; charset="UTF-16LE"',
        "application/json;charset=latin1",
    ):
        assert _refusal(_event("{}", media)) == (
            415,
            {"code": "unsupported_media_type", "message": "send the body as application/json", "details": []},
        )
    for media in (
        "application/json",
        "application/json; charset=utf-8",
        'application/json; charset="UTF-8"',
        "application/json; charset=us-ascii; foo=bar",
        "application/merge-patch+json",
        "APPLICATION/JSON",
    ):
        assert request_guard.check(_event("{}", media)) is None
    assert request_guard.check({"body": "{}", "headers": {}}) is None  # no type: JSON, as before


def test_bodies_over_256_kib_are_413() -> None:
    assert _code(_event('{"x": "' + "a" * (256 * 1024) + '"}')) == "payload_too_large"
    assert (
        _code(_event('{"x": "' + "é" * (140 * 1024) + '"}')) == "payload_too_large"
    )  # bytes, not characters
    assert request_guard.check(_event('{"x": "' + "a" * (255 * 1024) + '"}')) is None


def test_invalid_utf8_is_refused() -> None:
    event = _event(base64.b64encode(b'{"a": "\xff"}').decode(), isBase64Encoded=True)
    assert _code(event) == "invalid_encoding"
    assert _code(_event('{"name": "a\\ud800b"}')) == "invalid_encoding"
    assert _code(_event('{"name": "a\ud800b"}')) == "invalid_encoding"
    good = _event(base64.b64encode('{"a": "é"}'.encode()).decode(), isBase64Encoded=True)
    assert request_guard.check(good) is None


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f"])
def test_control_characters_are_refused_in_body_path_and_query(char: str) -> None:
    assert _code(_event(json.dumps({"order_id": f"a{char}b"}))) == "invalid_character"
    assert _code(_event(json.dumps({f"k{char}": 1}))) == "invalid_character"
    assert _code({"body": None, "pathParameters": {"card_code": f"ab{char}"}}) == "invalid_character"
    assert _code({"body": None, "queryStringParameters": {"file": f"a{char}.csv"}}) == "invalid_character"


@pytest.mark.parametrize("escape", ["\\b", "\\f", "\\u0001", "\\u007f"])
def test_control_characters_written_as_short_escapes_are_refused(escape: str) -> None:
    assert _code(_event('{"k' + escape + '": 1}')) == "invalid_character"
    assert _code(_event('{"order_id": "a' + escape + 'b"}')) == "invalid_character"


def test_free_text_keeps_tabs_and_newlines_but_names_do_not() -> None:
    assert request_guard.check(_event(json.dumps({"description": "line 1\nline 2\tend\r\n"}))) is None
    with pytest.raises(ValueError, match=r"invalid_character|control"):
        single_line("Gold\ntier")


def test_a_query_parameter_or_idempotency_key_given_twice_is_refused_by_name() -> None:
    once = _event(None, multiValueQueryStringParameters={"limit": ["5"]})
    assert request_guard.check(once) is None
    twice = _event(None, multiValueQueryStringParameters={"limit": ["1", "500"]})
    assert _refusal(twice) == (
        422,
        {
            "code": "repeated_parameter",
            "message": "the query parameter 'limit' is given 2 times: give it once",
            "details": [{"in": "query", "field": "limit", "reason": "repeated_parameter"}],
        },
    )
    headers = {"multiValueHeaders": {"idempotency-KEY": ["k-1", "k-2"], "Accept": ["a/b", "c/d"]}}
    refused = _refusal(_event(None, **headers))
    assert refused is not None and refused[1]["details"] == [
        {"in": "header", "field": "Idempotency-Key", "reason": "repeated_parameter"}
    ]
    assert request_guard.check(_event(None, multiValueHeaders={"Accept": ["a/b", "c/d"]})) is None
    both_spellings = {"multiValueHeaders": {"Idempotency-Key": ["k-1"], "idempotency-key": ["k-2"]}}
    assert _code(_event(None, **both_spellings)) == "repeated_parameter"
    assert request_guard.check(_event(None, multiValueHeaders={"Idempotency-Key": ["k-1"]})) is None


def test_malformed_json_is_left_to_the_resolvers_validation_error() -> None:
    assert request_guard.check(_event("{not json")) is None
    with pytest.raises(json.JSONDecodeError):
        request_guard.loads("{not json")


@pytest.mark.parametrize("text", ["1_000", " 7", "7 ", "\u0661\u0662", "\uff11\uff12", "0x10", "", "+5"])
def test_plain_int_takes_ascii_digits_only(text: str) -> None:
    with pytest.raises(ValueError):
        plain_int(text)


@pytest.mark.parametrize("value", [True, False, "1_0.5", "\u0661.\u0665", "1e3", " 1.5", "NaN", "Infinity"])
def test_plain_decimal_refuses_booleans_and_other_digits(value: Any) -> None:
    with pytest.raises(ValueError):
        plain_decimal(value)


@given(st.text(alphabet=NON_ASCII_DIGITS + "_ ", min_size=1, max_size=8).filter(lambda t: not t.isascii()))
def test_no_other_script_digits_pass_plain_int(text: str) -> None:
    with pytest.raises(ValueError):
        plain_int(text)


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_every_hostile_body_is_refused_or_left_to_validation(case: Hostile) -> None:
    """The guard never raises; when the case decides the code, the guard answers it."""
    event = _event(
        case.body, case.headers.get("Content-Type", "application/json"), isBase64Encoded=case.base64
    )
    if case.path_value is not None:
        event["pathParameters"] = {"card_code": case.path_value}
    if case.query is not None:
        event["queryStringParameters"] = case.query
    refused = _refusal(event)
    if refused is not None:
        status, body = refused
        assert 400 <= status < 500 and set(body) == {"code", "message", "details"}
    decided = case.codes - {"validation_error"}
    if decided and case.kind != "control_body":
        assert refused is not None and refused[1]["code"] in case.codes, case


@pytest.mark.parametrize(
    "text", ["\u0662\u0660\u0661\u0668-08-01 00:00:00", "2018-08-0\u0661", "2018-08-01 00:00:0\uff11"]
)
def test_partner_file_dates_take_ascii_digits_only(text: str) -> None:
    """strptime's %Y would read other scripts' digits; the file's own pattern refuses them first."""
    from loyalty_engine.imports.files import ValueProblem, parse_file_datetime

    with pytest.raises(ValueProblem):
        parse_file_datetime(text, time_optional=True)


def test_partner_file_names_take_ascii_digits_only() -> None:
    from loyalty_engine.imports.files import FileRejected, parse_file_name

    with pytest.raises(FileRejected):
        parse_file_name("demo_masterreward_silver_2018080\u0661.csv", "demo")


@pytest.mark.parametrize(
    "body",
    [
        "[" + ",".join(["1"] * 120_000) + "]",
        '["' + '","'.join(["x"] * 60_000) + '"]',
        json.dumps([{"k": n, "v": "s\u00e9"} for n in range(8_000)]),
        '{"a": "' + "\\a" * 120_000,
    ],
    ids=["flat ints", "many strings", "escaped objects", "unterminated string"],
)
def test_the_guard_stays_linear_on_the_largest_bodies(body: str) -> None:
    started = time.perf_counter()
    request_guard.check(_event(body))
    assert time.perf_counter() - started < 1.0  # about 50 ms on one core; generous for shared CI


def test_an_integer_past_pythons_digit_limit_is_a_4xx_not_a_500() -> None:
    assert _code(_event('{"points": ' + "9" * 5000 + "}")) == "invalid_number"
    with pytest.raises(request_guard.Refused):
        request_guard.loads('{"points": ' + "9" * 5000 + "}")


def test_a_number_of_38_digits_passes_the_guard() -> None:
    """DynamoDB keeps 38 significant digits: the guard lets that many through (a field's own
    bounds decide), and no more."""
    assert request_guard.check(_event(f'{{"amount": {"9" * 38}}}')) is None
