"""The pure rules of an API key's lifecycle: rotation grace, expiry, revocation, the view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty_engine.access.key_rules import MAX_GRACE_S, key_id_for, revoked, rotated, status_of, view_of
from loyalty_engine.access.models import _KEY_ID, new_api_key, verify
from loyalty_engine.kernel.errors import Conflict, Unauthorized

NOW = datetime(2026, 12, 10, 12, tzinfo=UTC)


def _key(**extra):
    key, token = new_api_key(
        key_id="01JD0000000000000000000001",
        group_id="demo",
        name="k",
        scopes=["shop"],
        merchant_id=None,
        now=NOW,
        **extra,
    )
    return key, token.split(".")[3]


def accepted(key, secret: str, at: datetime) -> bool:
    try:
        verify(key, secret, at)
    except Unauthorized:
        return False
    return True


@given(grace=st.integers(0, MAX_GRACE_S), later=st.integers(0, MAX_GRACE_S + 10))
def test_the_old_secret_works_exactly_until_the_grace_ends(grace, later):
    key, old = _key()
    new_key, new = rotated(key, grace, NOW, "fp", "r-1")
    at = NOW + timedelta(seconds=later)
    assert accepted(new_key, new, at)
    assert accepted(new_key, old, at) == (later < grace)
    assert new_key.version == key.version + 1 and new_key.rotations == {"r-1": "fp"}


def test_a_second_rotation_forgets_the_secret_before_the_first():
    key, first = _key()
    key, second = rotated(key, 600, NOW, "fp1", "r-1")
    key, third = rotated(key, 600, NOW + timedelta(seconds=1), "fp2", "r-2")
    at = NOW + timedelta(seconds=2)
    assert (accepted(key, first, at), accepted(key, second, at), accepted(key, third, at)) == (
        False,
        True,
        True,
    )


@given(offset=st.integers(-10, 10))
def test_an_expired_key_is_refused_from_its_expiry_on(offset):
    key, secret = _key(expires_at=NOW + timedelta(hours=1))
    at = NOW + timedelta(hours=1, seconds=offset)
    assert accepted(key, secret, at) == (offset < 0)
    assert status_of(key, at) == ("active" if offset < 0 else "expired")


def test_revoked_keys_are_refused_and_cannot_rotate_and_revoking_twice_changes_nothing():
    key, secret = _key()
    gone = revoked(key, NOW)
    assert not accepted(gone, secret, NOW) and gone.revoked_at == NOW
    assert revoked(gone, NOW + timedelta(days=1)) is gone
    with pytest.raises(Conflict) as refused:
        rotated(gone, 0, NOW, "fp", "r")
    assert refused.value.code == "key_revoked"
    expiring, _ = _key(expires_at=NOW)
    with pytest.raises(Conflict, match="expired"):
        rotated(expiring, 0, NOW, "fp", "r")


def test_the_view_shows_no_secret_nor_hash():
    key, secret = _key()
    key, _ = rotated(key, 60, NOW, "fp", "r")
    text = view_of(key, NOW).model_dump_json()
    assert secret not in text and key.secret_sha256 not in text and "sha256" not in text
    assert view_of(key, NOW).previous_secret_valid_until == NOW + timedelta(seconds=60)
    assert view_of(key, NOW + timedelta(seconds=60)).previous_secret_valid_until is None


@given(st.text(min_size=1, max_size=64))
def test_a_derived_key_id_is_a_valid_key_id_and_depends_on_the_group(idempotency_key):
    assert _KEY_ID.match(key_id_for("demo", idempotency_key))
    assert key_id_for("demo", idempotency_key) != key_id_for("demo-b", idempotency_key)
