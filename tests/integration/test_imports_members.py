"""Member and VIP files through S3, SQS and the real handler: bulk enrolment for programs whose
card codes are imported, VIP grants and removals with their reason and source in the tier
history, the report's `unchanged` count, the order of a day's files, redeliveries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from loyalty_engine.imports.context import import_services
from tests.integration.conftest import ADMIN, SHOP, order_body
from tests.support.api import call
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_state import bucket_keys
from tests.support.import_world import PROGRAM
from tests.support.imports import deliver, report, skipped_codes, upload
from tests.support.member_files import CLUB, VIP_COLUMNS, VIPS, add_club, lines


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


DAY = "20180801"
MEMBERS = f"demo_member_{PROGRAM}_{DAY}.csv"
MEMBER_COLUMNS = "card_code;customer_ref;subscribed_at"


def no_failures(response: dict) -> None:
    assert response == {"batchItemFailures": []}


def member(card: str) -> dict:
    reply = call("api_get_member", SHOP, path={"card_code": card})
    assert reply.status == 200, reply.body
    return reply.body


def history(card: str) -> list[dict]:
    reply = call("api_get_tier_history", SHOP, path={"card_code": card}, query={"limit": "200"})
    assert reply.status == 200, reply.body
    return reply.body["changes"]


# --- member files ------------------------------------------------------------------------


def test_a_member_file_enrols_cards_and_reports_what_it_did(world):
    world.add_program("gold")
    world.enrol("CARD0006", program="gold")  # enrolled elsewhere
    world.enrol("CARD0005")  # enrolled through the API with the same values as its line
    rows = (
        "CARD0001;cust-1;2018-07-01 10:00:00",  # 2 applied
        "CARD0002;;",  # 3 applied: subscribed at the import's start
        "CARD0001;cust-1;2018-07-01 10:00:00",  # 4 unchanged: the same values
        "CARD0002;other;",  # 5 card_code_taken: other values
        "bad code!;;",  # 6 invalid_card_code
        ";x;",  # 7 missing_value
        "CARD0003;x;2018-13-01 10:00:00",  # 8 invalid_datetime
        "CARD0004;x",  # 9 column_count
        "CARD0005;;",  # 10 unchanged
        "CARD0006;;",  # 11 card_not_in_program
        f"CARD0007;{'r' * 129};",  # 12 too_long
        "CARD0008;;2018-07-02",  # 13 applied: a bare date is midnight GMT+1
    )
    key = upload(world.s3, MEMBERS, lines(MEMBER_COLUMNS, *rows))
    no_failures(deliver(key))

    summary, skipped = report(world.s3, MEMBERS)
    assert (summary["state"], summary["scope"], summary["subsection"]) == ("completed", "member", PROGRAM)
    assert (summary["lines_read"], summary["applied"], summary["unchanged"], summary["skipped"]) == (
        12,
        3,
        2,
        7,
    )
    assert skipped_codes(skipped) == {
        5: "card_code_taken",
        6: "invalid_card_code",
        7: "missing_value",
        8: "invalid_datetime",
        9: "column_count",
        11: "card_not_in_program",
        12: "too_long",
    }
    first = member("CARD0001")
    assert (first["program_id"], first["customer_ref"], first["subscribed_at"]) == (
        PROGRAM,
        "cust-1",
        "2018-07-01T09:00:00Z",  # GMT+1 in the file, UTC stored
    )
    assert member("CARD0002")["subscribed_at"] == "2018-08-01T09:00:00Z"
    assert member("CARD0002")["customer_ref"] is None
    assert member("CARD0008")["subscribed_at"] == "2018-07-01T23:00:00Z"
    assert member("CARD0006")["program_id"] == "gold"
    for card in ("CARD0003", "CARD0004", "CARD0007"):
        assert call("api_get_member", SHOP, path={"card_code": card}).status == 404

    # the import's view counts the unchanged lines too
    (job,) = call("api_list_imports", ADMIN, query={"file": MEMBERS}).body["imports"]
    assert job["progress"] == {
        "lines_total": 12,
        "lines_read": 12,
        "applied": 3,
        "skipped": 7,
        "unchanged": 2,
    }
    # the API's enrolment with the line's values replays the import's enrolment
    again = call("api_enrol_member", SHOP, path={"program_id": PROGRAM}, body={"card_code": "CARD0002"})
    assert (again.status, again.body["card_code"]) == (201, "CARD0002")

    # the same notification again: the completed import is not applied again
    no_failures(deliver(key))
    assert report(world.s3, MEMBERS) == (summary, skipped)
    # the same lines in the next day's file: nothing new, the enrolled cards are unchanged
    next_day = f"demo_member_{PROGRAM}_20180802.csv"
    no_failures(deliver(upload(world.s3, next_day, lines(MEMBER_COLUMNS, *rows))))
    later, later_skipped = report(world.s3, next_day)
    assert (later["applied"], later["unchanged"], later["skipped"]) == (0, 5, 7)
    assert skipped_codes(later_skipped) == skipped_codes(skipped)


def test_a_program_with_generated_card_codes_refuses_the_whole_member_file(world):
    add_club(world, generation="auto", program_id="auto-club")
    name = f"demo_member_auto-club_{DAY}.csv"
    no_failures(deliver(upload(world.s3, name, lines(MEMBER_COLUMNS, "2990000000017;;", "2990000000025;;"))))
    summary, skipped = report(world.s3, name)
    assert summary["state"] == "rejected"
    assert summary["rejection"]["code"] == "card_codes_generated"
    assert (summary["applied"], summary["unchanged"], summary["skipped"]) == (0, 0, 0)
    assert skipped_codes(skipped) == {}
    assert call("api_get_member", SHOP, path={"card_code": "2990000000017"}).status == 404
    assert bucket_keys(world.s3, "incoming/") == []


def test_a_member_file_with_an_unknown_column_is_refused(world):
    no_failures(deliver(upload(world.s3, MEMBERS, lines("card_code;vip_tier", "CARD0001;staff"))))
    summary, _ = report(world.s3, MEMBERS)
    assert (summary["state"], summary["rejection"]["code"]) == ("rejected", "unknown_column")
    assert call("api_get_member", SHOP, path={"card_code": "CARD0001"}).status == 404


# --- vip files ---------------------------------------------------------------------------


def test_a_vip_file_grants_and_removes_vip_tiers_with_reason_and_source(world):
    add_club(world)
    world.enrol("2990000000017", "2990000000025", "2990000000033", program=CLUB)
    world.enrol("CARD0009")  # in program silver
    one, two, three = "2990000000017", "2990000000025", "2990000000033"
    rows = (
        f"{one};staff;grant;employee",  # 2 applied
        f"{two};staff;grant;",  # 3 missing_value: a grant says why
        f"{one};staff;GRANT;again",  # 4 unchanged (the action in any case)
        "2990000000991;staff;grant;x",  # 5 unknown_card
        f"{two};gold-club;grant;x",  # 6 unknown_vip_tier
        f"{two};staff;promote;x",  # 7 invalid_action
        f"{three};staff;grant;manager",  # 8 applied
        f"{three};staff;remove;left the company",  # 9 applied
        "CARD0009;staff;grant;x",  # 10 card_not_in_program
        f"{two};staff;remove;",  # 11 unchanged: not held, no reason needed
        f"{two};Not A Tier;grant;x",  # 12 unknown_vip_tier
        f"{two};gold-club;remove;",  # 13 unknown_vip_tier
    )
    world.at(datetime(2018, 8, 1, 9, 30, tzinfo=UTC))
    no_failures(deliver(upload(world.s3, VIPS, lines(VIP_COLUMNS, *rows))))

    summary, skipped = report(world.s3, VIPS)
    assert (summary["state"], summary["scope"]) == ("completed", "vip")
    assert (summary["lines_read"], summary["applied"], summary["unchanged"], summary["skipped"]) == (
        12,
        3,
        2,
        7,
    )
    assert skipped_codes(skipped) == {
        3: "missing_value",
        5: "unknown_card",
        6: "unknown_vip_tier",
        7: "invalid_action",
        10: "card_not_in_program",
        12: "unknown_vip_tier",
        13: "unknown_vip_tier",
    }
    import_id = summary["import_id"]
    assert member(one)["vip_tiers"] == ["staff"]
    assert member(two)["vip_tiers"] == [] and history(two) == []
    assert member(three)["vip_tiers"] == []
    (granted,) = history(one)
    assert granted | {"q_points": None} == {
        "at": "2018-08-01T09:30:00Z",
        "cause": "vip_grant",
        "previous_tier": {"rank": 1, "name": "Blue"},
        "new_tier": {"rank": 1, "name": "Blue"},
        "vip_tier": "staff",
        "vip_tiers": ["staff"],
        "reason": "employee",
        "q_points": None,
        "run": None,
        "member_version": 1,
        "source": "import",
        "import_line": f"import:{import_id}:2",
    }
    removed, first = history(three)  # newest first
    assert (first["cause"], first["reason"], first["import_line"]) == (
        "vip_grant",
        "manager",
        f"import:{import_id}:8",
    )
    assert (removed["cause"], removed["reason"], removed["source"], removed["vip_tiers"]) == (
        "vip_remove",
        "left the company",
        "import",
        [],
    )

    # the VIP multiplier applies to the next earn: staff NQ x2 over Blue's x1
    world.at(datetime(2018, 8, 1, 11, 0, tzinfo=UTC))
    for card, expected in ((one, 2000), (three, 1000)):
        body = order_body(
            order_id=f"VIP-{card}", amount="100.00", ordered_at="2018-08-01T10:00:00Z", lines=[]
        )
        earned = call("api_earn_order", SHOP, path={"card_code": card}, body=body)
        assert earned.status == 201, earned.body
        assert earned.body["earned"]["nq"] == expected

    # the API removes what the file granted; its history entry says so
    removed_by_api = call(
        "api_remove_vip_tier", ADMIN, path={"card_code": one, "vip_tier": "staff"}, query={"reason": "left"}
    )
    assert removed_by_api.status == 200, removed_by_api.body
    assert [(c["cause"], c["source"]) for c in history(one)] == [
        ("vip_remove", "api"),
        ("vip_grant", "import"),
    ]


def test_a_days_member_file_applies_before_its_vip_file(world):
    """Notified first or in one batch, the VIP file of a day waits for the day's member file."""
    add_club(world)
    members = f"demo_member_{CLUB}_{DAY}.csv"
    vip_key = upload(world.s3, VIPS, lines(VIP_COLUMNS, "2990000000041;staff;grant;founder"))
    member_key = upload(world.s3, members, lines(MEMBER_COLUMNS, "2990000000041;founder;"))
    no_failures(deliver(vip_key))
    vip_summary, _ = report(world.s3, VIPS)
    member_summary, _ = report(world.s3, members)
    assert (member_summary["applied"], vip_summary["applied"], vip_summary["skipped"]) == (1, 1, 0)
    assert member("2990000000041")["vip_tiers"] == ["staff"]
    assert member("2990000000041")["tier"]["name"] == "Blue"  # a new member of a tiered program
    no_failures(deliver(member_key, vip_key))  # late notifications change nothing
    assert report(world.s3, VIPS)[0] == vip_summary


