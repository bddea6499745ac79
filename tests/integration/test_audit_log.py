"""The audit log: every write of an admin or partner key, on both APIs, refused ones too;
`GET /v1/audit` with its filters, pages, tenant isolation and the records' TTL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from loyalty_engine.access.models import Caller
from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP, SHOP, order_body
from tests.support.api import call

PARTNER = Caller(group_id="demo", key_id="01JD0000000000000000000009", scopes=("partner",))
SECOND_ADMIN = Caller(group_id="demo", key_id="01JD0000000000000000000008", scopes=("admin",))
T0 = 1_795_000_000_000  # the sample events' requestTimeEpoch (ms)


def audit(caller: Caller = ADMIN, **query: str) -> dict:
    reply = call("api_list_audit", caller, query=query)
    assert reply.status == 200, reply.body
    return reply.body


def cursor_of(record: dict) -> str:
    from loyalty_engine.kernel.cursors import encode_cursor

    at = record["at"].replace("Z", "")
    return encode_cursor(f"T#{at}.000Z#{record['request_id']}")


def raw_items(table, pk: str) -> list[dict]:
    client, name = table
    answer = client.query(
        TableName=name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )
    return answer["Items"]


def test_writes_of_admin_keys_on_both_apis_are_recorded(member):
    earned = call("api_earn_order", ADMIN, body=order_body(order_id="o-admin"), request_time_ms=T0 + 1)
    assert earned.status == 201
    assert call("api_grant_vip_tier", ADMIN, request_time_ms=T0 + 2).status == 200
    assert call("api_put_merchant_group", ADMIN, request_time_ms=T0 + 3).status == 201  # instrument API
    created = call("api_create_api_key", ADMIN, request_time_ms=T0 + 4)
    assert created.status == 201
    items = audit()["items"]
    assert [(i["method"], i["route"]) for i in items] == [
        ("POST", "/v1/api-keys"),
        ("PUT", "/v1/merchant-groups/{merchant_group_id}"),
        ("PUT", "/v1/members/{card_code}/vip-tiers/{vip_tier}"),
        ("POST", "/v1/members/{card_code}/orders"),
        ("PUT", "/v1/programs/{program_id}"),  # the program fixture's, by the admin key
    ]
    assert {i["key_id"] for i in items} == {ADMIN.key_id}
    assert {i["status"] for i in items} == {200, 201}
    earn = items[3]
    assert earn["object"] == f"members/{CARD}"
    assert earn["ids"] == {"card_code": CARD}
    assert "order_id=o-admin" in earn["summary"]
    assert items[2]["object"] == f"members/{CARD}" and items[2]["ids"]["vip_tier"] == "staff"
    assert items[1]["object"].startswith("merchant-groups/")
    # never a secret: the new key's token is in the answer only
    token = created.body["api_key"]
    assert token.split(".")[-1] not in json.dumps(items)
    assert "scopes=shop" in items[0]["summary"]
    key_id = created.body["key_id"]
    assert items[0]["object"] == f"api-keys/{key_id}"
    revoked = call("api_revoke_api_key", ADMIN, path={"key_id": key_id}, request_time_ms=T0 + 5)
    assert revoked.status == 200
    life = audit(object=f"api-keys/{key_id}")["items"]
    assert [(i["method"], i["status"]) for i in life] == [("DELETE", 200), ("POST", 201)]


def test_shop_key_writes_and_reads_are_not_recorded(member):
    assert call("api_earn_order", SHOP).status == 201  # the member fixture enrolled with SHOP too
    assert call("api_get_member", ADMIN).status == 200
    assert call("api_get_ledger", ADMIN).status == 200
    items = audit()["items"]
    assert [i["route"] for i in items] == ["/v1/programs/{program_id}"]


def test_refused_writes_are_recorded_with_their_status(member):
    too_much = call("api_burn_points", ADMIN, body={"points": 10_000})
    assert (too_much.status, too_much.body["code"]) == (409, "insufficient_points")
    invalid = call("api_put_program", ADMIN, body={"name": ""})
    assert invalid.status == 422
    forbidden = call("api_put_merchant_group", PARTNER)
    assert forbidden.status == 403
    unknown = call("api_grant_vip_tier", ADMIN, path={"card_code": "2990000000025"})
    assert unknown.status == 404
    items = audit()["items"]
    refused = {(i["route"], i["status"], i["key_id"]): i["summary"] for i in items if i["status"] >= 400}
    assert refused[("/v1/members/{card_code}/burns", 409, ADMIN.key_id)].endswith(
        "refused: insufficient_points"
    )
    assert ("/v1/programs/{program_id}", 422, ADMIN.key_id) in refused
    assert refused[("/v1/merchant-groups/{merchant_group_id}", 403, PARTNER.key_id)].endswith(
        "refused: forbidden"
    )
    assert ("/v1/members/{card_code}/vip-tiers/{vip_tier}", 404, ADMIN.key_id) in refused


def test_personal_data_stays_out_of_the_summary(member):
    assert call("api_put_customer_group", ADMIN).status == 201
    assert call("api_put_customer", ADMIN).status == 201
    (record,) = audit(object="customers/c-1001")["items"]
    assert record["summary"] == "fields: customer_groups,email,first_name,last_name"
    stored = json.dumps(record).lower()  # ids are random hex: "ada" alone could be in one
    assert not [text for text in ("lovelace", "ada@example.com", '"ada"') if text in stored], stored


def test_filters_by_object_key_and_time(program, clock):
    for card, caller, moment in (
        ("2990000000017", ADMIN, T0),
        ("2990000000025", SECOND_ADMIN, T0 + 1000),
        ("2990000000017", SECOND_ADMIN, T0 + 2000),
        ("2990000000033", ADMIN, T0 + 3000),
    ):
        body = {"card_code": card}
        reply = call("api_enrol_member", caller, body=body, request_time_ms=moment)
        assert reply.status == 201, reply.body
    by_object = audit(object="programs/club")["items"]
    assert len(by_object) == 5  # the program's save and the four enrolments, newest first
    assert [i["at"] for i in by_object] == sorted((i["at"] for i in by_object), reverse=True)
    assert by_object[0]["at"] > by_object[-1]["at"]
    second = audit(key_id=SECOND_ADMIN.key_id)["items"]
    assert [i["summary"] for i in second] == ["fields: card_code"] * 2
    assert {i["key_id"] for i in second} == {SECOND_ADMIN.key_id}
    both = audit(object="programs/club", key_id=ADMIN.key_id)["items"]
    assert {i["key_id"] for i in both} == {ADMIN.key_id} and len(both) == 3
    start = datetime.fromtimestamp((T0 + 1000) / 1000, UTC)
    end = start + timedelta(seconds=1)
    window = audit(**{"from": start.isoformat(), "to": end.isoformat()})["items"]
    assert [i["key_id"] for i in window] == [SECOND_ADMIN.key_id, SECOND_ADMIN.key_id]
    refused = call("api_list_audit", ADMIN, query={"from": end.isoformat(), "to": start.isoformat()})
    assert refused.status == 422


@pytest.mark.parametrize("moment", ["9999-12-31T23:00:00-05:00", "0001-01-01T01:00:00+05:00"])
def test_a_time_filter_past_the_calendar_in_utc_is_a_422(program, moment):
    for name in ("from", "to"):
        reply = call("api_list_audit", ADMIN, query={name: moment})
        assert (reply.status, reply.body["code"]) == (422, "validation_error"), reply.body


def test_pages_follow_the_cursor(program):
    for n in range(5):
        reply = call("api_enrol_member", ADMIN, body={"card_code": f"29900000001{n}"}, request_time_ms=T0 + n)
        assert reply.status in (201, 422), reply.body
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        body = audit(**query)
        seen += body["items"]
        pages += 1
        assert body["next"] == body["next_cursor"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 6 and pages >= 3
    assert len({i["request_id"] for i in seen}) == 6
    assert call("api_list_audit", ADMIN, query={"cursor": "bm90LWEtY3Vyc29y"}).status == 422
    # a cursor of another time range: DynamoDB would refuse the start key, the API answers 422
    outside = {"cursor": cursor_of(seen[-1]), "to": "2020-01-01T00:00:00Z"}
    reply = call("api_list_audit", ADMIN, query=outside)
    assert (reply.status, reply.body["code"]) == (422, "invalid_cursor")


def test_one_request_delivered_twice_is_one_record(program):
    for _ in range(2):
        call("api_put_merchant_group", ADMIN, request_id="same-request")
    records = [i for i in audit()["items"] if i["request_id"] == "same-request"]
    assert len(records) == 1


def test_another_group_sees_none_of_the_records(member):
    assert call("api_grant_vip_tier", ADMIN).status == 200
    assert audit(OTHER_GROUP)["items"] == []
    assert audit(OTHER_GROUP, object=f"members/{CARD}")["items"] == []
    assert audit(OTHER_GROUP, key_id=ADMIN.key_id)["items"] == []
    assert len(audit(object=f"members/{CARD}")["items"]) == 1
    assert call("api_list_audit", SHOP).status == 403


def test_records_carry_a_ttl_from_the_group_setting(table, program):
    (first,) = raw_items(table, "G#demo#AUDIT")
    at = datetime.fromtimestamp(T0 / 1000, UTC)
    assert int(first["ttl"]["N"]) == int((at + timedelta(days=365)).timestamp())
    reply = call("api_put_group_settings", ADMIN, body={"audit_retention_days": 30})
    assert reply.status == 200 and reply.body["audit_retention_days"] == 30
    from loyalty_engine.handlers.audit_trail import audit_services

    audit_services.cache_clear()  # another container, or this one a minute later
    call("api_put_merchant_group", ADMIN, request_time_ms=T0 + 5000)
    items = raw_items(table, "G#demo#AUDIT")
    ttls = sorted(int(i["ttl"]["N"]) for i in items)
    later = datetime.fromtimestamp((T0 + 5000) / 1000, UTC)
    assert int((later + timedelta(days=30)).timestamp()) in ttls
    objects = raw_items(table, "G#demo#AUDITOBJ#merchant-groups/stores")
    assert objects and all("ttl" in i for i in objects)


def test_a_failed_record_leaves_the_answer_alone(program, monkeypatch):
    from loyalty_engine.audit.store import AuditStore

    def broken(*_args, **_kwargs):
        raise RuntimeError("the table is gone")

    monkeypatch.setattr(AuditStore, "put", broken)
    reply = call("api_put_merchant_group", ADMIN)
    assert reply.status == 201


@pytest.mark.parametrize(
    "bad", ["members/ x", "members/x ", "members/a#b", "../x", "members/1/2/3", "Members/1", "rewards/."]
)
def test_bad_object_filter_is_refused(table, bad):
    assert call("api_list_audit", ADMIN, query={"object": bad}).status == 422


def test_partner_writes_and_guard_refusals_are_recorded(program):
    upload = call("api_request_upload", PARTNER)
    refused = call(
        "api_put_merchant_group",
        ADMIN,
        raw_body="name=stores",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert refused.status == 415
    items = audit()["items"]
    partner = [i for i in items if i["key_id"] == PARTNER.key_id]
    assert [(i["route"], i["status"]) for i in partner] == [("/v1/imports/uploads", upload.status)]
    assert "file_name" in partner[0]["summary"] or upload.status >= 400
    (guarded,) = [i for i in items if i["status"] == 415]
    assert guarded["route"] == "/v1/merchant-groups/{merchant_group_id}"
    assert guarded["summary"].startswith("refused: ") and "name" not in guarded["summary"]


def test_a_function_error_is_recorded_as_500_and_still_raised(member, monkeypatch):
    from loyalty_engine.points import point_use_cases

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(point_use_cases, "burn", broken)
    with pytest.raises(RuntimeError):
        call("api_burn_points", ADMIN)
    (record,) = [i for i in audit()["items"] if i["route"] == "/v1/members/{card_code}/burns"]
    assert record["status"] == 500 and record["key_id"] == ADMIN.key_id


def test_a_webhook_s_whole_life_is_one_audit_object(table):
    created = call(
        "api_create_webhook",
        ADMIN,
        body={"url": "https://hooks.example.com/loyalty", "kinds": ["points.earned"]},
        headers={"Idempotency-Key": "audit-hook"},
        request_time_ms=T0 + 1,
    )
    assert created.status == 201, created.body
    hook_id = created.body["subscription_id"]
    path = {"subscription_id": hook_id}
    assert call("api_delete_webhook", ADMIN, path=path, request_time_ms=T0 + 2).status in (200, 204)
    life = audit(object=f"webhooks/{hook_id}")["items"]
    assert [(i["method"], i["status"]) for i in life] == [("DELETE", life[0]["status"]), ("POST", 201)]
    assert created.body["secret"] not in json.dumps(life)  # never the signing secret


@pytest.mark.parametrize("external_id", ["café crème", "Ωmega-1", "コーヒー", "a.b:c_d"])
def test_the_object_filter_names_any_id_a_route_takes(clock, external_id):
    """A reward's external id is free text (non-ASCII letters, inner spaces): its records are
    kept under `rewards/<that id>`, and the filter names it (it used to be a 422 that no
    spelling could pass)."""
    put = call("api_put_reward", ADMIN, path={"external_id": external_id})
    assert put.status == 201, put.body
    found = audit(object=f"rewards/{external_id}")["items"]
    assert [(i["object"], i["ids"]) for i in found] == [
        (f"rewards/{external_id}", {"external_id": external_id})
    ]
