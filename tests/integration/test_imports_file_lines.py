"""Reward imports through S3, SQS and the real handler: what the lines do (masterreward values and
nulls, earn lines, limited stock) and the reports they leave."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from loyalty_engine.imports.context import import_services
from tests.integration.conftest import ADMIN, SHOP
from tests.support.api import call
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_files import (
    EARN,
    GENERATED,
    MASTER,
    VALID,
    add_program,
    attributions,
    catalog,
    earn,
    get_reward,
    lines,
    no_failures,
    reward,
    summary_of,
)
from tests.support.import_state import snapshot
from tests.support.import_world import PROGRAM, make_world
from tests.support.imports import (
    deliver,
    report,
    skipped_codes,
    upload,
)


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


# --- masterreward lines ----------------------------------------------------------------

FULL_COLUMNS = (
    "external_id;name;monetary;monetary_type;monetary_value;nqp_value;description;holding_days;"
    "validity_interval_count;validity_interval_type;forced_validity;is_limited;max_attribution_count;"
    "is_auto_generated;image_url;c0;c31"
)


@pytest.fixture
def erasing_world(table):
    """As `world`, with the group's setting `null_erases` on."""
    return make_world(null_erases=True)


def null_erasing_case(world, day: str) -> dict:
    first = lines(FULL_COLUMNS, "gift;Gift;1;value;5.50;100;A gift;0;2;weeks;0;1;10;0;http://img/1;red;blue")
    upload(world.s3, f"demo_masterreward_{PROGRAM}_20180801.csv", first)
    second = lines(
        FULL_COLUMNS,
        'gift;Gift 2;1;value;5.50;100;NULL;0;2;weeks;0;1;10;0;"";NULL;" NULL"',
        "other;Other;0;;;NULL;;0;1;day;0;1;1;0;;;",  # NULL in a mandatory column: skipped
    )
    key = upload(world.s3, f"demo_masterreward_{PROGRAM}_{day}.csv", second)
    no_failures(deliver(key))
    assert skipped_codes(report(world.s3, f"demo_masterreward_{PROGRAM}_{day}.csv")[1]) == {
        3: "missing_value"
    }
    return get_reward("gift")


def test_null_is_ignored_when_the_group_does_not_erase(world):
    gift = null_erasing_case(world, "20180802")
    assert gift["name"] == "Gift 2"
    assert gift["description"] == "A gift"  # NULL: kept
    assert gift["image_url"] == "http://img/1"  # "": kept
    assert gift["custom"] == {"c0": "red", "c31": " NULL"}  # " NULL" is text


def test_null_erases_when_the_group_says_so(erasing_world):
    gift = null_erasing_case(erasing_world, "20180802")
    assert gift["name"] == "Gift 2"
    assert gift["description"] is None  # NULL: erased
    assert gift["image_url"] == "http://img/1"  # "" never erases
    assert gift["custom"] == {"c31": " NULL"}


def test_master_values_intervals_validity_upsert_and_custom_columns(world):
    columns = FULL_COLUMNS + ";forced_validity_start;forced_validity_end"
    first = lines(
        columns,
        "a;A;0;;;1;;0;1;day;0;1;1;0;;;;;",
        "b;B;0;;;1;;0;2;Days;0;1;1;0;;;;;",
        "c;C;0;;;1;;0;3;WEEK;0;1;1;0;;;;;",
        "d;D;0;;;1;;0;4;Months;0;1;1;0;;;;;",
        "e;E;0;;;1;;0;5;year;0;1;1;0;;x;y;;",
        "f;F;0;;;1;;0;1;fortnight;0;1;1;0;;;;;",
        "g;G;0;;;1;;0;1;day;1;1;1;0;;;;2018-09-01;2018-10-01 12:30:00",
        "h;H;0;;;1;;0;1;day;1;1;1;0;;;;2018-09-01;",
        "i;I;1;percentage;150;1;;0;1;day;0;1;1;0;;;;;",
        "j;J;1;;;1;;0;1;day;0;1;1;0;;;;;",
    )
    key = upload(world.s3, MASTER, first)
    no_failures(deliver(key))
    assert skipped_codes(report(world.s3, MASTER)[1]) == {
        7: "invalid_interval_type",
        9: "forced_validity_incomplete",
        10: "invalid_value",
        11: "monetary_incomplete",
    }
    types = {r: get_reward(r)["validity_interval_type"] for r in "abcde"}
    assert types == {"a": "days", "b": "days", "c": "weeks", "d": "months", "e": "years"}
    g = get_reward("g")
    # date only: 00:00:00 GMT+1 = 23:00 UTC the day before
    assert (g["forced_validity_start"], g["forced_validity_end"]) == (
        "2018-08-31T23:00:00Z",
        "2018-10-01T11:30:00Z",
    )
    e = get_reward("e")
    assert e["custom"] == {"c0": "x", "c31": "y"}
    created = e["created_at"]

    world.at(datetime(2018, 8, 2, 9, 0, tzinfo=UTC))
    update = f"demo_masterreward_{PROGRAM}_20180802.csv"
    upload(world.s3, update, lines(columns, "e;E renamed;0;;;7;;0;5;year;0;1;1;0;;;z;;"))
    no_failures(deliver(f"incoming/demo/{update}"))
    e = get_reward("e")
    assert (e["name"], e["nqp_value"], e["custom"]) == ("E renamed", 7, {"c0": "x", "c31": "z"})
    assert e["created_at"] == created
    assert e["updated_at"] == "2018-08-02T09:00:00Z"
    (job,) = call("api_list_imports", ADMIN, query={"file": update}).body["imports"]
    assert e["updated_by"] == f"import:{job['import_id']}:2"
    assert len(call("api_list_rewards", SHOP, query={}).body["rewards"]) == 6  # a b c d e g


