"""A master reward's codes: generated ones, and a stock of loaded codes (API and rewardcode files),
handed out in load order, never twice, refused when exhausted, refilled by loading more."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from loyalty_engine.imports.context import import_services
from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP, SHOP
from tests.support.api import Reply, call, load_event
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_world import PROGRAM
from tests.support.imports import deliver, report, skipped_codes, upload

GENERATED = re.compile(r"^[0-9A-HJKMNP-TV-Z]{20}$")
VALID = "2018-08-01 00:00:00;2018-09-01 00:00:00"
EARN_COLUMNS = "reward_id;card_code;attribution_id;quantity;earn_date;validity_start_date;validity_end_date"
CATALOG_COLUMNS = (
    "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;validity_interval_type;"
    "forced_validity;is_limited;max_attribution_count;is_auto_generated;codes"
)


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


def voucher(**overrides: Any) -> dict[str, Any]:
    """The sample reward, its stock being the codes loaded for it."""
    body = json.loads(load_event("api_put_reward")["body"])
    return {**body, "max_attribution_count": None, "is_limited": False, "codes": "loaded", **overrides}


def put_voucher(external_id: str = "coffee", **overrides: Any) -> Reply:
    return call("api_put_reward", ADMIN, path={"external_id": external_id}, body=voucher(**overrides))


def load(codes: list[str], external_id: str = "coffee", caller=ADMIN) -> Reply:
    return call("api_load_reward_codes", caller, path={"external_id": external_id}, body={"codes": codes})


def stock(external_id: str = "coffee", **query: str) -> Reply:
    return call("api_list_reward_codes", ADMIN, path={"external_id": external_id}, query=query or None)


def buy(key: str, quantity: int = 1, reward_id: str = "coffee") -> Reply:
    return call(
        "api_buy_reward",
        SHOP,
        path={"card_code": CARD},
        body={"reward_id": reward_id, "quantity": quantity},
        headers={"Idempotency-Key": key},
    )


@pytest.fixture
def funded(member) -> dict:
    earned = call("api_earn_order", SHOP)
    assert earned.status == 201, earned.body
    return member


def codes(n: int, prefix: str = "CAFE") -> list[str]:
    return [f"{prefix}-{i:04d}" for i in range(1, n + 1)]


# --- API -------------------------------------------------------------------------------


def test_loaded_codes_go_out_in_load_order_never_twice(funded):
    assert put_voucher(nqp_value=10).status == 201
    loaded = load(codes(3))
    assert loaded.status == 200, loaded.body
    assert {k: loaded.body[k] for k in ("added", "already_loaded", "loaded", "handed_out", "left")} == {
        "added": 3,
        "already_loaded": 0,
        "loaded": 3,
        "handed_out": 0,
        "left": 3,
    }
    first = buy("b-1")
    assert (first.status, first.body["codes"]) == (201, ["CAFE-0001"])
    assert buy("b-1").body == first.body  # a replay hands out nothing more
    second = buy("b-2", quantity=2)
    assert (second.status, second.body["codes"]) == (201, ["CAFE-0002", "CAFE-0003"])
    owned = call("api_list_member_rewards", SHOP).body["attributions"]
    assert sorted(c for a in owned for c in a["codes"]) == codes(3)  # shown in the attribution view
    view = call("api_get_reward", SHOP, path={"external_id": "coffee"}).body
    assert (view["codes"], view["codes_loaded"], view["codes_left"], view["remaining"]) == ("loaded", 3, 0, 0)


def test_exhausted_stock_is_refused_then_refilled(funded):
    assert put_voucher(nqp_value=10).status == 201
    gone = buy("b-0")
    assert (gone.status, gone.body["code"]) == (409, "reward_codes_exhausted")
    assert load(codes(2)).status == 200
    assert buy("b-1", quantity=2).status == 201
    points = call("api_get_member", SHOP).body["balances"]["nq"]["available"]
    exhausted = buy("b-2")
    assert (exhausted.status, exhausted.body["code"]) == (409, "reward_codes_exhausted")
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == points  # nothing spent
    assert call("api_get_reward", SHOP, path={"external_id": "coffee"}).body["codes_left"] == 0
    refill = load([*codes(2), "NEW-1", "NEW-2"])  # the first two again: not added twice
    assert (refill.body["added"], refill.body["already_loaded"], refill.body["left"]) == (2, 2, 2)
    again = buy("b-3")
    assert (again.status, again.body["codes"]) == (201, ["NEW-1"])


def test_loading_is_idempotent_per_code(program):
    assert put_voucher().status == 201
    assert load(["A", "B", "A"]).body["added"] == 2  # twice in one call: once
    retried = load(["A", "B", "C"])
    assert (retried.body["added"], retried.body["already_loaded"], retried.body["loaded"]) == (1, 2, 3)
    listed = stock()
    assert listed.status == 200, listed.body
    assert (listed.body["remaining_codes"], listed.body["left"]) == (["A", "B", "C"], 3)


def test_the_stock_pages_through_the_remaining_codes(funded):
    assert put_voucher(nqp_value=1).status == 201
    assert load(codes(7)).status == 200
    assert buy("b-1", quantity=2).status == 201
    seen, cursor = [], None
    while True:
        page = stock(**({"limit": "2"} | ({"cursor": cursor} if cursor else {})))
        assert page.status == 200, page.body
        seen += page.body["remaining_codes"]
        cursor = page.body["next_cursor"]
        if not cursor:
            break
    assert seen == codes(7)[2:]
    bad = stock(cursor="Zm9v")
    assert (bad.status, bad.body["code"]) == (422, "invalid_cursor")


@pytest.mark.parametrize("position", ["SEQ#~", "SEQ#zzz", "SEQ#", "SEQ#-1", "SEQ#00000000000\u0661", "SEQ#1"])
def test_a_cursor_that_is_no_codes_position_is_refused(funded, position):
    """Under the prefix but not a code's position: "SEQ#~" sorts after the last code, and the
    read's range would end before it starts (DynamoDB refuses such a BETWEEN: a 500)."""
    assert put_voucher(nqp_value=1).status == 201
    assert load(codes(3)).status == 200
    crafted = base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")
    bad = stock(cursor=crafted)
    assert (bad.status, bad.body["code"]) == (422, "invalid_cursor"), bad.body
    assert stock().body["remaining_codes"] == codes(3)


