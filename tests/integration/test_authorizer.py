"""The REQUEST authorizer with the sample event, against keys stored on moto."""

from __future__ import annotations

import pytest

from loyalty_engine.access.caller import caller_from_context
from loyalty_engine.access.store import GroupStore
from loyalty_engine.access.use_cases import create_api_key
from loyalty_engine.cli import main
from loyalty_engine.handlers import authorizer
from loyalty_engine.kernel.dynamo import client
from tests.support.api import LambdaContext, load_event


def _authorize(token: str | None) -> dict:
    event = load_event("authorizer_request")
    event["headers"] = {} if token is None else {"authorization": f"Bearer {token}"}
    return authorizer.handler(event, LambdaContext())


@pytest.fixture
def store(table) -> GroupStore:
    return GroupStore(client(), table[1])


def test_valid_key_allows_the_api_and_carries_the_group(store):
    token = create_api_key(store, "demo", ["shop"], merchant_id="store-7")
    policy = _authorize(token)
    statement = policy["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == ["arn:aws:execute-api:eu-west-1:123456789012:abc123/api/*/*"]
    caller = caller_from_context(policy["context"])
    assert (caller.group_id, caller.scopes, caller.merchant_id) == ("demo", ("shop",), "store-7")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: None,
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret
        lambda t: t.replace("lk.demo.", "lk.demo-b."),  # the key claimed for another group
        lambda t: "garbage",
        lambda t: t.replace("lk.", "xx."),
    ],
    ids=["missing", "wrong-secret", "other-group", "garbage", "bad-prefix"],
)
def test_bad_keys_are_unauthorized(store, mangle):
    token = create_api_key(store, "demo", ["admin"])
    create_api_key(store, "demo-b", ["admin"])
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(mangle(token))


def test_only_the_hash_of_the_secret_is_stored(store, table):
    token = create_api_key(store, "demo", ["admin"])
    secret = token.split(".")[3]
    items = table[0].scan(TableName=table[1])["Items"]
    assert secret not in repr(items)
    assert {item["type"]["S"] for item in items} == {"group", "api_key"}


def test_cli_prints_a_working_key_once(table, capsys):
    assert main(["create-key", "--group", "acme", "--scope", "admin", "--name", "ops"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("lk.acme.") and "not shown again" in err
    assert caller_from_context(_authorize(token)["context"]).group_id == "acme"