# --- earnreward lines ------------------------------------------------------------------


def test_earn_lines(world):
    world.enrol("CC0001", "CC0002")
    add_program("gold")
    world.enrol("GOLD0001", program="gold")
    upload(world.s3, MASTER, catalog(reward("auto", auto=True), reward("many")))
    name = EARN
    rows = [
        f"auto;CC0001;;2;;{VALID}",  # 2: generated attribution id and codes
        f"auto;CC0001;X-1;1;;{VALID}",  # 3: auto-generated rewards take no attribution_id
        f"many;CC0001;M-1;1;2018-07-31 23:59:59;{VALID}",  # 4: the day before (GMT+1)
        f"many;CC0001;M-2;1;2018-08-01 00:00:00;{VALID}",  # 5: the import day's first second
        f"many;CC0001;M-3;1;2018-08-05 10:00;{VALID}",  # 6: no seconds
        "many;CC0001;M-4;1;;2018-08-01;2018-09-01 00:00:00",  # 7: date only
        f"many;CC0001;M-2;1;;{VALID}",  # 8: same attribution id as line 5
        f"many;GOLD0001;M-5;1;;{VALID}",  # 9: a member of another program
        f"nope;CC0001;M-6;1;;{VALID}",  # 10
        f"many;CC0001;;1;;{VALID}",  # 11: not auto-generated: the id is needed
        f"many;CC0002;M-7;3;;{VALID}",  # 12
    ]
    key = upload(world.s3, name, earn(*rows))
    no_failures(deliver(key))

    summary, skipped = report(world.s3, name)
    assert skipped_codes(skipped) == {
        3: "attribution_id_not_allowed",
        4: "earn_date_in_past",
        6: "incomplete_datetime",
        7: "incomplete_datetime",
        8: "duplicate_attribution",
        9: "card_not_in_program",
        10: "unknown_reward",
        11: "missing_value",
    }
    assert (summary["lines_read"], summary["applied"], summary["skipped"]) == (11, 3, 8)
    messages = {int(r["line"]): r["message"] for r in csv.DictReader(io.StringIO(skipped), delimiter=";")}
    assert messages[4] == "earn_date 2018-07-31 23:59:59 is before the import day, 2018-08-01 (GMT+1)"
    owned = {a["attribution_id"]: a for a in attributions("CC0001") + attributions("CC0002")}
    (generated,) = [a for a in owned.values() if a["reward_id"] == "auto"]
    assert generated["attribution_id"].startswith("AG-") and generated["quantity"] == 2
    assert len(set(generated["codes"])) == 2
    assert owned["M-2"]["earned_at"] == "2018-07-31T23:00:00Z"
    assert (owned["M-2"]["valid_from"], owned["M-2"]["valid_until"]) == (
        "2018-07-31T23:00:00Z",
        "2018-08-31T23:00:00Z",
    )
    assert (len(owned["M-2"]["codes"]), owned["M-2"]["nqp_spent"]) == (1, 0)
    assert len(set(owned["M-7"]["codes"] + owned["M-2"]["codes"])) == 4
    assert all(GENERATED.match(code) for code in owned["M-7"]["codes"] + generated["codes"])
    assert (get_reward("many")["attributed"], get_reward("many")["remaining"]) == (4, 96)
    assert attributions("GOLD0001") == []

    # an attribution id already used by an earlier file
    again = f"demo_earnreward_{PROGRAM}_20180802.csv"
    upload(world.s3, again, earn(f"many;CC0002;M-2;1;;{VALID}", f"many;CC0002;M-9;1;;{VALID}"))
    no_failures(deliver(f"incoming/demo/{again}"))
    assert skipped_codes(report(world.s3, again)[1]) == {2: "duplicate_attribution"}
    assert owned["M-2"] == {a["attribution_id"]: a for a in attributions("CC0001")}["M-2"]


