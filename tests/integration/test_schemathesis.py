"""Property-based API tests: schemathesis against the local gateway with docs/openapi.json.

Every documented operation gets explicit examples aimed at seeded data (one program, one
member with an order; a merchant group, a merchant, a gift card series with a batch, a sold
and partly spent gift card, a store credit series, a customer group and a customer) and
generated requests, valid and invalid, half of them pointed at the seeded ids, all with the
demo group's admin key, but for the point-of-sale routes: a shop key bound to the seeded
till (a merchant of the seeded group). Checks: no 5xx, status codes documented, responses
conform to their documented schemas. The seeded series hold 10,000 numbers each, so that no
generated batch count can make the background batch issuer write more. Explicit examples are
built before the fixtures run: path values known only then (LATER) are filled in at the call. The
seeded ids and bodies: tests/support/schemathesis_data.py.

The regression tests at the end pin what this test once found: success responses
missing from the document, a multipart body without a boundary, and date-times with no
UTC equivalent (both used to crash the function instead of answering 4xx).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from local_stack.stack import LocalStack
from loyalty_engine.access.store import GroupStore
from loyalty_engine.access.use_cases import create_api_key
from tests.support.schemathesis_data import (
    BATCH_ID,
    CARD_CODE,
    CREDIT_SERIES,
    CREDIT_SERIES_ID,
    CUSTOMER,
    CUSTOMER_GROUP_ID,
    CUSTOMER_ID,
    DOCUMENT,
    EXAMPLE_BODIES,
    LATER,
    MERCHANT,
    MERCHANT_GROUP_ID,
    MERCHANT_ID,
    ORDER,
    POS_OPERATIONS,
    PROGRAM,
    PROGRAM_ID,
    REDEMPTION_ID,
    REWARD,
    REWARD_ID,
    SEEDED,
    SEEDED_FOR,
    SERIES,
    SERIES_ID,
    TILL_ID,
    TIMEOUT,
)

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)


def _no_domain_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every record of the table's stream taken and dropped: no domain event is published."""
    return {"batchItemFailures": []}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # The thousands of writes of this module would become thousands of domain events in the
    # webhooks' queue, whose poller fell behind on a busy machine (3,920 waiting), and moto's
    # SQS works in proportion to a queue's backlog (`local_stack/moto_queues.py`), so every
    # request of the stack slowed. Nothing here looks at events: none is published; the
    # events' and webhooks' own tests cover publishing and the fan-out.
    handlers = {"EventsPublisher": _no_domain_events}
    with LocalStack.start(
        state_file=tmp_path_factory.mktemp("local") / "stack.json", handlers=handlers
    ) as running:
        yield running


@pytest.fixture(scope="module")
def auth(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.keys['demo']['admin']}"}


@pytest.fixture(scope="module")
def pos_auth(stack: LocalStack) -> dict[str, str]:
    """A shop key of demo bound to the seeded till."""
    store = GroupStore(stack.client("dynamodb"), stack.table_name)
    return {"Authorization": f"Bearer {create_api_key(store, 'demo', ('shop',), merchant_id=TILL_ID)}"}


def _seed_instruments(stack: LocalStack, auth: dict[str, str], pos_auth: dict[str, str]) -> None:
    """Two merchants (one the till) in their group, the two series, a batch (its numbers from its
    CSV export), one card sold and partly spent at the till, a customer in its group."""
    base = stack.api_url
    admin_writes = [
        (f"/v1/merchant-groups/{MERCHANT_GROUP_ID}", {"name": "Stores"}),
        (f"/v1/merchants/{MERCHANT_ID}", MERCHANT),
        (f"/v1/merchants/{TILL_ID}", {**MERCHANT, "name": "Schemathesis till", "store_id": "ST-TILL"}),
        (f"/v1/series/{SERIES_ID}", SERIES),
        (f"/v1/series/{CREDIT_SERIES_ID}", CREDIT_SERIES),
        (f"/v1/customer-groups/{CUSTOMER_GROUP_ID}", {"name": "VIP customers"}),
        (f"/v1/customers/{CUSTOMER_ID}", CUSTOMER),
    ]
    for path, body in admin_writes:
        answer = requests.put(base + path, json=body, headers=auth, timeout=TIMEOUT)
        assert answer.status_code == 201, (path, answer.text)
    batch = requests.post(
        f"{base}/v1/series/{SERIES_ID}/batches",
        json={"batch_id": BATCH_ID, "count": 3},
        headers=auth,
        timeout=TIMEOUT,
    )
    assert batch.status_code == 201, batch.text
    bucket, _, key = batch.json()["export"].removeprefix("s3://").partition("/")
    text = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    number, spare, *_ = (row["number"] for row in csv.DictReader(io.StringIO(text)))
    SEEDED["number"] = number
    SEEDED_FOR[("POST", "/v1/instruments/{number}/cancellations")]["number"] = spare
    card = f"{base}/v1/instruments/{number}"
    sold = requests.post(
        f"{card}/activations",
        json={"activation_id": "st-sale-1", "value": "50.00"},
        headers=pos_auth,
        timeout=TIMEOUT,
    )
    paid = requests.post(
        f"{card}/redemptions",
        json={"redemption_id": REDEMPTION_ID, "amount": "20.00"},
        headers=pos_auth,
        timeout=TIMEOUT,
    )
    assert (sold.status_code, paid.status_code) == (201, 201), (sold.text, paid.text)
    assert paid.json()["instrument"]["balance"] == "30.00"


