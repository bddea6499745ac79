"""`GET /v1/customers?email=`: a customer-service agent finds the customers a person's e-mail
belongs to (a customer with no card included), through the real handler on moto."""

from __future__ import annotations

from tests.integration.conftest import ADMIN, OTHER_GROUP, SHOP
from tests.support.api import Reply, call


def save(customer_id: str, email: str | None, caller=ADMIN) -> None:
    body = {"first_name": customer_id, "customer_groups": []} | ({"email": email} if email else {})
    reply = call("api_put_customer", caller, path={"customer_id": customer_id}, body=body)
    assert reply.status in (200, 201), reply.body


def by_email(email: str, caller=ADMIN, **query: str) -> Reply:
    return call("api_list_customers", caller, query={"email": email, **query})


def ids(reply: Reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [c["customer_id"] for c in reply.body["customers"]]


def test_the_customers_with_an_email_are_found_whatever_its_case_and_spaces(table):
    save("c-2", "Ada@Example.com")
    save("c-1", "ada@example.com")
    save("c-3", "bob@example.com")
    save("c-4", None)
    assert ids(by_email("ada@example.com")) == ["c-1", "c-2"]  # no card needed, id order
    assert ids(by_email(" ADA@example.COM ")) == ["c-1", "c-2"]
    assert ids(by_email("nobody@example.com")) == []
    found = by_email("bob@example.com").body["customers"][0]
    assert (found["first_name"], found["email"]) == ("c-3", "bob@example.com")


def test_the_email_search_pages_and_keeps_its_own_cursor(table):
    for n in range(3):
        save(f"c-{n}", "ada@example.com")
    first = by_email("ada@example.com", limit="2")
    assert ids(first) == ["c-0", "c-1"] and first.body["next_cursor"]
    second = by_email("ada@example.com", limit="2", cursor=first.body["next_cursor"])
    assert ids(second) == ["c-2"]
    # a cursor of another e-mail's search, or of the plain list, is refused (422), not followed
    save("d-1", "dan@example.com")
    save("d-2", "dan@example.com")
    dans = by_email("dan@example.com", limit="1").body["next_cursor"]
    assert by_email("ada@example.com", cursor=dans).status == 422
    plain = call("api_list_customers", ADMIN, query={"limit": "1"}).body["next_cursor"]
    assert by_email("ada@example.com", cursor=plain).status == 422


def test_a_changed_or_erased_email_is_not_found_under_the_old_one(table):
    save("c-1", "old@example.com")
    save("c-1", "new@example.com")
    assert ids(by_email("old@example.com")) == []
    assert ids(by_email("new@example.com")) == ["c-1"]
    erased = call("api_erase_customer", ADMIN, path={"customer_id": "c-1"}, body={"reason_code": "other"})
    assert erased.status == 200, erased.body
    assert ids(by_email("new@example.com")) == []


def test_the_email_search_is_the_callers_group_only_and_for_admin_keys(table):
    save("c-1", "ada@example.com")
    save("o-1", "ada@example.com", caller=OTHER_GROUP)
    assert ids(by_email("ada@example.com")) == ["c-1"]
    assert ids(by_email("ada@example.com", caller=OTHER_GROUP)) == ["o-1"]
    assert by_email("ada@example.com", caller=SHOP).status == 403


def test_a_value_that_is_not_an_email_is_refused(table):
    for bad in ("", "ada", "a b@example.com", "x" * 250 + "@example.com"):
        reply = by_email(bad)
        assert reply.status == 422, (bad, reply.body)
        assert reply.body["details"][0]["field"] == "email", reply.body
