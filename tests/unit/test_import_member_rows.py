"""Member and VIP lines, their headers, and the place of their scopes in a day's order (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty_engine.imports.files import FileRejected, Scope, parse_file_name
from loyalty_engine.imports.header import check_header
from loyalty_engine.imports.jobs import SCOPE_ORDER
from loyalty_engine.imports.rows import LineSkipped, row_of
from loyalty_engine.imports.rows_members import member_line, vip_line

MEMBER_HEADER = ["card_code", "customer_ref", "subscribed_at"]
VIP_HEADER = ["card_code", "vip_tier", "action", "reason"]


def member_row(*fields: str) -> dict[str, str]:
    return row_of(MEMBER_HEADER, list(fields))


def vip_row(*fields: str) -> dict[str, str]:
    return row_of(VIP_HEADER, list(fields))


def refusal(parse, row) -> tuple[str, str | None]:
    with pytest.raises(LineSkipped) as raised:
        parse(row)
    return raised.value.code, raised.value.field


# --- headers and names ---------------------------------------------------------------------


def test_member_and_vip_headers():
    assert check_header(Scope.MEMBER, [" Card_Code ", "customer_ref"]) == ["card_code", "customer_ref"]
    assert check_header(Scope.VIP, ["action", "card_code", "VIP_TIER"]) == ["action", "card_code", "vip_tier"]
    for scope, fields, code in (
        (Scope.MEMBER, ["customer_ref"], "missing_column"),
        (Scope.MEMBER, ["card_code", "vip_tier"], "unknown_column"),
        (Scope.VIP, ["card_code", "vip_tier"], "missing_column"),
        (Scope.VIP, ["card_code", "vip_tier", "action", "c0"], "unknown_column"),
    ):
        with pytest.raises(FileRejected) as raised:
            check_header(scope, fields)
        assert raised.value.code == code


def test_a_days_files_apply_members_then_vip_then_rewards():
    assert [scope.value for scope in SCOPE_ORDER] == [
        "member",
        "vip",
        "masterreward",
        "rewardcode",
        "earnreward",
        "burnreward",
    ]
    assert set(SCOPE_ORDER) == set(Scope)  # every scope has its place
    names = [
        "demo_earnreward_club_20180801.csv",
        "demo_vip_club_20180801.csv",
        "demo_masterreward_club_20180801.csv",
        "demo_member_club_20180802.csv",
        "demo_member_club_20180801.csv",
    ]
    ordered = sorted((parse_file_name(name, "demo") for name in names), key=lambda f: f.order)
    assert [(f.scope.value, f.day.day) for f in ordered] == [
        ("member", 1),
        ("vip", 1),
        ("masterreward", 1),
        ("earnreward", 1),
        ("member", 2),
    ]


# --- member lines --------------------------------------------------------------------------


def test_a_member_line():
    line = member_line(member_row(" CARD-0001 ", "cust 1", "2018-07-01 10:00:00"))
    assert (line.card_code, line.customer_ref) == ("CARD-0001", "cust 1")
    assert line.subscribed_at == datetime(2018, 7, 1, 9, tzinfo=UTC)
    bare = member_line(member_row("CARD0001", "", "2018-07-01"))
    assert (bare.customer_ref, bare.subscribed_at) == (None, datetime(2018, 6, 30, 23, tzinfo=UTC))
    assert member_line(row_of(["card_code"], ["CARD0001"])).subscribed_at is None
    assert member_line(member_row("CARD0001", "NULL", "NULL")).customer_ref is None  # never erases


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (("", "x", ""), ("missing_value", "card_code")),
        (("NULL", "x", ""), ("missing_value", "card_code")),
        (("ab", "", ""), ("invalid_card_code", "card_code")),
        (("-abc", "", ""), ("invalid_card_code", "card_code")),
        (("CARD 01", "", ""), ("invalid_card_code", "card_code")),
        (("C" * 41, "", ""), ("invalid_card_code", "card_code")),
        (("CARD0001", "r" * 129, ""), ("too_long", "customer_ref")),
        (("CARD0001", "", "2018-07-01 25:00:00"), ("invalid_datetime", "subscribed_at")),
        (("CARD0001", "", "01/07/2018"), ("invalid_datetime", "subscribed_at")),
    ],
)
def test_member_lines_refused(fields, expected):
    assert refusal(member_line, member_row(*fields)) == expected


def test_a_line_with_another_number_of_values_is_refused():
    with pytest.raises(LineSkipped) as raised:
        member_row("CARD0001", "x")
    assert raised.value.code == "column_count"


# --- vip lines -----------------------------------------------------------------------------


def test_vip_lines():
    grant = vip_line(vip_row("CARD0001", "staff", "Grant", "employee"))
    assert (grant.card_code, grant.vip_tier, grant.grant, grant.reason) == (
        "CARD0001",
        "staff",
        True,
        "employee",
    )
    remove = vip_line(vip_row("CARD0001", "staff", " REMOVE ", ""))
    assert (remove.grant, remove.reason) == (False, None)
    assert vip_line(vip_row("CARD0001", " STAFF ", "grant", "x")).vip_tier == "staff"  # any case


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (("", "staff", "grant", "x"), ("missing_value", "card_code")),
        (("CARD0001", "", "grant", "x"), ("missing_value", "vip_tier")),
        (("CARD0001", "staff", "", "x"), ("missing_value", "action")),
        (("CARD0001", "staff", "promote", "x"), ("invalid_action", "action")),
        (("CARD0001", "staff", "grant", ""), ("missing_value", "reason")),
        (("CARD0001", "Staff Tier", "grant", "x"), ("unknown_vip_tier", "vip_tier")),
        (("CARD0001", "staff", "grant", "r" * 257), ("too_long", "reason")),
        (("a b", "staff", "grant", "x"), ("invalid_card_code", "card_code")),
    ],
)
def test_vip_lines_refused(fields, expected):
    assert refusal(vip_line, vip_row(*fields)) == expected


@given(st.lists(st.text(max_size=30), min_size=4, max_size=4))
def test_any_vip_line_is_read_or_refused_with_a_reason(fields):
    """Whatever a line holds, it is read into checked values or refused with a stable code."""
    try:
        line = vip_line(vip_row(*fields))
    except LineSkipped as problem:
        assert problem.code in {
            "missing_value",
            "invalid_action",
            "unknown_vip_tier",
            "too_long",
            "invalid_card_code",
            "invalid_value",  # a control character in the reason (one line of text)
        }
        assert problem.field in VIP_HEADER
    else:
        assert line.card_code == fields[0].strip() and line.vip_tier == fields[1].strip()
        assert line.grant == (fields[2].strip().lower() == "grant")
        assert line.reason or not line.grant


@given(st.lists(st.text(max_size=40), min_size=3, max_size=3))
def test_any_member_line_is_read_or_refused_with_a_reason(fields):
    try:
        line = member_line(member_row(*fields))
    except LineSkipped as problem:
        assert problem.code in {
            "missing_value",
            "invalid_card_code",
            "too_long",
            "invalid_datetime",
            "invalid_value",  # a control character in customer_ref (one line of text)
        }
        assert problem.field in MEMBER_HEADER
    else:
        assert line.card_code == fields[0].strip()
        assert line.subscribed_at is None or line.subscribed_at.tzinfo == UTC