@pytest.fixture(scope="module")
def seeded(stack: LocalStack, auth: dict[str, str], pos_auth: dict[str, str]) -> None:
    """One program and one member with one order, so that requests can hit real data."""
    base = stack.api_url
    answers = [
        requests.put(f"{base}/v1/programs/{PROGRAM_ID}", json=PROGRAM, headers=auth, timeout=TIMEOUT),
        requests.post(
            f"{base}/v1/programs/{PROGRAM_ID}/members",
            json={"card_code": CARD_CODE},
            headers=auth,
            timeout=TIMEOUT,
        ),
        requests.post(f"{base}/v1/members/{CARD_CODE}/orders", json=ORDER, headers=auth, timeout=TIMEOUT),
    ]
    assert [answer.status_code for answer in answers] == [201, 201, 201], [a.text for a in answers]
    reward = requests.put(f"{base}/v1/rewards/{REWARD_ID}", json=REWARD, headers=auth, timeout=TIMEOUT)
    bought = requests.post(
        f"{base}/v1/members/{CARD_CODE}/rewards",
        json={"reward_id": REWARD_ID},
        headers=auth | {"Idempotency-Key": "st-buy-1"},
        timeout=TIMEOUT,
    )
    assert (reward.status_code, bought.status_code) == (201, 201), (reward.text, bought.text)
    SEEDED["attribution_id"] = bought.json()["attribution_id"]
    # a spare key of demo for the key routes (never the key the requests are made with)
    spare = create_api_key(GroupStore(stack.client("dynamodb"), stack.table_name), "demo", ("shop",))
    SEEDED["key_id"] = spare.split(".")[2]
    hook = requests.post(
        f"{base}/v1/webhooks",
        json={"url": "https://hooks.example.com/st", "kinds": ["points.earned"], "enabled": False},
        headers=auth | {"Idempotency-Key": "st-hook-1"},
        timeout=TIMEOUT,
    )
    assert hook.status_code == 201, hook.text
    SEEDED["subscription_id"] = hook.json()["subscription_id"]
    _seed_instruments(stack, auth, pos_auth)


def _seeded_for(method: str, path: str) -> dict[str, str]:
    return {**SEEDED, **SEEDED_FOR.get((method.upper(), path), {})}


@SCHEMA.hook
def before_add_examples(context: schemathesis.HookContext, examples: list[schemathesis.Case]) -> None:
    operation = context.operation
    if operation is None:
        return
    seeded = _seeded_for(operation.method, operation.path)
    parameters = {name: value for name, value in seeded.items() if "{" + name + "}" in operation.path}
    if operation.method.upper() in ("GET", "DELETE"):
        examples.append(operation.Case(path_parameters=parameters))
    for body in EXAMPLE_BODIES.get((operation.method.upper(), operation.path), []):
        examples.append(operation.Case(path_parameters=parameters, body=body, media_type="application/json"))


@SCHEMA.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    # Half of the generated requests address the seeded program, member and order (and the
    # seeded merchant, series, card and customer).
    if not path_parameters:
        return st.just(path_parameters)
    operation = context.operation
    seeded = _seeded_for(operation.method, operation.path) if operation is not None else SEEDED
    real = {name: seeded.get(name, value) for name, value in path_parameters.items()}
    return st.sampled_from([path_parameters, real])


@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(
    case: schemathesis.Case, stack: LocalStack, auth: dict[str, str], pos_auth: dict[str, str], seeded: None
) -> None:
    if case.path_parameters:
        seeded = _seeded_for(case.operation.method, case.operation.path)
        case.path_parameters = {
            name: seeded[name] if value == LATER else value for name, value in case.path_parameters.items()
        }
    pos = (case.operation.method.upper(), case.operation.path) in POS_OPERATIONS
    # A request waits for moto, which serves one AWS call at a time (the background batch issuer's
    # and the stream publisher's included): TIMEOUT, not schemathesis's default of 10 s.
    headers = pos_auth if pos else auth
    case.call_and_validate(base_url=stack.api_url, headers=headers, checks=CHECKS, timeout=TIMEOUT)


# ---------------------------------------------------------------- regressions


