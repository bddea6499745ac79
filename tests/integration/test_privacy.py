"""Privacy (issue 16): export everything held about a customer or a member card, and erase the
personal data while balances and the ledger stay, through the real handlers on moto."""

from __future__ import annotations

import json
import zlib

import pytest

from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP, SHOP
from tests.support.api import call

CUSTOMER = "c-1001"
OTHER_CARD = "2990000000025"
SECRET_TEXTS = ("Ada", "Lovelace", "ada@example.com", "+33 1 23 45 67 89", "late delivery", "store manager")


@pytest.fixture
def subject(member) -> dict:
    """The sample card (earned, adjusted with a comment, VIP with a reason) and a second card,
    both linked to a customer with a name, e-mail and phone; the sample card was enrolled with a
    customer reference."""
    assert call("api_earn_order", SHOP).status == 201
    assert call("api_adjust_points", ADMIN).status == 201
    assert call("api_grant_vip_tier", ADMIN).status == 200
    assert call("api_enrol_member", SHOP, body={"card_code": OTHER_CARD}).status == 201
    customer = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+33 1 23 45 67 89",
    }
    assert call("api_put_customer", ADMIN, body={**customer, "customer_groups": []}).status == 201
    for card in (CARD, OTHER_CARD):
        reply = call(
            "api_link_card_customer", ADMIN, path={"card_code": card}, body={"customer_id": CUSTOMER}
        )
        assert reply.status == 200, reply.body
    return call("api_get_member", SHOP).body


def search(**query: str) -> list[str]:
    reply = call("api_search_members", ADMIN, query=query)
    assert reply.status == 200, reply.body
    return [item["card_code"] for item in reply.body["items"]]


def test_a_customer_export_holds_the_customer_its_cards_ledgers_and_audit(subject):
    reply = call("api_export_customer", ADMIN)
    assert reply.status == 200, reply.body
    export = reply.body
    assert export["subject"] == "customer"
    assert export["customer"]["email"] == "ada@example.com" and export["customer"]["erased"] is False
    assert sorted(m["member"]["card_code"] for m in export["members"]) == sorted([CARD, OTHER_CARD])
    sample = next(m for m in export["members"] if m["member"]["card_code"] == CARD)
    assert sample["member"]["balances"] == subject["balances"]
    assert sample["customer_id"] == CUSTOMER
    ledger = call("api_get_ledger", SHOP, query={"limit": "200"}).body["entries"]
    assert sample["ledger"] == ledger and len(ledger) == 2  # the earn and the adjustment
    assert sum(lot["points"] for lot in sample["lots"]) == sum(e["nq"] + e["q"] for e in ledger)
    assert [c["cause"] for c in sample["tier_history"]] == ["vip_grant"]
    assert sample["tier_history"][0]["reason"] == "store manager, Lyon"
    assert sample["adjustment_comments"] == {"adj-goodwill-1": "late delivery of order 1001"}
    # the audit log's records of the writes to the customer and its cards
    routes = {record["route"] for record in export["audit"]}
    assert {"/v1/customers/{customer_id}", "/v1/members/{card_code}/adjustments"} <= routes
    assert export["instruments"] == []


def test_a_member_export_holds_the_card_and_its_customer(subject):
    reply = call("api_export_member", ADMIN)
    assert reply.status == 200, reply.body
    export = reply.body
    assert export["subject"] == "member"
    assert [m["member"]["card_code"] for m in export["members"]] == [CARD]
    assert export["customer"]["customer_id"] == CUSTOMER
    assert sorted(export["links"]["card_codes"]) == sorted([CARD, OTHER_CARD])


