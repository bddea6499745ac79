"""Numbers a hostile caller sends past any program's figures: refused with a 422 naming the field,
nothing stored (DynamoDB keeps 38 significant digits; a console or a web shop reads numbers
exactly up to 2**53)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loyalty_engine.access.quotas import QuotaLimits
from loyalty_engine.points.programs import MAX_PROGRAM_POINTS
from tests.integration.conftest import ADMIN
from tests.support.api import call, load_event


def program(**nq: Any) -> dict[str, Any]:
    body = json.loads(load_event("api_put_program")["body"])
    body["nq_points"].update(nq)
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize("value", [MAX_PROGRAM_POINTS + 1, 10**37, 10**63 + 1])
def test_a_maximum_balance_past_any_program_is_refused(table, value: int) -> None:
    reply = call("api_put_program", ADMIN, body=program(max_balance=value))
    assert reply.status == 422, reply.body
    if value > 10**38:  # past DynamoDB's digits: the guard refuses the number before any field
        assert reply.body["code"] == "invalid_number", reply.body
    else:
        assert reply.body["details"][0]["field"] == "nq_points.max_balance", reply.body
    assert call("api_get_program", ADMIN).status == 404


def test_a_tier_threshold_past_any_program_is_refused(table) -> None:
    body = program()
    top = body["tier_settings"]["tiers"][-1]
    top["entry_threshold"] = top["downgrade_threshold"] = MAX_PROGRAM_POINTS + 1
    reply = call("api_put_program", ADMIN, body=body)
    assert reply.status == 422, reply.body
    assert "entry_threshold" in json.dumps(reply.body["details"]), reply.body
    top["entry_threshold"] = top["downgrade_threshold"] = MAX_PROGRAM_POINTS
    assert call("api_put_program", ADMIN, body=body).status == 201


def test_a_daily_quota_is_bounded() -> None:
    with pytest.raises(ValueError, match="less than or equal"):
        QuotaLimits(rate_per_second=1, burst=1, daily_quota=10**12 + 1)


@pytest.mark.parametrize(
    ("written", "read"),
    [("1E+2", "100"), ("2e1", "20"), ("1.5E1", "15"), ("0.25e1", "2.5"), ("15.0", "15.0"), ("7", "7")],
)
def test_a_number_in_exponent_notation_is_stored_plain_and_reads_back(table, written, read) -> None:
    """A JSON number may be written `1E+2`; stored as such, it was read back as the string
    '1E+2', which an amount or a rate refuses: the PUT answered a 422 about its own *response*
    after storing the program, and every later read of it was a 500. It is taken as `100`."""
    raw = json.dumps(program(conversion_rate="@")).replace('"@"', written)
    put = call("api_put_program", ADMIN, raw_body=raw)
    assert put.status == 201, put.body
    assert put.body["nq_points"]["conversion_rate"] == read, put.body
    got = call("api_get_program", ADMIN)
    assert (got.status, got.body["nq_points"]["conversion_rate"]) == (200, read), got.body