@pytest.mark.parametrize(
    "bad",
    [
        [],
        ["with space"],
        ["tab\there"],
        ["nul\x00"],
        ["é"],
        ["x" * 65],
        [""],
        [f"C{i}" for i in range(501)],
        ["CAFE-0001\n"],  # a trailing line feed: `$` of re.match took it
    ],
)
def test_invalid_codes_are_refused_whole(program, bad):
    assert put_voucher().status == 201
    reply = load(bad)
    assert reply.status == 422, reply.body
    assert stock().body["loaded"] == 0


def test_codes_only_for_loaded_rewards_of_the_group_and_by_admins(program):
    assert put_voucher("gen", codes="generated", max_attribution_count=5).status == 201
    assert (load(["A"], "gen").status, load(["A"], "gen").body["code"]) == (409, "codes_not_loaded")
    assert (load(["A"], "nothing").status, load(["A"], "nothing").body["code"]) == (404, "reward_not_found")
    assert put_voucher().status == 201
    assert load(["A"], caller=SHOP).status == 403
    assert load(["A"], caller=OTHER_GROUP).status == 404
    assert stock().body["loaded"] == 0


def test_the_codes_setting_is_checked_and_fixed(program):
    auto = put_voucher(is_auto_generated=True)
    assert (auto.status, auto.body["code"]) == (422, "codes_conflict")
    counted = put_voucher(max_attribution_count=10)
    assert (counted.status, counted.body["code"]) == (422, "stock_with_loaded_codes")
    assert put_voucher().status == 201
    kept = put_voucher(codes=None, name="Renamed")  # null keeps the stored setting
    assert (kept.status, kept.body["codes"]) == (200, "loaded")
    changed = put_voucher(codes="generated", max_attribution_count=10)
    assert (changed.status, changed.body["code"]) == (409, "codes_setting_locked")