def test_erasure_blanks_personal_data_keeps_balances_and_hides_from_search(subject):
    ledger_before = call("api_get_ledger", SHOP, query={"limit": "200"}).body
    assert search(email="ada@example.com") == [CARD, OTHER_CARD]
    reply = call("api_erase_customer", ADMIN)
    assert reply.status == 200, reply.body
    erased = reply.body
    assert erased["erased"] is True and erased["erased_at"]
    assert (erased["first_name"], erased["last_name"], erased["email"], erased["phone"]) == (None,) * 4
    # reads show it erased; nothing personal is left in any answer about the subject
    got = call("api_get_customer", ADMIN).body
    assert got["erased"] is True and got["email"] is None
    assert sorted(got["links"]["card_codes"]) == sorted([CARD, OTHER_CARD])
    export = json.dumps(call("api_export_customer", ADMIN).body)
    assert not [text for text in SECRET_TEXTS if text in export], export
    assert "CUST-1001" not in export  # the enrolment's customer reference
    timeline = json.dumps(call("api_get_timeline", ADMIN).body)
    assert not [text for text in SECRET_TEXTS if text in timeline]
    # balances, lots and the ledger's amounts are intact
    member = call("api_get_member", SHOP).body
    assert member["balances"] == subject["balances"] and member["customer_ref"] is None
    assert call("api_get_ledger", SHOP, query={"limit": "200"}).body == ledger_before
    # no filter finds the subject any more
    assert search(email="ada@example.com") == []
    assert search(customer_id=CUSTOMER) == []
    assert search(card_prefix="2990") == []
    # the erasure is in the audit log
    audit = call("api_list_audit", ADMIN, query={"object": f"customers/{CUSTOMER}"}).body["items"]
    erasures = [r for r in audit if r["route"] == "/v1/customers/{customer_id}/erasure"]
    assert [(r["status"], r["summary"]) for r in erasures] == [(200, "reason_code=subject_request")], audit


def test_erasure_is_idempotent_and_the_customer_cannot_be_stored_again(subject, table):
    first = call("api_erase_customer", ADMIN)
    assert first.status == 200, first.body
    dynamodb, name = table
    items = dynamodb.scan(TableName=name)["Items"]
    again = call("api_erase_customer", ADMIN)
    assert (again.status, again.body) == (200, first.body)
    assert dynamodb.scan(TableName=name)["Items"] == items or _same_but_audit(
        items, dynamodb.scan(TableName=name)["Items"]
    )
    member_first = call("api_erase_member", ADMIN)
    assert member_first.status == 200, member_first.body
    assert call("api_erase_member", ADMIN).body == member_first.body
    reply = call("api_put_customer", ADMIN, body={"first_name": "Ada", "customer_groups": []})
    assert (reply.status, reply.body["code"]) == (409, "customer_erased")
    # points still move on the erased card
    assert call("api_burn_points", SHOP).status == 201


def _same_but_audit(before: list[dict], after: list[dict]) -> bool:
    """The items but the audit log's (the second erasure is recorded too) did not change."""

    def kept(items: list[dict]) -> list[dict]:
        return sorted(
            (i for i in items if "#AUDIT" not in i["pk"]["S"]), key=lambda i: (i["pk"]["S"], i["sk"]["S"])
        )

    return kept(before) == kept(after)


def test_a_member_erasure_hides_the_card_and_blanks_its_free_text(subject):
    reply = call("api_erase_member", ADMIN, path={"card_code": CARD})
    assert reply.status == 200, reply.body
    assert reply.body["card_code"] == CARD and reply.body["erased"] is True
    assert search(card_prefix="2990") == [OTHER_CARD]
    # nor through its customer, which is not erased: by its e-mail or its id
    assert CARD not in search(email="ada@example.com") and CARD not in search(customer_id=CUSTOMER)
    export = call("api_export_member", ADMIN).body
    [data] = export["members"]
    assert data["erased_at"] and data["adjustment_comments"] == {"adj-goodwill-1": ""}
    assert data["tier_history"][0]["reason"] is None
    assert data["member"]["balances"] == subject["balances"]


def test_no_card_is_linked_to_an_erased_customer(subject, table):
    """A returning person is a new customer id: the erased one takes no new card."""
    assert call("api_erase_customer", ADMIN).status == 200
    assert call("api_enrol_member", SHOP, body={"card_code": "2990000000033"}).status == 201
    path = {"card_code": "2990000000033"}
    reply = call("api_link_card_customer", ADMIN, path=path, body={"customer_id": CUSTOMER})
    assert (reply.status, reply.body["code"]) == (409, "customer_erased"), reply.body
    from loyalty_engine.customers.store import CustomerStore
    from loyalty_engine.kernel.dynamo import client

    assert CustomerStore(client(), table[1]).card_link("demo", "2990000000033") is None


