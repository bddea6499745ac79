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
        lambda t: t.rsplit(".", 1)[0] + ".\ud800",  # a lone surrogate: cannot be hashed
        lambda t: t.rsplit(".", 1)[0] + ".caf\u00e9",
        lambda t: t.rsplit(".", 1)[0] + ".",
        lambda t: t.replace("lk.demo.", "lk.demo\n."),
    ],
    ids=[
        "missing",
        "wrong-secret",
        "other-group",
        "garbage",
        "bad-prefix",
        "surrogate-secret",
        "non-ascii-secret",
        "empty-secret",
        "group-with-newline",
    ],
)
def test_bad_keys_are_unauthorized(store, mangle):
    token = create_api_key(store, "demo", ["admin"])
    create_api_key(store, "demo-b", ["admin"])
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(mangle(token))


@pytest.mark.parametrize("value", [5, ["Bearer x"], {"a": 1}])
def test_an_authorization_value_that_is_not_text_is_unauthorized(store, value):
    event = load_event("authorizer_request")
    event["headers"] = {"authorization": value}
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(event, LambdaContext())


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