def test_a_limited_reward_gives_exactly_its_stock(world):
    world.enrol("CC0001", "CC0002")
    upload(world.s3, MASTER, catalog(reward("few", stock=3)))
    key = upload(world.s3, EARN, earn(*[f"few;CC000{1 + n % 2};F-{n};1;;{VALID}" for n in range(5)]))
    no_failures(deliver(key))
    summary, skipped = report(world.s3, EARN)
    assert skipped_codes(skipped) == {5: "out_of_stock", 6: "out_of_stock"}
    assert (summary["applied"], summary["skipped"]) == (3, 2)
    owned = attributions("CC0001") + attributions("CC0002")
    assert sorted((a["attribution_id"], len(a["codes"])) for a in owned) == [
        ("F-0", 1),
        ("F-1", 1),
        ("F-2", 1),
    ]
    assert len({a["codes"][0] for a in owned}) == 3
    few = get_reward("few")
    assert (few["attributed"], few["remaining"]) == (3, 0)


def test_a_limited_reward_stops_at_its_stock_once_units_were_taken(world):
    """As above, once the reward's stock counter exists (the first unit taken by an earlier file)."""
    world.enrol("CC0001", "CC0002")
    upload(world.s3, MASTER, catalog(reward("few", stock=3)))
    no_failures(deliver(upload(world.s3, EARN, earn(f"few;CC0001;F-0;1;;{VALID}"))))
    later = f"demo_earnreward_{PROGRAM}_20180802.csv"
    key = upload(world.s3, later, earn(*[f"few;CC000{1 + n % 2};F-{n};1;;{VALID}" for n in range(1, 5)]))
    no_failures(deliver(key))
    assert skipped_codes(report(world.s3, later)[1]) == {4: "out_of_stock", 5: "out_of_stock"}
    owned = attributions("CC0001") + attributions("CC0002")
    assert sorted((a["attribution_id"], len(a["codes"])) for a in owned) == [
        ("F-0", 1),
        ("F-1", 1),
        ("F-2", 1),
    ]
    assert len({a["codes"][0] for a in owned}) == 3
    few = get_reward("few")
    assert (few["attributed"], few["remaining"]) == (3, 0)


def test_units_a_line_could_not_use_stay_in_stock(world):
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("few", stock=4)))
    no_failures(deliver(upload(world.s3, EARN, earn(f"few;CC0001;F-0;1;;{VALID}"))))  # the counter exists
    later = f"demo_earnreward_{PROGRAM}_20180802.csv"
    key = upload(world.s3, later, earn(f"few;CC0001;F-1;2;;{VALID}", f"few;CC0001;F-2;2;;{VALID}"))
    no_failures(deliver(key))
    assert skipped_codes(report(world.s3, later)[1]) == {3: "out_of_stock"}
    assert sum(a["quantity"] for a in attributions("CC0001")) == 3
    few = get_reward("few")
    assert (few["attributed"], few["remaining"]) == (3, 1)


@pytest.mark.parametrize("chunk_lines", [3, 4_999])
def test_stock_running_out_serves_the_same_lines_wherever_chunks_begin(world, chunk_lines):
    """3 units for lines asking 2, 2, 1, 1: the first line takes 2, the second is refused (1 left),
    the third takes the last unit and the fourth is refused, as four buys through the API would
    be. Before, a refused line refused the reward's later lines of its chunk only: in one chunk
    lines 4 and 5 were refused with a unit left; in chunks of 3 lines, line 4 was refused and
    line 5, asking the same, got the unit."""
    import_services().chunk_lines = chunk_lines
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("few", stock=3)))
    rows = [f"few;CC0001;F-{n};{quantity};;{VALID}" for n, quantity in enumerate((2, 2, 1, 1))]
    no_failures(deliver(upload(world.s3, EARN, earn(*rows))))
    summary, skipped = report(world.s3, EARN)
    assert skipped_codes(skipped) == {3: "out_of_stock", 5: "out_of_stock"}
    assert (summary["applied"], summary["skipped"]) == (2, 2)
    assert sorted((a["attribution_id"], a["quantity"]) for a in attributions("CC0001")) == [
        ("F-0", 2),
        ("F-2", 1),
    ]
    few = get_reward("few")
    assert (few["attributed"], few["remaining"]) == (3, 0)


