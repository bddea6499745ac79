"""The seed's three example files (tests/fixtures/imports), through S3, SQS and the real handler."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.integration.conftest import SHOP
from tests.support.api import call
from tests.support.import_world import PROGRAM
from tests.support.imports import FIXTURES, deliver, report, skipped_codes, upload

MASTER = f"demo_masterreward_{PROGRAM}_20180801.csv"


def test_example_1_only_masterlight_imports(world):
    key = upload(world.s3, MASTER, (FIXTURES / "seed_example1_masterreward.csv").read_bytes())
    assert deliver(key) == {"batchItemFailures": []}

    summary, skipped = report(world.s3, MASTER)
    assert summary["state"] == "completed"
    assert (summary["lines_read"], summary["applied"], summary["skipped"]) == (6, 1, 5)
    assert skipped_codes(skipped) == {
        2: "missing_value",  # mastertest_missing_price: no nqp_value
        3: "no_stock",  # master_missing_auto_generation: 0 units, not auto-generated
        4: "limited_without_stock",  # master_bad_stock: limited with 0 units
        6: "no_stock",  # Masteritem_0_stock
        7: "stock_undefined",  # masteritem_bad_stock: no stock defined
    }
    assert "nqp_value" in skipped.splitlines()[1]

    listed = call("api_list_rewards", SHOP, query={}).body["rewards"]
    assert [r["external_id"] for r in listed] == ["masterlight"]
    light = listed[0]
    assert (light["name"], light["nqp_value"], light["is_limited"], light["max_attribution_count"]) == (
        "salad",
        10,
        True,
        100,
    )
    assert light["validity_interval_type"] == "months"
    assert light["monetary_value"] == "9"  # kept although monetary is 0
    assert (light["attributed"], light["remaining"]) == (0, 100)
    # the file was moved out of incoming/ once handled
    assert "Contents" not in world.s3.list_objects_v2(Bucket="loyalty-imports-test", Prefix="incoming/")


def test_example_2_earns_for_known_cards_only(world):
    world.at(datetime(2012, 6, 19, 8, 0, tzinfo=UTC))  # 09:00 GMT+1: line 2 earns on the import day
    world.enrol("CC0001", "CC0002", "CC0003", "CC0004")
    catalog = CATALOG_HEADER + "".join(
        f"{r};Reward {r};0;100;0;1;week;0;1;100\n" for r in ("1066", "1086", "1455")
    )
    upload(world.s3, f"demo_masterreward_{PROGRAM}_20120619.csv", catalog)
    earn = f"demo_earnreward_{PROGRAM}_20120619.csv"
    key = upload(world.s3, earn, (FIXTURES / "seed_example2_earnreward.csv").read_bytes())
    # one notification drains the subsection: the catalog (same day, masterreward) goes first
    assert deliver(key) == {"batchItemFailures": []}

    summary, skipped = report(world.s3, earn)
    assert (summary["lines_read"], summary["applied"], summary["skipped"]) == (10, 4, 6)
    assert skipped_codes(skipped) == {line: "unknown_card" for line in range(6, 12)}
    owned = call("api_list_member_rewards", SHOP, path={"card_code": "CC0002"}).body["attributions"]
    assert [(a["attribution_id"], a["reward_id"], len(a["codes"])) for a in owned] == [
        ("oc_0043302300", "1455", 1)
    ]
    assert owned[0]["codes"][0].isalnum() and len(owned[0]["codes"][0]) == 20  # generated
    assert owned[0]["valid_from"] == "2014-12-23T23:00:00Z"  # 2014-12-24 00:00 GMT+1
    assert call("api_get_reward", SHOP, path={"external_id": "1455"}).body["remaining"] == 98


CATALOG_HEADER = (
    "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;validity_interval_type;"
    "forced_validity;is_limited;max_attribution_count\n"
)
GRANTS = (
    "reward_id;card_code;attribution_id;earn_date;validity_start_date;validity_end_date;burn_date\n"
    "welcome;CC0001;EG2563;;2018-08-01 00:00:00;2018-09-01 00:00:00;\n"
    "welcome;CC0002;DE-0009-3981;;2018-08-01 00:00:00;2018-09-01 00:00:00;2018-08-01 10:00:00\n"
    "welcome;CC0004;BB-0001;;2018-08-01 00:00:00;2018-09-01 00:00:00;\n"
)


def test_example_3_burns_two_and_explains_six(world):
    world.enrol("CC0001", "CC0002", "CC0003", "CC0004")
    upload(
        world.s3,
        f"demo_masterreward_{PROGRAM}_20180801.csv",
        CATALOG_HEADER + "welcome;Welcome;0;0;0;1;month;0;1;10\n",
    )
    upload(world.s3, f"demo_earnreward_{PROGRAM}_20180801.csv", GRANTS)
    world.at(datetime(2018, 8, 10, 9, 0, tzinfo=UTC))
    burn = f"demo_burnreward_{PROGRAM}_20180810.csv"
    key = upload(world.s3, burn, (FIXTURES / "seed_example3_burnreward.csv").read_bytes())
    assert deliver(key) == {"batchItemFailures": []}

    summary, skipped = report(world.s3, burn)
    assert (summary["lines_read"], summary["applied"], summary["skipped"]) == (8, 2, 6)
    assert skipped_codes(skipped) == {
        2: "missing_value",  # attribution_id NULL ("empty unique_key")
        3: "unknown_card",
        5: "unknown_attribution",
        6: "burn_date_in_future",
        7: "incomplete_datetime",
        8: "already_burned",
    }
    for card, attribution_id in (("CC0001", "EG2563"), ("CC0004", "BB-0001")):
        (owned,) = call("api_list_member_rewards", SHOP, path={"card_code": card}).body["attributions"]
        assert (owned["attribution_id"], owned["burned"]) == (attribution_id, 1)
    (welcome,) = call("api_list_member_rewards", SHOP, path={"card_code": "CC0001"}).body["attributions"]
    assert welcome["burns"][0]["burned_at"] == "2018-08-09T09:00:05Z"
