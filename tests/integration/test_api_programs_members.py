"""Programs and enrolment through the real API handler on moto."""

from __future__ import annotations

import json

import pytest

from loyalty_engine.kernel.luhn import is_valid_luhn
from tests.integration.conftest import ADMIN, CARD, SHOP
from tests.support.api import call, load_event


def _spec(**overrides) -> dict:
    return {**json.loads(load_event("api_put_program")["body"]), **overrides}


def test_put_program_creates_then_replays_then_replaces(clock):
    created = call("api_put_program", ADMIN)
    assert created.status == 201
    assert created.body["program_id"] == "club"
    assert created.body["starts_at"] == "2025-12-31T23:00:00Z"  # stored in UTC
    replay = call("api_put_program", ADMIN)
    assert (replay.status, replay.body) == (200, created.body)
    clock.advance(minutes=5)
    replaced = call("api_put_program", ADMIN, body=_spec(name="Club Lumière 2027"))
    assert replaced.status == 200
    assert replaced.body["created_at"] == created.body["created_at"]
    assert replaced.body["updated_at"] != created.body["updated_at"]
    assert call("api_get_program", SHOP).body["name"] == "Club Lumière 2027"


def test_first_runs_left_out_are_the_programs_creation_to_the_minute(clock):
    """Seed 003: the first computation's date defaults to the program's creation date."""
    spec = _spec()
    tiers = spec["tier_settings"]
    tiers["upgrade"].pop("first_run_at")
    tiers["downgrade"] = {"mode": "calendar", "periodicity": "yearly"}
    clock.advance(seconds=42)
    created = call("api_put_program", ADMIN, body=spec)
    assert created.status == 201, created.body
    minute = created.body["created_at"][:16] + ":00Z"
    settings = created.body["tier_settings"]
    assert settings["upgrade"]["first_run_at"] == settings["downgrade"]["first_run_at"] == minute
    clock.advance(minutes=10)
    replay = call("api_put_program", ADMIN, body=spec)  # the same spec again: the same program
    assert (replay.status, replay.body) == (200, created.body)


def test_a_tiered_program_given_only_its_tiers_gets_the_seeds_default_computations(clock):
    """Seed 003 and DOMAIN.md: upgrades are computed daily by default, downgrades calendar-based
    and yearly by default, both first at the program's creation, and max_tier_downgrade has its
    default. A program that gave only its tiers was refused (422: upgrade and downgrade
    required), so the defaults could only be had by sending empty objects."""
    spec = _spec()
    spec["tier_settings"] = {"tiers": spec["tier_settings"]["tiers"]}
    clock.advance(seconds=42)
    created = call("api_put_program", ADMIN, body=spec)
    assert created.status == 201, created.body
    minute = created.body["created_at"][:16] + ":00Z"
    settings = created.body["tier_settings"]
    assert settings["upgrade"] == {"first_run_at": minute, "periodicity": "daily"}
    assert settings["downgrade"] == {
        "mode": "calendar",
        "first_run_at": minute,
        "periodicity": "yearly",
        "every": None,
    }
    assert settings["max_tier_downgrade"] == 1
    with_empty_objects = {**spec, "tier_settings": {**spec["tier_settings"], "upgrade": {}, "downgrade": {}}}
    replay = call("api_put_program", ADMIN, body=with_empty_objects)  # the same program
    assert (replay.status, replay.body) == (200, created.body)


def test_a_relative_downgrade_period_counts_in_years_by_default(clock):
    """Seed 003: a relative period is "number of days, weeks, months, or years (default)"."""
    spec = _spec()
    spec["tier_settings"]["downgrade"] = {"mode": "relative", "every": {"value": 2}}
    created = call("api_put_program", ADMIN, body=spec)
    assert created.status == 201, created.body
    assert created.body["tier_settings"]["downgrade"]["every"] == {"value": 2, "unit": "year"}


