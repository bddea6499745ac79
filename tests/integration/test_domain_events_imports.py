"""Domain events of partner files and instruments, through the real handlers on moto."""

from __future__ import annotations

import pytest

from tests.support.api import call
from tests.support.events import EventCapture
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_world import PROGRAM
from tests.support.imports import deliver, upload
from tests.support.instruments import ADMIN, CREDIT, GIFT, POS, build_world, issue, ok, redeem, reverse, sell

MEMBERS = f"demo_member_{PROGRAM}_20180801.csv"


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


@pytest.fixture
def bus(table) -> EventCapture:
    return EventCapture(table[1])


def test_a_member_file_enrols_and_completes_with_its_counts(bus, world) -> None:
    bus.drain()
    rows = "card_code;customer_ref;subscribed_at\nCARD0001;c-1;2018-07-01 10:00:00\nCARD0002;;\nbad code!;;\n"
    assert deliver(upload(world.s3, MEMBERS, rows)) == {"batchItemFailures": []}
    enrolled = bus.details("member.enrolled")
    assert sorted(event["card_code"] for event in enrolled) == ["CARD0001", "CARD0002"]
    (completed,) = bus.details("import.completed")
    assert (completed["file_name"], completed["scope"]) == (MEMBERS, "member")
    assert (completed["counts"]["applied"], completed["counts"]["skipped"]) == (2, 1)
    assert completed["report"]["summary_key"].startswith(f"reports/demo/{MEMBERS}/")
    assert bus.details("import.rejected") == []


def test_a_refused_file_is_one_rejected_event(bus, world) -> None:
    assert deliver(upload(world.s3, MEMBERS, "card_code;vip_tier\nCARD0001;staff\n")) == {
        "batchItemFailures": []
    }
    (rejected,) = bus.details("import.rejected")
    assert (rejected["state"], rejected["code"]) == ("rejected", "unknown_column")
    assert bus.details("import.completed") == [] and bus.details("member.enrolled") == []


def test_a_gift_card_issued_sold_redeemed_reversed_cancelled(bus, table) -> None:
    build_world(series=(GIFT,))
    (number,) = issue(GIFT, "B-1", 1)
    issued = bus.details("instrument.issued")
    assert [(e["number"], e["batch_id"]) for e in issued] == [(number, "B-1")]
    (ready,) = bus.details("batch.ready")
    assert (ready["batch_id"], ready["count"], ready["issued"]) == ("B-1", 1, 1)
    ok(sell(number, "100.00", "SALE-1"))
    activated = bus.details("instrument.activated")
    assert [(e["amount_cents"], e["balance_after_cents"]) for e in activated] == [(10000, 10000)]
    ok(redeem(number, "RED-1", "30.00"))
    (redeemed,) = bus.details("instrument.redeemed")
    assert (redeemed["amount_cents"], redeemed["balance_after_cents"], redeemed["reference"]) == (
        -3000,
        7000,
        "RED-1",
    )
    ok(reverse(number, "RED-1", "REV-1", "10.00"))
    (reversed_,) = bus.details("instrument.reversed")
    assert (reversed_["amount_cents"], reversed_["reverses"]) == (1000, "RED-1")
    ok(call("api_cancel_instrument", ADMIN, path={"number": number}), 201)
    (cancelled,) = bus.details("instrument.cancelled")
    assert cancelled["reason"] == "reported lost by its holder" and cancelled["status_after"] == "cancelled"


def test_store_credit_issued_on_a_return(bus, table) -> None:
    build_world(series=(CREDIT,))
    credit = ok(call("api_issue_store_credit", POS, path={"series_id": CREDIT}))
    (issued,) = bus.details("store_credit.issued")
    assert issued["number"] == credit["instrument"]["number"]
    assert (issued["amount_cents"], issued["balance_after_cents"], issued["reference"]) == (
        1990,
        1990,
        "R-2026-0001",
    )
    assert bus.details("instrument.issued") == []


def test_a_vip_file_grants_and_removes_with_the_files_line(bus, world) -> None:
    from tests.support.member_files import CLUB, VIP_COLUMNS, VIPS, add_club, lines

    add_club(world)
    world.enrol("2990000000017", program=CLUB)
    rows = ("2990000000017;staff;grant;employee", "2990000000017;staff;remove;left")
    assert deliver(upload(world.s3, VIPS, lines(VIP_COLUMNS, *rows))) == {"batchItemFailures": []}
    (granted,) = bus.details("vip.granted")
    (removed,) = bus.details("vip.removed")
    assert (granted["source"], granted["reason"], granted["import_line"].endswith(":2")) == (
        "import",
        "employee",
        True,
    )
    assert (removed["vip_tiers"], removed["import_line"].endswith(":3")) == ([], True)
    (completed,) = bus.details("import.completed")
    assert (completed["scope"], completed["counts"]["applied"]) == ("vip", 2)


def test_reward_files_attribute_and_burn_once_per_line(bus, world) -> None:
    from tests.support.import_files import upload_day

    assert deliver(*upload_day(world)) == {"batchItemFailures": []}
    attributed = bus.details("reward.attributed")
    assert sorted((e["reward_id"], e["card_code"], e["quantity"]) for e in attributed) == [
        ("coffee", "CC0001", 2),
        ("tea", "CC0002", 1),
    ]
    assert all(e["source"].startswith("import:") and e["nqp_spent"] == 0 for e in attributed)
    burned = bus.details("reward.burned")
    assert [(e["attribution_id"], e["burned"], e["remaining"]) for e in burned] == [
        ("A-1", 1, 1),
        ("A-1", 2, 0),
    ]
    assert len(bus.details("import.completed")) == 3
