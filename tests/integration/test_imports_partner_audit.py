"""A partner's files audited again: values a partner writes that the seed or DOMAIN.md say how
to read (integers out of bounds, a VIP tier's case, a store id, NULL in `codes`, a stock run
out). Through the importer on moto, as a partner's upload arrives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integration.conftest import ADMIN, SHOP
from tests.support.api import call
from tests.support.import_files import (
    BURN,
    CATALOG_COLUMNS,
    EARN,
    EARN_COLUMNS,
    MASTER,
    VALID,
    attributions,
    catalog,
    earn,
    get_reward,
    reward,
)
from tests.support.import_world import PROGRAM, make_world
from tests.support.imports import deliver, report, skipped_codes, upload
from tests.support.member_files import CLUB, VIP_COLUMNS, VIPS, add_club, lines

DAY2 = f"demo_masterreward_{PROGRAM}_20180802.csv"


@pytest.fixture
def erasing_world(table):
    """As `world`, with the group's setting `null_erases` on."""
    return make_world(null_erases=True)


def test_an_integer_out_of_its_bounds_is_invalid_integer_whichever_bound(world):
    """0 and 1201 in validity_interval_count are the same kind of error: one reason code."""
    rows = (
        "low;N;0;10;0;0;month;0;1;5;0",  # validity_interval_count below 1
        "high;N;0;10;0;1201;month;0;1;5;0",  # above 1200
        "hold;N;0;10;36501;1;month;0;1;5;0",  # holding_days above 36,500
        "nqp;N;0;1000000000001;0;1;month;0;1;5;0",  # nqp_value above 10^12
        "stock;N;0;10;0;1;month;0;1;1000000001;0",  # max_attribution_count above 10^9
        "neg;N;0;-1;0;1;month;0;1;5;0",  # a negative nqp_value
        reward("fine"),
    )
    assert deliver(upload(world.s3, MASTER, catalog(*rows))) == {"batchItemFailures": []}
    summary, skipped = report(world.s3, MASTER)
    assert (summary["applied"], summary["skipped"]) == (1, 6), summary
    assert skipped_codes(skipped) == {line: "invalid_integer" for line in range(2, 8)}
    assert "1200" in skipped  # the message says the bound


def test_a_vip_tier_is_found_whatever_the_case_the_partner_wrote_it_in(world):
    """VIP tier names are lower-case slugs: `Staff` or `STAFF` can only mean `staff`."""
    add_club(world)
    one, two = "2990000000017", "2990000000025"
    world.enrol(one, two, program=CLUB)
    rows = (
        f"{one};Staff;grant;employee",  # 2 applied
        f"{two};STAFF;grant;manager",  # 3 applied
        f"{two};staff;grant;again",  # 4 unchanged: held already
        f"{one};Gold-Club;grant;x",  # 5 unknown_vip_tier
    )
    assert deliver(upload(world.s3, VIPS, lines(VIP_COLUMNS, *rows))) == {"batchItemFailures": []}
    summary, skipped = report(world.s3, VIPS)
    assert (summary["applied"], summary["unchanged"], summary["skipped"]) == (2, 1, 1), summary
    assert skipped_codes(skipped) == {5: "unknown_vip_tier"}
    for card in (one, two):
        assert call("api_get_member", SHOP, path={"card_code": card}).body["vip_tiers"] == ["staff"]


def test_null_in_codes_keeps_the_rewards_codes_when_null_erases_is_on(erasing_world):
    """`codes` is fixed once the reward exists: NULL (a partner's export writes it in every
    empty cell) cannot erase it; the line updates the rest, as an empty cell or the API's null."""
    world = erasing_world
    columns = CATALOG_COLUMNS + ";codes"
    first = lines(columns, "vouchers;Voucher;0;10;0;1;month;0;0;;0;loaded", reward("gift") + ";")
    assert deliver(upload(world.s3, MASTER, first)) == {"batchItemFailures": []}
    update = lines(
        columns,
        "vouchers;Voucher 2;0;10;0;1;month;0;0;NULL;0;NULL",
        "gift;Gift 2;0;10;0;1;month;0;1;100;0;NULL",
    )
    assert deliver(upload(world.s3, DAY2, update)) == {"batchItemFailures": []}
    summary, skipped = report(world.s3, DAY2)
    assert (summary["applied"], summary["skipped"]) == (2, 0), skipped
    assert (get_reward("vouchers")["name"], get_reward("vouchers")["codes"]) == ("Voucher 2", "loaded")
    assert (get_reward("gift")["name"], get_reward("gift")["codes"]) == ("Gift 2", "generated")


