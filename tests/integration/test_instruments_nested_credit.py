"""Store credit of a series with a nested one (instruments.md: every number has exactly one
series): the credit's number is never one the nested series owns, as a batch's are not.
Through the API handler on moto."""

from __future__ import annotations

from loyalty_engine.instruments.batches import series_number
from loyalty_engine.instruments.context import instrument_services
from tests.support import instruments as inst
from tests.support.api import call

# the suite's store-credit series under prefix 60, and a gift card series nested in it
CREDIT = {**inst.SERIES[inst.CREDIT], "name": "Credit 60", "prefix": "60", "length": 10}
NESTED = {
    **CREDIT,
    "name": "Gift 601",
    "kind": "gift_card",
    "prefix": "601",
    "length": 16,
    "min_value": "5.00",
    "max_value": "500.00",
}


def test_store_credit_skips_the_numbers_of_a_nested_series(table):
    inst.build_world(series=())
    inst.ok(call("api_put_series", inst.ADMIN, path={"series_id": "c60"}, body=CREDIT))
    inst.ok(call("api_put_series", inst.ADMIN, path={"series_id": "g601"}, body=NESTED))
    series = instrument_services().series.series(inst.GROUP, "c60")
    assert series is not None
    # the first index whose number the nested series owns: the credits drawn up to it pass it
    owned = next(i for i in range(2000) if series_number(series, i).startswith("601"))
    numbers = []
    for n in range(owned + 1):
        body = {"return_id": f"R-{n}", "amount": "10.00", "currency": "EUR"}
        issued = inst.ok(call("api_issue_store_credit", inst.POS, path={"series_id": "c60"}, body=body))
        numbers.append(issued["instrument"]["number"])
    assert series_number(series, owned) not in numbers
    assert len(set(numbers)) == owned + 1 and not [n for n in numbers if n.startswith("601")]
    last = numbers[-1]
    looked = call("api_lookup_instrument", inst.POS, path={"number": last})
    assert (looked.status, looked.body["series_id"]) == (200, "c60"), looked.body
    assert inst.redeem(last, "PAY-1", "1.00").status == 201