def test_program_names_are_unique_in_the_group(clock):
    call("api_put_program", ADMIN)
    clash = call("api_put_program", ADMIN, path={"program_id": "other"}, body=_spec(name="club LUMIÈRE"))
    assert clash.status == 409 and clash.body["code"] == "program_name_taken"
    for spaced in ("Club Lumière ", " Club Lumière", "Club  Lumière", "Club\u00a0Lumière"):
        clash = call("api_put_program", ADMIN, path={"program_id": "other"}, body=_spec(name=spaced))
        assert (clash.status, clash.body["code"]) == (409, "program_name_taken"), spaced
    # renaming frees the old name
    call("api_put_program", ADMIN, body=_spec(name="Renamed"))
    assert call("api_put_program", ADMIN, path={"program_id": "other"}).status == 201


def test_only_admin_keys_manage_programs(clock):
    reply = call("api_put_program", SHOP)
    assert reply.status == 403 and reply.body["code"] == "forbidden"


def test_invalid_tiers_are_refused_with_field_details(clock):
    spec = _spec()
    spec["tier_settings"]["tiers"][1]["entry_threshold"] = 0
    reply = call("api_put_program", ADMIN, body=spec)
    assert reply.status == 422
    assert reply.body["code"] == "validation_error"
    assert any("entry_threshold" in d["message"] for d in reply.body["details"])


def test_validation_errors_are_structured(clock):
    reply = call("api_put_program", ADMIN, body=_spec(currency="euro", unknown=1))
    assert reply.status == 422
    fields = {(d["field"], d["reason"]) for d in reply.body["details"]}
    assert ("currency", "string_pattern_mismatch") in fields
    assert ("unknown", "extra_forbidden") in fields
    malformed = call("api_put_program", ADMIN, raw_body="{not json")
    assert malformed.status == 422 and malformed.body["code"] == "validation_error"
    naive = call("api_put_program", ADMIN, body=_spec(starts_at="2026-01-01T00:00:00"))
    assert naive.status == 422


def test_unknown_program_is_404(clock):
    reply = call("api_get_program", SHOP, path={"program_id": "nope"})
    assert reply.status == 404 and reply.body["code"] == "program_not_found"


def test_enrol_with_imported_card_code_is_idempotent(program):
    first = call("api_enrol_member", SHOP)
    assert first.status == 201
    assert first.body["card_code"] == CARD
    assert first.body["tier"] == {"rank": 1, "name": "Blue"}
    assert first.body["balances"]["nq"] == {"available": 0, "pending": 0, "next_expiry": None}
    again = call("api_enrol_member", SHOP)
    assert (again.status, again.body) == (201, first.body)
    other = call("api_enrol_member", SHOP, body={"card_code": CARD, "customer_ref": "SOMEONE-ELSE"})
    assert other.status == 409 and other.body["code"] == "card_code_taken"


def test_generated_card_codes_follow_the_series_and_luhn(program):
    codes = set()
    for n in range(5):
        reply = call(
            "api_enrol_member", SHOP, body={"customer_ref": f"C-{n}"}, headers={"Idempotency-Key": f"k{n}"}
        )
        assert reply.status == 201
        code = reply.body["card_code"]
        assert code.startswith("2990") and len(code) == 13 and is_valid_luhn(code)
        codes.add(code)
    assert len(codes) == 5


def test_generated_enrolment_replays_by_idempotency_key(program):
    headers = {"Idempotency-Key": "signup-42"}
    first = call("api_enrol_member", SHOP, body={"customer_ref": "C-42"}, headers=headers)
    again = call("api_enrol_member", SHOP, body={"customer_ref": "C-42"}, headers=headers)
    assert again.body == first.body
    reused = call("api_enrol_member", SHOP, body={"customer_ref": "C-43"}, headers=headers)
    assert reused.status == 409 and reused.body["code"] == "idempotency_key_reused"