def test_a_store_id_is_trimmed_and_one_with_a_control_character_skips_its_line(world):
    """As the API's store_id (one line of text): a quoted cell holding a line break or a tab is
    not a store; spaces around it are a spreadsheet's, as around any other cell."""
    world.enrol("CC0001")
    deliver(upload(world.s3, MASTER, catalog(reward("r"))))
    earned = lines(
        EARN_COLUMNS + ";store_id",
        f"r;CC0001;A-1;1;;{VALID}; S1 ",  # 2 applied, store S1
        f'r;CC0001;A-2;1;;{VALID};"S\n2"',  # 3-4 invalid_value: a line break
        f"r;CC0001;A-3;1;;{VALID};S\t3",  # 5 invalid_value: a tab
        f"r;CC0001;A-4;2;;{VALID};",  # 6 applied, no store
    )
    assert deliver(upload(world.s3, EARN, earned)) == {"batchItemFailures": []}
    _, skipped = report(world.s3, EARN)
    assert skipped_codes(skipped) == {3: "invalid_value", 5: "invalid_value"}, skipped
    stores = {a["attribution_id"]: a["store_id"] for a in attributions("CC0001")}
    assert stores == {"A-1": "S1", "A-4": None}
    burned = lines(
        "card_code;attribution_id;burn_date;store_id",
        "CC0001;A-4;2018-08-01 10:00:00;S\x019",  # 2 invalid_value
        "CC0001;A-4;2018-08-01 10:00:00; S9",  # 3 applied, store S9
    )
    world.at(datetime(2018, 8, 1, 12, 0, tzinfo=UTC))
    assert deliver(upload(world.s3, BURN, burned)) == {"batchItemFailures": []}
    _, skipped = report(world.s3, BURN)
    assert skipped_codes(skipped) == {2: "invalid_value"}, skipped
    (a4,) = [a for a in attributions("CC0001") if a["attribution_id"] == "A-4"]
    assert [b["store_id"] for b in a4["burns"]] == ["S9"]


def messages(skipped_csv: str) -> dict[int, str]:
    import csv
    import io

    return {int(row[0]): row[3] for row in list(csv.reader(io.StringIO(skipped_csv), delimiter=";"))[1:]}


def test_an_out_of_stock_line_says_which_reward_and_how_many_units_were_left(world):
    world.enrol("CC0001")
    deliver(upload(world.s3, MASTER, catalog(reward("r", stock=3), reward("big", stock=5))))
    rows = (
        f"r;CC0001;A-1;2;;{VALID}",  # 2 applied: 1 left
        f"r;CC0001;A-2;2;;{VALID}",  # 3 out_of_stock: 1 left, asks 2
        f"r;CC0001;A-3;1;;{VALID}",  # 4 applied: 0 left
        f"r;CC0001;A-4;1;;{VALID}",  # 5 out_of_stock: 0 left
        f"big;CC0001;A-5;6;;{VALID}",  # 6 out_of_stock: more than its whole stock
    )
    assert deliver(upload(world.s3, EARN, earn(*rows))) == {"batchItemFailures": []}
    _, skipped = report(world.s3, EARN)
    assert skipped_codes(skipped) == dict.fromkeys((3, 5, 6), "out_of_stock")
    said = messages(skipped)
    assert said[3] == "reward 'r' has 1 unit left; the line asks 2", said
    assert said[5] == "reward 'r' has 0 units left; the line asks 1", said
    assert said[6] == "reward 'big' has 5 units in all; the line asks 6", said
    # the day after, the stock read again: nothing left of r, 5 of big
    world.at(datetime(2018, 8, 2, 9, 0, tzinfo=UTC))
    later = f"demo_earnreward_{PROGRAM}_20180802.csv"
    rows = (f"r;CC0001;B-1;1;;{VALID}", f"big;CC0001;B-2;5;;{VALID}", f"big;CC0001;B-3;1;;{VALID}")
    assert deliver(upload(world.s3, later, earn(*rows))) == {"batchItemFailures": []}
    _, skipped = report(world.s3, later)
    assert messages(skipped) == {
        2: "reward 'r' has 0 units left; the line asks 1",
        4: "reward 'big' has 0 units left; the line asks 1",
    }


def attributions_report(world, name: str) -> list[list[str]]:
    import csv
    import io

    from tests.support.imports import BUCKET

    summary, _ = report(world.s3, name)
    body = world.s3.get_object(Bucket=BUCKET, Key=summary["attributions_report"])["Body"].read().decode()
    return list(csv.reader(io.StringIO(body), delimiter=";"))