def test_every_operation_documents_its_success_responses() -> None:
    expected = {
        ("put", "/v1/programs/{program_id}"): {"200", "201"},
        ("get", "/v1/programs/{program_id}"): {"200"},
        ("get", "/v1/programs"): {"200"},
        ("post", "/v1/programs/{program_id}/members"): {"201"},
        ("get", "/v1/members/{card_code}"): {"200"},
        ("post", "/v1/members/{card_code}/orders"): {"201"},
        ("post", "/v1/members/{card_code}/orders/{order_id}/returns"): {"201"},
        ("post", "/v1/members/{card_code}/burns"): {"201"},
        ("get", "/v1/members/{card_code}/ledger"): {"200"},
        ("put", "/v1/members/{card_code}/vip-tiers/{vip_tier}"): {"200"},
        ("delete", "/v1/members/{card_code}/vip-tiers/{vip_tier}"): {"200"},
        ("get", "/v1/members/{card_code}/tier-history"): {"200"},
        ("get", "/v1/group/settings"): {"200"},
        ("put", "/v1/group/settings"): {"200"},
        ("put", "/v1/merchant-groups/{merchant_group_id}"): {"200", "201"},
        ("get", "/v1/merchant-groups/{merchant_group_id}"): {"200"},
        ("get", "/v1/merchant-groups"): {"200"},
        ("put", "/v1/merchants/{merchant_id}"): {"200", "201"},
        ("get", "/v1/merchants/{merchant_id}"): {"200"},
        ("get", "/v1/merchants"): {"200"},
        ("put", "/v1/series/{series_id}"): {"200", "201"},
        ("get", "/v1/series/{series_id}"): {"200"},
        ("get", "/v1/series"): {"200"},
        ("post", "/v1/series/{series_id}/batches"): {"201", "202"},
        ("get", "/v1/series/{series_id}/batches"): {"200"},
        ("get", "/v1/series/{series_id}/batches/{batch_id}"): {"200"},
        ("post", "/v1/series/{series_id}/store-credits"): {"201"},
        ("post", "/v1/instruments/{number}/activations"): {"201"},
        ("post", "/v1/instruments/{number}/redemptions"): {"201"},
        ("post", "/v1/instruments/{number}/redemptions/{redemption_id}/reversals"): {"201"},
        ("get", "/v1/instruments/{number}"): {"200"},
        ("get", "/v1/instruments/{number}/ledger"): {"200"},
        ("post", "/v1/instruments/{number}/cancellations"): {"201"},
        ("put", "/v1/customer-groups/{customer_group_id}"): {"200", "201"},
        ("get", "/v1/customer-groups/{customer_group_id}"): {"200"},
        ("get", "/v1/customer-groups"): {"200"},
        ("put", "/v1/customers/{customer_id}"): {"200", "201"},
        ("get", "/v1/customers/{customer_id}"): {"200"},
        ("get", "/v1/customers"): {"200"},
        ("put", "/v1/members/{card_code}/customer"): {"200"},
        ("post", "/v1/api-keys"): {"200", "201"},
        ("get", "/v1/api-keys"): {"200"},
        ("get", "/v1/api-keys/{key_id}"): {"200"},
        ("post", "/v1/api-keys/{key_id}/rotations"): {"200", "201"},
        ("delete", "/v1/api-keys/{key_id}"): {"200"},
        ("post", "/v1/webhooks"): {"200", "201"},
        ("get", "/v1/webhooks"): {"200"},
        ("get", "/v1/webhooks/{subscription_id}"): {"200"},
        ("put", "/v1/webhooks/{subscription_id}"): {"200"},
        ("delete", "/v1/webhooks/{subscription_id}"): {"200"},
        ("post", "/v1/webhooks/{subscription_id}/secret-rotations"): {"200", "201"},
        ("get", "/v1/webhooks/{subscription_id}/deliveries"): {"200"},
        ("post", "/v1/webhooks/{subscription_id}/deliveries/{event_id}/redeliveries"): {"202"},
    }
    for (method, path), statuses in expected.items():
        declared = DOCUMENT["paths"][path][method]["responses"]
        assert statuses <= set(declared), (method, path)
        for status in statuses:
            assert declared[status]["content"]["application/json"]["schema"]["$ref"].startswith(
                "#/components/schemas/"
            )
        assert declared["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }


@pytest.mark.parametrize("content_type", ["multipart/form-data", "text/plain"])
def test_a_body_that_is_not_json_is_415(
    stack: LocalStack, auth: dict[str, str], seeded: None, content_type: str
) -> None:
    response = requests.post(
        f"{stack.api_url}/v1/members/{CARD_CODE}/burns",
        data=json.dumps({"burn_id": "st-burn-mp", "points": 1}),
        headers={**auth, "Content-Type": content_type},
        timeout=TIMEOUT,
    )
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"/v1/members/{CARD_CODE}/orders", {**ORDER, "ordered_at": "0001-01-01T00:00:01+09:00"}),
        ("PUT", "/v1/programs/st-overflow", {**PROGRAM, "starts_at": "9999-12-31T23:00:00-02:00"}),
        ("POST", f"/v1/programs/{PROGRAM_ID}/members", {"subscribed_at": "0001-01-01T00:00:00+01:00"}),
    ],
    ids=["order ordered_at", "program starts_at", "member subscribed_at"],
)
def test_out_of_range_date_times_are_422(
    stack: LocalStack, auth: dict[str, str], seeded: None, method: str, path: str, body: dict[str, Any]
) -> None:
    response = requests.request(method, stack.api_url + path, json=body, headers=auth, timeout=TIMEOUT)
    assert response.status_code == 422, (response.status_code, response.text)
    assert response.json()["code"] == "validation_error"