def test_manual_programs_require_a_card_code(clock):
    spec = _spec(card_codes={"generation": "manual"})
    call("api_put_program", ADMIN, body=spec)
    reply = call("api_enrol_member", SHOP, body={"customer_ref": "C-1"})
    assert reply.status == 422 and reply.body["code"] == "card_code_required"


def test_enrol_in_unknown_program_is_404(clock):
    reply = call("api_enrol_member", SHOP, path={"program_id": "ghost"})
    assert reply.status == 404 and reply.body["code"] == "program_not_found"


def test_vip_multiplier_applies_when_larger(member, clock):
    from loyalty_engine.handlers.api_context import default_context

    store = default_context().members
    loaded, _ = store.load("demo", CARD, [])
    assert loaded is not None
    vip = loaded.model_copy(update={"vip_tiers": ["staff"], "version": loaded.version + 1})
    from loyalty_engine.points.member_store import MemberWrite

    store.commit("demo", MemberWrite(member=vip), expected_version=loaded.version)
    reply = call("api_earn_order", SHOP)
    assert reply.body["earned"]["nq"] == 2598  # staff VIP: NQ x2 beats tier 1's x1
    assert reply.body["earned"]["q"] == 129  # staff VIP: Q x1, tier 1: x1


def test_members_are_listed_by_program_on_the_sharded_index(program, table):
    from loyalty_engine.kernel import keys
    from loyalty_engine.kernel.table import GSI1, MEMBER_SHARDS

    client, name = table
    cards = {f"CARD-{n:04d}" for n in range(12)}
    for card in cards:
        assert call("api_enrol_member", SHOP, body={"card_code": card}).status == 201
    found = set()
    for shard in range(MEMBER_SHARDS):
        page = client.query(
            TableName=name,
            IndexName=GSI1.name,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": GSI1.partition_key},
            ExpressionAttributeValues={":pk": {"S": keys.program_members_gsi1pk("demo", "club", shard)}},
        )
        found |= {item[GSI1.sort_key]["S"] for item in page["Items"]}
        assert all(item["type"]["S"] == "member" for item in page["Items"])
    assert found == cards


def test_enrolment_replays_survive_program_changes(program, clock):
    headers = {"Idempotency-Key": "signup-1"}
    generated = call("api_enrol_member", SHOP, body={"customer_ref": "C-1"}, headers=headers)
    imported = call("api_enrol_member", SHOP)
    call(
        "api_put_program",
        ADMIN,
        body=_spec(card_codes={"generation": "manual"}, ends_at="2026-12-31T00:00:00Z"),
    )
    clock.advance(days=30)  # the program has ended too
    assert (
        call("api_enrol_member", SHOP, body={"customer_ref": "C-1"}, headers=headers).body == generated.body
    )
    assert call("api_enrol_member", SHOP).body == imported.body
    late = call("api_enrol_member", SHOP, body={"card_code": "NEW-0001"})
    assert late.status == 422 and late.body["code"] == "program_not_active"


def test_generated_card_codes_need_an_idempotency_key(program):
    reply = call("api_enrol_member", SHOP, body={"customer_ref": "C-9"})
    assert reply.status == 422 and reply.body["code"] == "idempotency_key_required"


def test_a_stale_program_replacement_is_refused_and_claims_no_name(program, clock):
    from loyalty_engine.handlers.api_context import default_context
    from loyalty_engine.kernel.errors import Conflict
    from loyalty_engine.points.programs import Program

    store = default_context().programs
    p0 = store.get_program("demo", "club", consistent=True)
    assert p0 is not None and p0.version == 1
    assert call("api_put_program", ADMIN, body=_spec(name="Bravo")).body["version"] == 2
    stale = Program(**{**p0.model_dump(), "name": "Charlie", "version": 2})
    with pytest.raises(Conflict):
        store.put_program("demo", stale, previous=p0)
    assert (
        call("api_put_program", ADMIN, path={"program_id": "other"}, body=_spec(name="Charlie")).status == 201
    )
