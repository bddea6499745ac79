"""The domain events' JSON Schemas (docs/events/) match the models, cover the contract's kinds,
and accept what the publisher puts on the bus."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jsonschema
import pytest

from loyalty_engine.events.models import KINDS
from tests.support.stream_records import MEMBER_PK, events, ledger_entry, record

ROOT = Path(__file__).resolve().parents[2]
# The kinds agreed with the consumers (the webhooks, docs/events.md): the contract.
CONTRACT_KINDS = {
    "member.enrolled",
    "points.earned",
    "points.burned",
    "points.returned",
    "points.adjusted",
    "points.expired",
    "points.expiring_soon",
    "tier.upgraded",
    "tier.downgraded",
    "vip.granted",
    "vip.removed",
    "reward.attributed",
    "reward.burned",
    "import.completed",
    "import.rejected",
    "instrument.issued",
    "instrument.activated",
    "instrument.redeemed",
    "instrument.reversed",
    "instrument.cancelled",
    "store_credit.issued",
    "batch.ready",
}


def script():
    spec = importlib.util.spec_from_file_location("event_schemas", ROOT / "scripts" / "event_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def schema(kind: str) -> dict:
    return json.loads((ROOT / "docs" / "events" / f"{kind}.json").read_text())


def test_the_committed_schemas_match_the_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert script().main(["event_schemas.py", "check"]) == 0, capsys.readouterr().err


def test_every_contract_kind_has_a_model_a_schema_and_a_line_in_the_docs() -> None:
    assert set(KINDS) == CONTRACT_KINDS
    page = (ROOT / "docs" / "events.md").read_text()
    for kind in KINDS:
        assert schema(kind)["properties"]["kind"]["const"] == kind
        assert f"`{kind}`" in page


def test_what_the_publisher_puts_validates_against_its_schema() -> None:
    (event,) = events(record("INSERT", MEMBER_PK, "E#1#0", ledger_entry("earn")))
    detail = json.loads(event.model_dump_json())
    jsonschema.validate(detail, schema("points.earned"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**detail, "nq": 12.5}, schema("points.earned"))  # never a float
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**detail, "kind": "points.burned"}, schema("points.earned"))


def test_the_integration_capture_checks_each_detail_against_its_committed_schema() -> None:
    from tests.support.events import check_against_schema

    (event,) = events(record("INSERT", MEMBER_PK, "E#1#0", ledger_entry("earn")))
    detail = json.loads(event.model_dump_json())
    check_against_schema(detail)
    with pytest.raises(AssertionError, match=r"points\.earned\.json: nq:"):
        check_against_schema({**detail, "nq": "fifty"})
    with pytest.raises(AssertionError, match="'entry_id' is a required property"):
        check_against_schema({k: v for k, v in detail.items() if k != "entry_id"})
