from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loyalty_engine.access.models import Caller, new_api_key, parse_token, verify
from loyalty_engine.kernel.errors import Forbidden, Unauthorized
from loyalty_engine.kernel.luhn import is_valid_luhn, luhn_check_digit
from loyalty_engine.points.cardcodes import generate_card_code
from loyalty_engine.points.programs import CardCodeSettings

NOW = datetime(2026, 11, 23, tzinfo=UTC)
KEY_ID = "01JD0000000000000000000001"


def test_luhn_known_values():
    assert luhn_check_digit("7992739871") == "3"
    assert is_valid_luhn("79927398713")
    assert not is_valid_luhn("79927398710")


def test_generated_codes_have_prefix_length_and_check_digit():
    settings = CardCodeSettings(prefix="2990", length=13)
    codes = {generate_card_code(settings) for _ in range(200)}
    assert len(codes) == 200
    assert all(c.startswith("2990") and len(c) == 13 and is_valid_luhn(c) for c in codes)


def test_card_series_needs_room_for_random_digits():
    with pytest.raises(ValueError, match="random digits"):
        CardCodeSettings(prefix="1234567890", length=14)


def test_token_round_trip_and_verification():
    key, token = new_api_key(
        key_id=KEY_ID, group_id="demo", name="k", scopes=["shop"], merchant_id=None, now=NOW
    )
    group, key_id, secret = parse_token(f"Bearer {token}")
    assert (group, key_id) == ("demo", KEY_ID)
    assert verify(key, secret, NOW) == Caller(group_id="demo", key_id=KEY_ID, scopes=("shop",))
    with pytest.raises(Unauthorized):
        verify(key, secret + "x", NOW)
    with pytest.raises(Unauthorized):
        verify(None, secret, NOW)
    with pytest.raises(Unauthorized):
        verify(key.model_copy(update={"revoked": True}), secret, NOW)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic abc",
        "Bearer",
        "Bearer lk.demo.short.secret",
        "Bearer lk.Demo!.01JD0000000000000000000001.s",
    ],
)
def test_malformed_authorization_headers(header):
    with pytest.raises(Unauthorized):
        parse_token(header)


def test_scopes_are_enforced():
    Caller(group_id="g", key_id=KEY_ID, scopes=("admin",)).require(("admin",))
    with pytest.raises(Forbidden):
        Caller(group_id="g", key_id=KEY_ID, scopes=("shop",)).require(("admin",))
