"""The benchmark's pure helpers around the write meter and `.bench/summary.json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import summary
from bench.aws_hooks import WriteMeter, aws_seconds


def key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def test_the_meter_finds_every_item_a_write_names() -> None:
    item = {**key("P", "A"), "type": {"S": "x"}}
    assert WriteMeter._writes("PutItem", {"TableName": "t", "Item": item}) == [
        {"table": "t", "key": ("P", "A"), "new": item}
    ]
    batch = {
        "RequestItems": {"t": [{"PutRequest": {"Item": item}}, {"DeleteRequest": {"Key": key("P", "B")}}]}
    }
    assert [(w["key"], w.get("kind")) for w in WriteMeter._writes("BatchWriteItem", batch)] == [
        (("P", "A"), None),
        (("P", "B"), "DeleteItem"),
    ]
    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "t", "Item": item}},
            {"Update": {"TableName": "t", "Key": key("P", "C"), "UpdateExpression": "SET a = :a"}},
            {"Delete": {"TableName": "t", "Key": key("P", "D")}},
            {"ConditionCheck": {"TableName": "t", "Key": key("M", "E"), "ConditionExpression": "x"}},
        ]
    }
    kinds = [(w["key"][1], w.get("kind")) for w in WriteMeter._writes("TransactWriteItems", transaction)]
    assert kinds == [("A", None), ("C", "UpdateItem"), ("D", "DeleteItem"), ("E", "ConditionCheck")]
    assert (
        WriteMeter._writes("UpdateItem", {"TableName": "t", "Key": key("P", "F")})[0]["kind"] == "UpdateItem"
    )


def test_aws_seconds_takes_out_the_excess_and_stretches_the_cpu() -> None:
    # 10 s wall, 3 s of moto's and the meter's time beyond the p50s; 2.5 s CPU of which the
    # meter's 0.5 s, at half a vCPU: the other 2 s take 4 s
    assert aws_seconds(10.0, 2.5, 3.0, 0.5, 0.5) == pytest.approx(10 - 3 + 2.0)


def write(folder: Path, name: str, data: object) -> None:
    (folder / f"{name}.json").write_text(json.dumps(data))


def test_summary_has_exactly_the_issue_keys_with_their_basis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary, "BENCH", tmp_path)
    empty = summary.build()
    assert all(empty[k] is None for k in summary.KEYS)
    imports_aws = {
        scope: {
            "lines": 20000,
            "projected_200k_s": s,
            "projected_200k_basis": "extrapolated from 20000",
            "ratio_to_raw": r,
            "hottest_partition_wcu_s": h,
            "hottest_partition": "G#demo#REWARDS",
            "hottest_partition_units": 100,
            "aws_s": 10.0,
            "dynamodb_requests_per_line": 0.05,
        }
        for scope, s, r, h in (("earnreward", 250.0, 0.8, 2.0), ("masterreward", 230.0, 0.95, 900.0))
    }
    earn = {
        "lots": 50,
        "case": "same day",
        "earn_at_50_lots": {"write_units": 23, "write_units_if_not_transactional": 12, "items": []},
    }
    tier = {"projected_10m_min": 24.5, "projected_10m_basis": "measured over 20000 members"}
    write(tmp_path, "aws", {"imports": imports_aws, "tier_upgrade": tier, "earn_units": earn})
    write(tmp_path, "imports", {"scopes": {"earnreward": {"10000": {"dynamodb_requests_per_line": 0.0545}}}})
    write(tmp_path, "jobs", {"jobs": {"expire-points": {"members": 500, "run": {"members_per_s": 12}}}})
    run = {
        "warm_path_on_moto": {
            "round_trips_per_earn": 2,
            "earn_calls": ["Query", "TransactWriteItems"],
            "round_trips_per_burn": 2,
            "burn_calls": ["Query", "TransactWriteItems"],
        },
        "cold_imports": {
            "bare_powertools_handler_ms": 300.0,
            "api": {"ms": 400.0, "ratio_to_bare": 1.33},
            "authorizer": {"ms": 310.0, "ratio_to_bare": 1.03},
        },
    }
    write(tmp_path, "run", run)
    publisher = {
        "earns": 1000,
        "events": 1050,
        "events_per_s_on_moto": 120.5,
        "events_per_put_events": 9.9,
        "events_per_s_publisher_code": 2500.0,
        "events_per_s_projected_on_aws": 450.0,
        "projection_basis": "assumed p50s",
    }
    calls = ["Query", "TransactWriteItems"]
    events = {
        "publisher": publisher,
        "earn_requests_with_stream": calls,
        "earn_requests_without_stream": calls,
        "earn_added_dynamodb_requests": 0,
    }
    write(tmp_path, "events", events)
    built = summary.build()
    assert {k: built[k] for k in summary.KEYS} == {
        "import_earn_200k_s": 250.0,
        "import_master_200k_s": 230.0,
        "import_ratio_to_raw_min": 0.8,
        "import_requests_per_line_max": 0.0545,
        "import_hottest_partition_wcu_s": 900.0,
        "tier_10m_projected_min": 24.5,
        "expire_points_members_per_s": 12,
        "earn_wcu_at_50_lots": 23,
        "cold_import_ratio_max": 1.33,
        "earn_round_trips": 2,
        "burn_round_trips": 2,
        "events_published_per_s": 120.5,
        "earn_added_dynamodb_requests": 0,
    }
    assert built["import_earn_200k_s_basis"].startswith("extrapolated from 20000")
    assert set(built) == {*summary.KEYS, *(f"{k}_basis" for k in summary.KEYS), "figures_from"}