# --- files -----------------------------------------------------------------------------


def catalog_line(external_id: str, codes_setting: str = "loaded") -> str:
    return f"{external_id};Voucher;0;0;0;1;month;0;0;;0;{codes_setting}"


def test_a_rewardcode_file_loads_codes_and_earnreward_hands_them_out(world):
    world.enrol("CC0001", "CC0002")
    files = {
        # uploaded in reverse: the day applies masterreward, rewardcode, earnreward
        f"demo_earnreward_{PROGRAM}_20180801.csv": "\n".join(
            (
                EARN_COLUMNS,
                f"v;CC0001;E-1;2;;{VALID}",
                f"v;CC0002;E-2;1;;{VALID}",
                f"v;CC0001;E-3;1;;{VALID}",  # only 3 codes: exhausted
            )
        ),
        f"demo_rewardcode_{PROGRAM}_20180801.csv": "\n".join(
            (
                "external_id;code",
                "v;V-1",
                "v;V-2",
                "v;V-1",  # twice in the file
                "v;bad code",
                "nothing;V-9",
                "g;V-8",
                "v;V-3",
                "v;",
            )
        ),
        f"demo_masterreward_{PROGRAM}_20180801.csv": "\n".join(
            (
                CATALOG_COLUMNS,
                catalog_line("v"),
                catalog_line("g", "generated").replace(";;0;generated", ";5;0;"),
            )
        ),
    }
    keys = [upload(world.s3, name, text + "\n") for name, text in files.items()]
    assert deliver(*keys) == {"batchItemFailures": []}
    summary, skipped = report(world.s3, f"demo_rewardcode_{PROGRAM}_20180801.csv")
    assert (summary["applied"], summary["skipped"]) == (3, 5), skipped
    assert skipped_codes(skipped) == {
        4: "duplicate_code",
        5: "invalid_code",
        6: "unknown_reward",
        7: "codes_not_loaded",
        9: "missing_value",
    }
    summary, skipped = report(world.s3, f"demo_earnreward_{PROGRAM}_20180801.csv")
    assert skipped_codes(skipped) == {4: "reward_codes_exhausted"}
    assert "reward 'v' has 0 loaded codes left; the line asks 1: load more codes" in skipped
    owned = {
        a["attribution_id"]: a["codes"]
        for card in ("CC0001", "CC0002")
        for a in call("api_list_member_rewards", SHOP, path={"card_code": card}).body["attributions"]
    }
    assert owned == {"E-1": ["V-1", "V-2"], "E-2": ["V-3"]}
    view = call("api_get_reward", SHOP, path={"external_id": "v"}).body
    assert (view["codes_loaded"], view["codes_left"], view["attributed"]) == (3, 0, 3)

    # a refill by file, then the exhausted line again in a later file
    refill = upload(world.s3, f"demo_rewardcode_{PROGRAM}_20180802.csv", "external_id;code\nv;V-3\nv;V-4\n")
    world.at(world.clock.now.replace(day=2))
    later = upload(
        world.s3, f"demo_earnreward_{PROGRAM}_20180802.csv", f"{EARN_COLUMNS}\nv;CC0001;E-3;1;;{VALID}\n"
    )
    assert deliver(refill, later) == {"batchItemFailures": []}
    assert skipped_codes(report(world.s3, f"demo_rewardcode_{PROGRAM}_20180802.csv")[1]) == {
        2: "duplicate_code"
    }
    (e3,) = [
        a
        for a in call("api_list_member_rewards", SHOP, path={"card_code": "CC0001"}).body["attributions"]
        if a["attribution_id"] == "E-3"
    ]
    assert e3["codes"] == ["V-4"]