class Crash(RuntimeError):
    """The import function dies here."""


@pytest.mark.parametrize("crash_at", range(1, 8))  # a clean run commits 2 members and 5 VIP lines
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_replays_member_and_vip_lines_as_they_were_counted(world, crash_at, when):
    """A chunk cut short by a crash is applied again: its lines count as they did, even a VIP
    line whose state a later line of the file changed since (grant, grant again, remove)."""
    add_club(world)
    card = "2990000000058"
    members = f"demo_member_{CLUB}_{DAY}.csv"
    import_services().chunk_lines = 3
    upload(
        world.s3, members, lines(MEMBER_COLUMNS, f"{card};a;", f"{card};a;", "2990000000066;;", f"{card};b;")
    )
    vip_key = upload(
        world.s3,
        VIPS,
        lines(
            VIP_COLUMNS,
            f"{card};staff;grant;first",
            f"{card};staff;grant;twice",
            f"{card};staff;remove;",
            f"{card};staff;remove;",
            f"{card};staff;grant;back",
        ),
    )
    svc = import_services()
    original = svc.members.commit
    calls = {"n": 0}

    def commit(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == crash_at:
            calls["crashed"] = 1
        if calls["n"] == crash_at and when == "before":
            raise Crash(f"before commit {crash_at}")
        original(*args, **kwargs)
        if calls["n"] == crash_at and when == "after":
            raise Crash(f"after commit {crash_at}")

    svc.members.commit = commit  # type: ignore[method-assign]
    try:
        for _ in range(5):
            try:
                response = deliver(vip_key)
            except BatchProcessingError:  # the batch's only message failed
                continue
            if response == {"batchItemFailures": []} and not bucket_keys(world.s3, "incoming/"):
                break
        else:
            pytest.fail("the import never settled")
    finally:
        del svc.members.commit
    assert calls.get("crashed") == 1
    member_summary, member_skipped = report(world.s3, members)
    vip_summary, _ = report(world.s3, VIPS)
    assert (member_summary["applied"], member_summary["unchanged"], member_summary["skipped"]) == (2, 1, 1)
    assert skipped_codes(member_skipped) == {5: "card_code_taken"}
    assert (vip_summary["applied"], vip_summary["unchanged"], vip_summary["skipped"]) == (3, 2, 0)
    assert [(c["cause"], c["reason"]) for c in reversed(history(card))] == [
        ("vip_grant", "first"),
        ("vip_remove", None),
        ("vip_grant", "back"),
    ]
    assert member(card)["vip_tiers"] == ["staff"] and member(card)["customer_ref"] == "a"