def test_privacy_routes_answer_404_for_unknown_subjects_and_other_groups(subject):
    for name in ("api_export_customer", "api_erase_customer", "api_export_member", "api_erase_member"):
        reply = call(name, OTHER_GROUP)
        assert reply.status == 404 and reply.body["code"] in ("customer_not_found", "member_not_found")
        assert call(name, SHOP).status == 403
    assert call("api_export_customer", ADMIN, path={"customer_id": "c-none"}).status == 404
    assert call("api_erase_member", ADMIN, path={"card_code": "2990000000999"}).status == 404
    assert call("api_get_customer", ADMIN).body["erased"] is False


def test_an_adjustment_made_during_an_erasure_is_blanked_too(subject, monkeypatch):
    """The card's records are blanked, then the card is marked under the version read: an
    adjustment committed in between moves the version, and the erasure blanks again."""
    from loyalty_engine.privacy.store import PrivacyStore

    blank = PrivacyStore.blank_member_records
    raced: list[int] = []

    def blank_then_race(self, group: str, card_code: str) -> int:
        count = blank(self, group, card_code)
        if not raced:
            headers = {"Idempotency-Key": "adj-during-erasure"}
            body = {"kind": "nq", "points": 5, "reason_code": "other", "comment": "typed during the erasure"}
            raced.append(call("api_adjust_points", ADMIN, body=body, headers=headers).status)
        return count

    monkeypatch.setattr(PrivacyStore, "blank_member_records", blank_then_race)
    reply = call("api_erase_member", ADMIN)
    assert reply.status == 200, reply.body
    assert raced == [201]
    comments = call("api_export_member", ADMIN).body["members"][0]["adjustment_comments"]
    assert comments == {"adj-goodwill-1": "", "adj-during-erasure": ""}
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == (
        subject["balances"]["nq"]["available"] + 5
    )


def test_an_erasure_needs_its_reason_code_and_changes_nothing_without(subject, table):
    dynamodb, name = table
    before = [i for i in dynamodb.scan(TableName=name)["Items"] if "#AUDIT" not in i["pk"]["S"]]
    for body in (None, {}, {"reason_code": "because"}, {"reason_code": "other", "extra": 1}):
        for event in ("api_erase_member", "api_erase_customer"):
            reply = call(event, ADMIN, body=body)
            assert (reply.status, reply.body["code"]) == (422, "validation_error"), (event, body, reply.body)
    after = [i for i in dynamodb.scan(TableName=name)["Items"] if "#AUDIT" not in i["pk"]["S"]]
    assert after == before


def test_a_generated_card_enrolment_replays_without_its_customer_reference_after_the_erasure(program, table):
    """The answer a generated-card enrolment keeps under its Idempotency-Key (in the group's
    partition) is blanked too; a replay of the same request still answers, the same card,
    without the reference."""
    headers = {"Idempotency-Key": "enrol-generated-1"}
    body = {"customer_ref": "CUST-SECRET-77"}
    first = call("api_enrol_member", SHOP, body=body, headers=headers)
    assert first.status == 201 and first.body["customer_ref"] == "CUST-SECRET-77", first.body
    card = first.body["card_code"]
    reply = call("api_erase_member", ADMIN, path={"card_code": card})
    assert reply.status == 200, reply.body
    replay = call("api_enrol_member", SHOP, body=body, headers=headers)
    assert replay.status == 201 and replay.body == {**first.body, "customer_ref": None}
    dynamodb, name = table
    assert "CUST-SECRET-77" not in _everything_stored(dynamodb, name)
    # the same key with another request is still refused: the fingerprint stays
    other = call("api_enrol_member", SHOP, body={"customer_ref": "someone else"}, headers=headers)
    assert other.status == 409, other.body
    again = call("api_erase_member", ADMIN, path={"card_code": card})
    assert again.body == reply.body