def test_an_earnreward_report_lists_the_attribution_ids_it_generated_so_they_can_be_burned(world):
    """An auto-generated reward's line leaves attribution_id empty (seed 002): the partner needs
    the id we made to reconcile its lines and to burn the reward by file."""
    world.enrol("CC0001", "CC0002")
    deliver(upload(world.s3, MASTER, catalog(reward("tea", auto=True), reward("coffee"))))
    rows = (
        f"tea;CC0001;;1;;{VALID}",  # 2 generated
        f"coffee;CC0001;C-1;1;;{VALID}",  # 3 the partner's own id: not listed
        f"tea;CC9999;;1;;{VALID}",  # 4 unknown_card: not listed
        f"tea;CC0002;;2;;{VALID}",  # 5 generated
    )
    assert deliver(upload(world.s3, EARN, earn(*rows))) == {"batchItemFailures": []}
    table = attributions_report(world, EARN)
    assert table[0] == ["line", "attribution_id", "reward_id", "card_code"]
    owned = {a["attribution_id"]: a for card in ("CC0001", "CC0002") for a in attributions(card)}
    assert [(row[0], row[2], row[3]) for row in table[1:]] == [("2", "tea", "CC0001"), ("5", "tea", "CC0002")]
    for _line, attribution_id, reward_id, card in table[1:]:
        assert attribution_id.startswith("AG-")
        assert (owned[attribution_id]["reward_id"], owned[attribution_id]["card_code"]) == (reward_id, card)
    # the partner burns the first by file with the id the report gave
    world.at(datetime(2018, 8, 1, 12, 0, tzinfo=UTC))
    burned = lines("card_code;attribution_id", f"CC0001;{table[1][1]}")
    assert deliver(upload(world.s3, BURN, burned)) == {"batchItemFailures": []}
    summary, _ = report(world.s3, BURN)
    assert (summary["applied"], summary["skipped"]) == (1, 0)
    assert summary["attributions_report"] is None  # burn files generate nothing
    links = call("api_get_import_report", ADMIN, path={"import_id": report(world.s3, EARN)[0]["import_id"]})
    assert links.status == 200 and links.body["attributions_url"], links.body
    links = call("api_get_import_report", ADMIN, path={"import_id": summary["import_id"]})
    assert links.status == 200 and links.body["attributions_url"] is None, links.body


def test_one_line_values_with_a_tab_or_a_line_break_skip_their_line_as_the_api_refuses_them(world):
    """A line's context, customer_ref, VIP reason and custom values are one line of text, as
    the API's (422 `invalid_character` there): a quoted cell holding a line break, or a tab,
    skips the line (`invalid_value`); the other lines apply."""
    world.enrol("CC0001")
    catalog_lines = lines(
        CATALOG_COLUMNS + ";c0",
        reward("r") + ";plain",  # 2 applied
        reward("t") + ';"two\nlines"',  # 3-4 skipped: a line break in a custom value
    )
    assert deliver(upload(world.s3, MASTER, catalog_lines)) == {"batchItemFailures": []}
    _, skipped = report(world.s3, MASTER)
    assert set(skipped_codes(skipped).values()) == {"invalid_value"}, skipped
    assert get_reward("r")["custom"] == {"c0": "plain"}
    earned = lines(
        EARN_COLUMNS + ";context",
        f"r;CC0001;A-1;1;;{VALID};web shop",  # 2 applied
        f"r;CC0001;A-2;1;;{VALID};web\tshop",  # 3 invalid_value: a tab
        f'r;CC0001;A-3;1;;{VALID};"web\r\nshop"',  # 4-5 invalid_value: a line break
    )
    assert deliver(upload(world.s3, EARN, earned)) == {"batchItemFailures": []}
    _, skipped = report(world.s3, EARN)
    assert skipped_codes(skipped) == {3: "invalid_value", 4: "invalid_value"}, skipped
    assert [a["attribution_id"] for a in attributions("CC0001")] == ["A-1"]
    members = f"demo_member_{PROGRAM}_20180801.csv"
    rows = ("CARD0001;cust-1;", 'CARD0002;"cust\n2";', "CARD0003;cust\t3;")  # 2 applied, 3-4, 5
    assert deliver(upload(world.s3, members, lines("card_code;customer_ref;subscribed_at", *rows))) == {
        "batchItemFailures": []
    }
    _, skipped = report(world.s3, members)
    assert skipped_codes(skipped) == {3: "invalid_value", 5: "invalid_value"}, skipped
    assert call("api_get_member", SHOP, path={"card_code": "CARD0002"}).status == 404
    add_club(world)
    world.enrol("2990000000017", "2990000000025", program=CLUB)
    vips = ("2990000000017;staff;grant;shop\tmanager", "2990000000025;staff;grant;manager")
    assert deliver(upload(world.s3, VIPS, lines(VIP_COLUMNS, *vips))) == {"batchItemFailures": []}
    summary, skipped = report(world.s3, VIPS)
    assert skipped_codes(skipped) == {2: "invalid_value"}, skipped
    assert summary["applied"] == 1