def test_a_masterreward_line_cannot_switch_the_codes_setting(world):
    master = f"demo_masterreward_{PROGRAM}_20180801.csv"
    day2 = f"demo_masterreward_{PROGRAM}_20180802.csv"
    assert deliver(upload(world.s3, master, f"{CATALOG_COLUMNS}\n{catalog_line('v')}\n")) == {
        "batchItemFailures": []
    }
    text = f"{CATALOG_COLUMNS}\nv;Voucher;0;0;0;1;month;0;1;5;0;generated\nv;Renamed;0;0;0;1;month;0;0;;0;\n"
    assert deliver(upload(world.s3, day2, text)) == {"batchItemFailures": []}
    assert skipped_codes(report(world.s3, day2)[1]) == {2: "codes_setting_locked"}
    view = call("api_get_reward", SHOP, path={"external_id": "v"}).body
    assert (view["name"], view["codes"]) == ("Renamed", "loaded")  # an empty cell keeps it


# --- cost of an earnreward line --------------------------------------------------------


@contextmanager
def counting() -> Iterator[Counter]:
    calls: Counter = Counter()
    client = import_services().rewards._client  # the importer's DynamoDB client

    def count(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-call.dynamodb", count)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-call.dynamodb", count)


LINES = 200
# DynamoDB requests of a 200-line earnreward file on main before this change (same test, the
# reward finite with units numbered `<external_id>-000001`...): measured once, kept here.
BEFORE = {
    "GetItem": 5,  # 4, + the quiet period's read of the group settings
    "PutItem": 6,  # 4, + the claim of the file's SHA-256 (duplicate uploads), + the job's place in the imports list
    "BatchGetItem": 5,
    "UpdateItem": 2,
    "BatchWriteItem": 9,
    "Query": 3,  # 2, + the read of the generated attribution ids for the .attributions.csv report
    "DeleteItem": 1,
}


def earn_file(world, loaded: bool) -> Counter:
    cards = [f"CC{n:04d}" for n in range(LINES)]
    world.enrol(*cards)
    columns, line = CATALOG_COLUMNS, catalog_line("v")
    if not loaded:  # the file a partner sent before `codes` existed
        columns, line = CATALOG_COLUMNS.removesuffix(";codes"), "v;Voucher;0;0;0;1;month;0;1;1000;0"
    deliver(upload(world.s3, f"demo_masterreward_{PROGRAM}_20180801.csv", f"{columns}\n{line}\n"))
    if loaded:
        text = "external_id;code\n" + "".join(f"v;CODE-{n:05d}\n" for n in range(LINES))
        deliver(upload(world.s3, f"demo_rewardcode_{PROGRAM}_20180801.csv", text))
    earn = "".join(f"v;{card};E-{n};1;;{VALID}\n" for n, card in enumerate(cards))
    key = upload(world.s3, f"demo_earnreward_{PROGRAM}_20180801.csv", f"{EARN_COLUMNS}\n{earn}")
    with counting() as calls:
        assert deliver(key) == {"batchItemFailures": []}
    assert report(world.s3, f"demo_earnreward_{PROGRAM}_20180801.csv")[0]["applied"] == LINES
    print(f"earnreward loaded={loaded}: {dict(calls)} = {sum(calls.values()) / LINES:.4f} requests per line")
    return calls


def test_generated_codes_cost_no_request_per_line(world):
    """Random codes take no claim item: the earnreward file costs exactly what it did before."""
    assert earn_file(world, loaded=False) == Counter(BEFORE)


def test_loaded_codes_cost_a_stock_read_and_a_batch_read_per_100_codes(world):
    calls = earn_file(world, loaded=True)
    extra = Counter(calls)
    extra.subtract(BEFORE)
    assert +extra == Counter({"BatchGetItem": 3})  # the stock counters (1), codes 1..200 (2)