def test_an_unlimited_reward_made_limited_caps_the_total_attributed(world):
    """Units attributed while a reward was auto-generated and unlimited count against the limit
    it is given later: 4 attributed, then limited to 3, and nothing more is granted."""
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("u", auto=True)))
    rows = [f"u;CC0001;;1;;{VALID}" for _ in range(4)]
    no_failures(deliver(upload(world.s3, EARN, earn(*rows))))
    assert summary_of(world, EARN)["applied"] == 4
    unlimited = get_reward("u")
    assert (unlimited["attributed"], unlimited["remaining"]) == (4, None)

    day2 = f"demo_masterreward_{PROGRAM}_20180802.csv"
    no_failures(deliver(upload(world.s3, day2, catalog("u;Reward;0;10;0;1;month;0;1;3;1"))))
    assert summary_of(world, day2)["applied"] == 1
    limited = get_reward("u")
    assert (limited["attributed"], limited["remaining"]) == (4, 0)

    earn2 = f"demo_earnreward_{PROGRAM}_20180802.csv"
    no_failures(deliver(upload(world.s3, earn2, earn(*rows))))
    summary, skipped = report(world.s3, earn2)
    assert (summary["applied"], summary["skipped"]) == (0, 4)
    assert skipped_codes(skipped) == dict.fromkeys(range(2, 6), "out_of_stock")
    assert len(attributions("CC0001")) == 4
    final = get_reward("u")
    assert (final["attributed"], final["remaining"]) == (4, 0)


def test_an_unlimited_reward_counts_every_unit_once_over_chunks(world, monkeypatch):
    """One reservation per chunk counts an unlimited reward's units: 2-line chunks, quantities
    adding up to 7, attributed 7 (and the job's markers are removed when it ends)."""
    monkeypatch.setattr(import_services(), "chunk_lines", 2)
    world.enrol("CC0001", "CC0002")
    upload(world.s3, MASTER, catalog(reward("u", auto=True)))
    rows = [f"u;CC000{1 + n % 2};;{quantity};;{VALID}" for n, quantity in enumerate((1, 2, 1, 3))]
    no_failures(deliver(upload(world.s3, EARN, earn(*rows))))
    assert summary_of(world, EARN)["applied"] == 4
    assert sum(a["quantity"] for a in attributions("CC0001") + attributions("CC0002")) == 7
    assert (get_reward("u")["attributed"], get_reward("u")["remaining"]) == (7, None)
    (stock,) = snapshot()["stock"].values()
    assert stock["taken"] == 7 and not [name for name in stock if name[:3] in ("rc_", "pc_")]


def test_a_year_one_date_skips_the_line(world):
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("r")))
    key = upload(
        world.s3,
        EARN,
        earn("r;CC0001;Y-1;1;;0001-01-01 00:00:00;2018-09-01 00:00:00", f"r;CC0001;Y-2;1;;{VALID}"),
    )
    no_failures(deliver(key))
    assert skipped_codes(report(world.s3, EARN)[1]) == {2: "invalid_datetime"}


# --- reports ---------------------------------------------------------------------------


def test_report_cells_are_spreadsheet_safe_and_counts_add_up(world):
    rows = [
        '=HYPERLINK("http://evil");x',  # 2: starts with =
        "@SUM(A1);x",  # 3: starts with @
        "+1;x",  # 4
        "-1;x",  # 5
        "ok;Name;=1+1;10;0;1;month;0;1;5;0",  # 6: a bad flag holding a formula
        "\t=cmd;N;0;10;0;1;month;0;1;5;0",  # 7: tab then formula, otherwise valid: the id is odd but fine
        reward("fine"),  # 8
        "minus;-5;0;-10;0;1;month;0;1;5;0",  # 9: a negative integer
    ]
    key = upload(world.s3, MASTER, catalog(*rows))
    no_failures(deliver(key))

    summary, skipped = report(world.s3, MASTER)
    assert summary["lines_read"] == summary["applied"] + summary["skipped"] == len(rows)
    table = list(csv.reader(io.StringIO(skipped), delimiter=";"))
    assert table[0] == ["line", "reason_code", "field", "message", "raw_line"]
    by_line = {int(row[0]): row for row in table[1:]}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 9]
    assert len(by_line) == summary["skipped"]
    assert by_line[2][4] == "'" + rows[0]
    assert by_line[3][4] == "'" + rows[1]
    assert by_line[4][4] == "'" + rows[2]
    assert by_line[5][4] == "'" + rows[3]
    assert by_line[6][4] == rows[4]  # not a formula: "ok;..." (one quoted cell)
    assert "=1+1" in by_line[6][3]
    assert by_line[9][1] == "invalid_integer"
    for row in table:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    # every skipped line is there, none twice, in line order
    assert [int(row[0]) for row in table[1:]] == sorted(by_line)


def test_a_report_is_written_for_a_file_with_nothing_skipped(world):
    key = upload(world.s3, MASTER, catalog(reward("fine")))
    no_failures(deliver(key))
    summary, skipped = report(world.s3, MASTER)
    assert (summary["state"], summary["lines_read"], summary["applied"], summary["skipped"]) == (
        "completed",
        1,
        1,
        0,
    )
    assert skipped == "line;reason_code;field;message;raw_line\r\n"
