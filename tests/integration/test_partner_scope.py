"""A `partner` key reaches its group's uploads and import reports, and no other route."""

from __future__ import annotations

import pytest

from loyalty_engine.access.models import Caller
from tests.support.api import call
from tests.support.tenant_isolation import EVENT_FOR

PARTNER = Caller(group_id="demo", key_id="01JD0000000000000000000009", scopes=("partner",))
PARTNER_ROUTES = {
    ("GET", "/v1/imports"),
    ("GET", "/v1/imports/{import_id}"),
    ("GET", "/v1/imports/{import_id}/report"),
    ("POST", "/v1/imports/uploads"),
}


@pytest.mark.parametrize("route", sorted(set(EVENT_FOR) - PARTNER_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_partner_key_is_refused_elsewhere(route, table):
    reply = call(EVENT_FOR[route], PARTNER)
    assert (reply.status, reply.body["code"]) == (403, "forbidden"), reply.body


def test_partner_upload_name_is_checked_first(table):
    reply = call(
        "api_request_upload", PARTNER, body={"file_name": "other_earnreward_club_20261210.csv", "size": 10}
    )
    assert (reply.status, reply.body["code"]) == (422, "wrong_universe"), reply.body
    reply = call(
        "api_request_upload", PARTNER, body={"file_name": "demo_earnreward_club_2026.csv", "size": 10}
    )
    assert (reply.status, reply.body["code"]) == (422, "invalid_file_name"), reply.body
    for size in ("10", 10.0, True):  # a count is a strict integer (api.md)
        body = {"file_name": "demo_earnreward_club_20261210.csv", "size": size}
        reply = call("api_request_upload", PARTNER, body=body)
        assert (reply.status, reply.body["code"]) == (422, "validation_error"), (size, reply.body)
    reply = call(
        "api_request_upload", PARTNER, body={"file_name": "demo_earnreward_club_20261210.csv\n", "size": 10}
    )
    assert (reply.status, reply.body["code"]) == (422, "invalid_file_name"), reply.body
    reply = call("api_request_upload", PARTNER)  # no program `club` in demo
    assert (reply.status, reply.body["code"]) == (422, "unknown_subsection"), reply.body
