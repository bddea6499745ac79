"""API keys over the API (admin): create, list, read, rotate with grace, revoke, expiry, through
the real API handler and the real authorizer handler on moto, with the clock injected."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from loyalty_engine.access.caller import authorizer_context, caller_from_context
from loyalty_engine.access.models import Caller
from loyalty_engine.handlers import api, authorizer
from tests.integration.conftest import ADMIN, OTHER_GROUP
from tests.support.api import LambdaContext, call, load_event
from tests.support.clock import FakeClock

BODY = {"name": "web shop", "scopes": ["shop"]}


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def keys_clock(clock: FakeClock, monkeypatch) -> FakeClock:
    """One clock for the API and the authorizer."""
    monkeypatch.setattr(authorizer, "clock", clock)
    return clock


def authorize(token: str) -> Caller:
    """The caller the real authorizer handler makes of a token (raises on refusal)."""
    event = load_event("authorizer_request")
    event["headers"] = {"authorization": f"Bearer {token}"}
    return caller_from_context(authorizer.handler(event, LambdaContext())["context"])


def refused(token: str) -> bool:
    try:
        authorize(token)
    except Exception as error:
        assert str(error) == "Unauthorized"
        return True
    return False


def create(caller: Caller = ADMIN, body: dict | None = None, key: str = "k-1"):
    return call("api_create_api_key", caller, body=body or BODY, headers={"Idempotency-Key": key})


def test_create_shows_the_token_once_and_a_retry_mints_no_second_key(keys_clock):
    first = create()
    assert first.status == 201, first.body
    token = first.body["api_key"]
    assert token.startswith(f"lk.demo.{first.body['key_id']}.")
    assert first.body["status"] == "active" and first.body["scopes"] == ["shop"]
    caller = authorize(token)
    assert (caller.group_id, caller.key_id, caller.scopes) == ("demo", first.body["key_id"], ("shop",))
    again = create()
    assert again.status == 200 and again.body["api_key"] is None
    assert again.body["key_id"] == first.body["key_id"]
    listed = call("api_list_api_keys", ADMIN, query={})
    assert [k["key_id"] for k in listed.body["keys"]] == [first.body["key_id"]]
    reused = create(body={**BODY, "name": "other"})
    assert (reused.status, reused.body["code"]) == (409, "idempotency_key_reused")
    event = load_event("api_create_api_key")
    for headers in (event["headers"], event["multiValueHeaders"]):
        del headers["Idempotency-Key"]
    event["requestContext"]["authorizer"] = authorizer_context(ADMIN)
    missing = api.handler(event, LambdaContext())
    assert missing["statusCode"] == 422
    assert json.loads(missing["body"])["code"] == "idempotency_key_required"


def test_list_and_get_never_show_a_secret_nor_its_hash(keys_clock):
    tokens = [create(key=f"k-{i}", body={**BODY, "name": f"till {i}"}).body["api_key"] for i in range(5)]
    seen, cursor = [], None
    while True:
        page = call(
            "api_list_api_keys", ADMIN, query={"limit": "2", **({"cursor": cursor} if cursor else {})}
        )
        assert page.status == 200, page.body
        seen += page.body["keys"]
        cursor = page.body["next_cursor"]
        if cursor is None:
            break
    assert sorted(k["name"] for k in seen) == [f"till {i}" for i in range(5)]
    key_id = seen[0]["key_id"]
    one = call("api_get_api_key", ADMIN, path={"key_id": key_id})
    assert one.status == 200 and one.body == seen[0]
    text = json.dumps(seen) + json.dumps(one.body)
    assert "secret" not in text.replace("previous_secret_valid_until", "").replace(
        "previous_secret_last_used_at", ""
    )
    assert not any(token.split(".")[3] in text for token in tokens)
    missing = call("api_get_api_key", ADMIN, path={"key_id": "0" * 26})
    assert (missing.status, missing.body["code"]) == (404, "api_key_not_found")


def test_rotation_keeps_the_old_secret_until_the_grace_ends(keys_clock):
    made = create().body
    old, key_id = made["api_key"], made["key_id"]
    rotation = {"grace_seconds": 600}
    rotated = call("api_rotate_api_key", ADMIN, path={"key_id": key_id}, body=rotation)
    assert rotated.status == 201, rotated.body
    new = rotated.body["api_key"]
    assert new != old and new.startswith(f"lk.demo.{key_id}.")
    assert rotated.body["previous_secret_valid_until"] == iso(keys_clock.now + timedelta(seconds=600))
    # the same rotation again (same Idempotency-Key, from the sample event) changes nothing
    replay = call("api_rotate_api_key", ADMIN, path={"key_id": key_id}, body=rotation)
    assert replay.status == 200 and replay.body["api_key"] is None
    assert authorize(old).key_id == authorize(new).key_id == key_id
    keys_clock.advance(seconds=599)
    assert not refused(old)
    keys_clock.advance(seconds=1)
    assert refused(old) and not refused(new)
    assert call("api_get_api_key", ADMIN, path={"key_id": key_id}).body["previous_secret_valid_until"] is None


def test_rotation_without_grace_refuses_the_old_secret_at_once(keys_clock):
    made = create().body
    rotated = call(
        "api_rotate_api_key",
        ADMIN,
        path={"key_id": made["key_id"]},
        body={"grace_seconds": 0},
        headers={"Idempotency-Key": "now"},
    )
    assert rotated.status == 201
    assert refused(made["api_key"]) and not refused(rotated.body["api_key"])


@pytest.mark.parametrize("grace", [-1, 7 * 24 * 3600 + 1, "60", 1.5, None])
def test_rotation_grace_out_of_range_is_422(keys_clock, grace):
    made = create().body
    reply = call("api_rotate_api_key", ADMIN, path={"key_id": made["key_id"]}, body={"grace_seconds": grace})
    assert reply.status == 422, reply.body
    assert not refused(made["api_key"])


def test_revoke_refuses_the_key_and_is_idempotent(keys_clock):
    made = create().body
    assert not refused(made["api_key"])
    reply = call("api_revoke_api_key", ADMIN, path={"key_id": made["key_id"]})
    assert reply.status == 200 and reply.body["status"] == "revoked"
    assert reply.body["revoked_at"] == iso(keys_clock.now)
    assert refused(made["api_key"])
    keys_clock.advance(hours=1)
    again = call("api_revoke_api_key", ADMIN, path={"key_id": made["key_id"]})
    assert again.status == 200 and again.body == reply.body
    rotate = call("api_rotate_api_key", ADMIN, path={"key_id": made["key_id"]}, body={"grace_seconds": 0})
    assert (rotate.status, rotate.body["code"]) == (409, "key_revoked")


def test_a_key_cannot_rotate_itself_without_grace(keys_clock):
    """Grace 0 on the calling key would end the very secret the caller holds before it has read
    the new one: refused (nothing changes); a grace, or another admin key, rotates it."""
    made = create(body={"name": "ops", "scopes": ["admin"]}).body
    me = authorize(made["api_key"])
    path = {"key_id": me.key_id}
    reply = call("api_rotate_api_key", me, path=path, body={"grace_seconds": 0})
    assert (reply.status, reply.body["code"]) == (409, "grace_required_for_own_key"), reply.body
    assert not refused(made["api_key"])
    assert call("api_get_api_key", me, path=path).body["rotated_at"] is None
    by_another = call(
        "api_rotate_api_key", ADMIN, path=path, body={"grace_seconds": 0}, headers={"Idempotency-Key": "x"}
    )
    assert by_another.status == 201, by_another.body
    me_again = authorize(by_another.body["api_key"])
    with_grace = call("api_rotate_api_key", me_again, path=path, body={"grace_seconds": 60})
    assert with_grace.status == 201, with_grace.body
    assert not refused(by_another.body["api_key"])  # its grace


def test_a_key_cannot_revoke_itself(keys_clock):
    made = create(body={"name": "ops", "scopes": ["admin"]}).body
    me = authorize(made["api_key"])
    reply = call("api_revoke_api_key", me, path={"key_id": me.key_id})
    assert (reply.status, reply.body["code"]) == (409, "own_key")
    assert not refused(made["api_key"])


def test_an_expired_key_is_refused(keys_clock):
    expires = keys_clock.now + timedelta(days=1)
    made = create(body={**BODY, "expires_at": expires.isoformat()}).body
    assert made["expires_at"] == iso(expires)
    keys_clock.advance(hours=23, minutes=59)
    assert not refused(made["api_key"])
    keys_clock.advance(minutes=1)
    assert refused(made["api_key"])
    assert call("api_get_api_key", ADMIN, path={"key_id": made["key_id"]}).body["status"] == "expired"
    past = create(body={**BODY, "expires_at": "2020-01-01T00:00:00Z"}, key="k-past")
    assert (past.status, past.body["code"]) == (422, "expires_in_past")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["root"]},
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["shop"]},
        {"name": "x", "scopes": ["shop"], "expires_at": "2030-01-01T00:00:00"},  # no offset
        {"name": "x", "scopes": ["shop"], "group": "demo-b"},
    ],
)
def test_invalid_create_is_422_and_writes_nothing(keys_clock, body):
    reply = create(body=body)
    assert reply.status == 422, reply.body
    assert call("api_list_api_keys", ADMIN, query={}).body["keys"] == []


def test_merchant_binding_needs_a_merchant_of_the_group(keys_clock):
    unknown = create(body={**BODY, "merchant_id": "store-1"})
    assert (unknown.status, unknown.body["code"]) == (422, "unknown_merchant")
    assert call("api_put_merchant_group", ADMIN).status == 201
    assert call("api_put_merchant", ADMIN).status == 201
    other = create(OTHER_GROUP, body={**BODY, "merchant_id": "store-1"})
    assert (other.status, other.body["code"]) == (422, "unknown_merchant")
    bound = create(body={**BODY, "merchant_id": "store-1"}, key="bound")
    assert bound.status == 201, bound.body
    assert authorize(bound.body["api_key"]).merchant_id == "store-1"


def test_a_group_never_reaches_another_groups_keys(keys_clock):
    made = create().body
    key_id = made["key_id"]
    for name, body in (
        ("api_get_api_key", ...),
        ("api_rotate_api_key", {"grace_seconds": 0}),
        ("api_revoke_api_key", ...),
    ):
        reply = call(name, OTHER_GROUP, path={"key_id": key_id}, body=body)
        assert (reply.status, reply.body["code"]) == (404, "api_key_not_found"), name
    assert call("api_list_api_keys", OTHER_GROUP, query={}).body == {"keys": [], "next_cursor": None}
    # the same Idempotency-Key in another group makes that group's own key
    theirs = create(OTHER_GROUP)
    assert theirs.status == 201 and theirs.body["key_id"] != key_id
    assert authorize(theirs.body["api_key"]).group_id == "demo-b"
    assert authorize(made["api_key"]).group_id == "demo" and not refused(made["api_key"])


def test_shop_and_partner_keys_cannot_manage_keys(keys_clock):
    for scopes in (("shop",), ("partner",)):
        caller = Caller(group_id="demo", key_id="01JD0000000000000000000002", scopes=scopes)
        assert create(caller).status == 403
        assert call("api_list_api_keys", caller, query={}).status == 403


def test_cli_creates_lists_rotates_and_revokes_keys(keys_clock, capsys, monkeypatch):
    from loyalty_engine.cli import main
    from loyalty_engine.kernel import timeutil

    monkeypatch.setattr(timeutil, "utcnow", keys_clock)  # the CLI's "now" is the test's

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out.strip(), err

    code, token, err = run(
        "create-key", "--group", "demo", "--scope", "shop", "--expires-at", "2099-01-01T00:00:00+01:00"
    )
    assert code == 0 and "not shown again" in err
    key_id = token.split(".")[2]
    assert authorize(token).key_id == key_id
    code, out, _ = run("list-keys", "--group", "demo")
    listed = json.loads(out)
    assert [(k["key_id"], k["expires_at"]) for k in listed] == [(key_id, "2098-12-31T23:00:00Z")]
    assert token.split(".")[3] not in out
    code, new, _ = run("rotate-key", "--group", "demo", "--key-id", key_id, "--grace-seconds", "60")
    assert code == 0 and new != token
    assert not refused(token) and not refused(new)
    keys_clock.advance(seconds=60)
    assert refused(token) and not refused(new)
    code, out, _ = run("revoke-key", "--group", "demo", "--key-id", key_id)
    assert code == 0 and json.loads(out)["status"] == "revoked"
    assert refused(new)


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["create-key", "--group", "demo", "--scope", "shop", "--merchant", "nowhere"], "unknown_merchant"),
        (
            ["create-key", "--group", "demo", "--scope", "shop", "--expires-at", "2001-01-01T00:00:00Z"],
            "expires_in_past",
        ),
        (
            ["rotate-key", "--group", "demo", "--key-id", "0" * 26, "--grace-seconds", "0"],
            "api_key_not_found",
        ),
        (["rotate-key", "--group", "demo", "--key-id", "0" * 26, "--grace-seconds", "-1"], "grace_seconds"),
        (["revoke-key", "--group", "demo-b", "--key-id", "0" * 26], "api_key_not_found"),
    ],
)
def test_cli_refusals_exit_2_and_write_nothing(keys_clock, capsys, table, argv, reason):
    from loyalty_engine.cli import main

    assert main(argv) == 2
    assert reason in capsys.readouterr().err
    assert table[0].scan(TableName=table[1])["Items"] == []


def test_a_keys_last_use_and_its_previous_secrets_are_shown_to_ten_minutes(keys_clock):
    made = create().body
    token, key_id = made["api_key"], made["key_id"]

    def seen() -> tuple[str | None, str | None]:
        view = call("api_get_api_key", ADMIN, path={"key_id": key_id}).body
        return view["last_used_at"], view["previous_secret_last_used_at"]

    assert seen() == (None, None)
    first = keys_clock.now
    authorize(token)
    assert seen() == (iso(first), None)
    keys_clock.advance(seconds=599)
    authorize(token)  # less than ten minutes after the mark: no write
    assert seen() == (iso(first), None)
    keys_clock.advance(seconds=1)
    authorize(token)
    assert seen() == (iso(keys_clock.now), None)
    listed = call("api_list_api_keys", ADMIN).body["keys"]
    assert [k["last_used_at"] for k in listed if k["key_id"] == key_id] == [iso(keys_clock.now)]

    rotated = call("api_rotate_api_key", ADMIN, path={"key_id": key_id}, body={"grace_seconds": 3600})
    new = rotated.body["api_key"]
    assert rotated.body["previous_secret_last_used_at"] is None
    keys_clock.advance(seconds=60)
    authorize(new)  # the key was marked a minute ago: nothing new to record
    assert seen() == (iso(keys_clock.now - timedelta(seconds=60)), None)
    authorize(token)  # the secret before the rotation: a client not moved yet
    assert seen() == (iso(keys_clock.now), iso(keys_clock.now))
    keys_clock.advance(seconds=300)
    authorize(token)
    assert seen() == (iso(keys_clock.now - timedelta(seconds=300)),) * 2
    # a second rotation: the previous secret is now the one made above, not seen since
    call(
        "api_rotate_api_key",
        ADMIN,
        path={"key_id": key_id},
        body={"grace_seconds": 60},
        headers={"Idempotency-Key": "r-2"},
    )
    assert seen()[1] is None
    call("api_revoke_api_key", ADMIN, path={"key_id": key_id})
    keys_clock.advance(seconds=3600)
    assert refused(new)  # a refused key is not marked used
    assert seen()[0] == iso(keys_clock.now - timedelta(seconds=3600 + 300))


def test_a_key_whose_use_cannot_be_recorded_is_still_accepted(keys_clock, monkeypatch):
    from loyalty_engine.access.store import GroupStore
    from loyalty_engine.kernel.errors import ServiceUnavailable

    def busy(self, use):
        raise ServiceUnavailable("the database is busy; retry")

    monkeypatch.setattr(GroupStore, "record_key_use", busy)
    made = create().body
    assert authorize(made["api_key"]).key_id == made["key_id"]