def test_a_customer_erasure_blanks_its_instruments_cancellation_reasons_and_keeps_their_amounts(
    subject, table
):
    from tests.support.instruments import CREDIT, POS, build_world, instrument_ledger, ok

    build_world(series=(CREDIT,))
    body = {"return_id": "R-PRIV-1", "amount": "19.90", "currency": "EUR", "customer_id": CUSTOMER}
    number = ok(call("api_issue_store_credit", POS, path={"series_id": CREDIT}, body=body))["instrument"][
        "number"
    ]
    cancellation = {"cancellation_id": "CS-PRIV-1", "reason": "Ada Lovelace says it was stolen"}
    cancelled = ok(call("api_cancel_instrument", ADMIN, path={"number": number}, body=cancellation))
    assert cancelled["entry"]["reason"] == cancellation["reason"]
    ledger_before = instrument_ledger(number)
    assert call("api_get_customer", ADMIN).body["links"]["instruments"] == [number]

    assert call("api_erase_customer", ADMIN).status == 200
    dynamodb, name = table
    assert "says it was stolen" not in _everything_stored(dynamodb, name)
    ledger_after = instrument_ledger(number)
    assert ledger_after == [{**entry, "reason": None} for entry in ledger_before]
    assert [e["amount"] for e in ledger_after] == [e["amount"] for e in ledger_before]
    # the cancellation replays, without the reason
    replay = ok(call("api_cancel_instrument", ADMIN, path={"number": number}, body=cancellation))
    assert replay == {**cancelled, "entry": {**cancelled["entry"], "reason": None}}


def _everything_stored(dynamodb, name: str) -> str:
    """Every item of the table as text, packed lot chunks (zlib, binary) unpacked."""
    items = dynamodb.scan(TableName=name)["Items"]
    return json.dumps(items, default=lambda value: zlib.decompress(value).decode())


def test_no_instrument_is_linked_to_an_erased_customer(subject, table):
    """Neither a gift card sold nor store credit issued takes an erased customer: 409, and
    nothing is written (the gift card stays unsold, the return unclaimed)."""
    from tests.support.instruments import CREDIT, GIFT, POS, build_world, issue, ok

    build_world(series=(GIFT, CREDIT))
    [number] = issue(GIFT, "B-PRIV", 1)
    assert call("api_erase_customer", ADMIN).status == 200
    dynamodb, name = table
    before = _everything_stored(dynamodb, name)
    body = {"activation_id": "A-PRIV-1", "value": "25.00", "customer_id": CUSTOMER}
    sold = call("api_activate_gift_card", POS, path={"number": number}, body=body)
    assert (sold.status, sold.body["code"]) == (409, "customer_erased"), sold.body
    credit = {"return_id": "R-PRIV-2", "amount": "5.00", "currency": "EUR", "customer_id": CUSTOMER}
    issued = call("api_issue_store_credit", POS, path={"series_id": CREDIT}, body=credit)
    assert (issued.status, issued.body["code"]) == (409, "customer_erased"), issued.body
    assert _everything_stored(dynamodb, name) == before
    # the same sale without the customer goes through
    del body["customer_id"]
    assert (
        ok(call("api_activate_gift_card", POS, path={"number": number}, body=body))["instrument"]["status"]
        == "active"
    )


def test_an_erasure_racing_a_sale_with_the_customer_wins(subject, table, monkeypatch):
    """The customer is erased between the sale's read and its commit: the commit's check on the
    customer fails, the sale reads again and is refused; no link is written."""
    from loyalty_engine.instruments.instrument_store import InstrumentStore
    from tests.support.instruments import GIFT, POS, build_world, issue

    build_world(series=(GIFT,))
    [number] = issue(GIFT, "B-RACE", 1)
    commit = InstrumentStore.commit
    raced: list[int] = []

    def erase_first(self, group, write, expected_version):
        if not raced:
            raced.append(1)
            assert call("api_erase_customer", ADMIN).status == 200
        return commit(self, group, write, expected_version)

    monkeypatch.setattr(InstrumentStore, "commit", erase_first)
    body = {"activation_id": "A-RACE-1", "value": "25.00", "customer_id": CUSTOMER}
    sold = call("api_activate_gift_card", POS, path={"number": number}, body=body)
    assert (sold.status, sold.body["code"]) == (409, "customer_erased"), sold.body
    assert raced and call("api_get_customer", ADMIN).body["links"]["instruments"] == []
