"""Reward codes as pure rules: the generated format, loaded-code validation, the codes setting."""

from __future__ import annotations

import re
import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from loyalty_engine.rewards import codes as codes_module
from loyalty_engine.rewards.codes import (
    CROCKFORD,
    MAX_CODES_PER_CALL,
    CodeSource,
    LoadCodesRequest,
    code_problem,
    generate_code,
    generate_codes,
)
from loyalty_engine.rewards.models import RewardSpec, RuleBroken

GENERATED = re.compile(r"^[0-9A-HJKMNP-TV-Z]{20}$")


def test_generated_codes_are_20_crockford_characters_100_bits():
    assert len(CROCKFORD) == 32 and len(set(CROCKFORD)) == 32 and not set("ILOU") & set(CROCKFORD)
    batch = generate_codes(2000)
    assert all(GENERATED.match(code) for code in batch)
    assert len(set(batch)) == 2000
    # every symbol is used, roughly evenly (2000 x 20 draws: ~1250 each)
    counts = {symbol: sum(code.count(symbol) for code in batch) for symbol in CROCKFORD}
    assert min(counts.values()) > 1000 and max(counts.values()) < 1500


def test_generated_codes_come_from_secrets(monkeypatch):
    drawn: list[int] = []

    def token_bytes(count: int) -> bytes:
        drawn.append(count)
        return bytes([0x00, 0x44, 0x3F] + [0xFF] * (count - 3))  # 5-bit groups 0, 1, 2, 3, then 31s

    monkeypatch.setattr(codes_module.secrets, "token_bytes", token_bytes)
    # each character is 5 bits of the random bytes, in Crockford's alphabet
    assert generate_code() == "0123" + "Z" * 16
    assert drawn == [13]  # 104 bits drawn for the 100 used
    assert codes_module.secrets is secrets


@given(st.text(min_size=1, max_size=64, alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E)))
def test_visible_ascii_codes_are_accepted(code):
    assert code_problem(code) is None


@given(st.text(min_size=1, max_size=10).filter(lambda t: any(not 0x21 <= ord(c) <= 0x7E for c in t)))
def test_anything_else_is_refused(code):
    assert code_problem(code) is not None


@pytest.mark.parametrize("bad", ["", "a b", "a\tb", "a\x00", "a\x7f", "é", "x" * 65, " lead", "trail\n"])
def test_invalid_codes(bad):
    assert code_problem(bad)
    with pytest.raises(ValidationError):
        LoadCodesRequest(codes=[bad])


def test_a_load_is_bounded():
    LoadCodesRequest(codes=["A"] * MAX_CODES_PER_CALL)
    with pytest.raises(ValidationError):
        LoadCodesRequest(codes=["A"] * (MAX_CODES_PER_CALL + 1))
    with pytest.raises(ValidationError):
        LoadCodesRequest(codes=[])


def spec(**overrides) -> RewardSpec:
    base = {"name": "V", "nqp_value": 1, "validity_interval_count": 1, "validity_interval_type": "days"}
    return RewardSpec(**(base | overrides))


def test_the_codes_setting_maps_onto_the_stock_flags():
    assert spec(max_attribution_count=5).code_source == CodeSource.GENERATED  # the default
    assert spec(max_attribution_count=5).stock_limit == 5
    assert spec(is_auto_generated=True).stock_limit is None
    loaded = spec(codes="loaded")
    loaded.check()  # no max_attribution_count needed: the stock is the loaded codes
    assert (loaded.limit_with(7), spec(max_attribution_count=5).limit_with(7)) == (7, 5)
    for overrides, code in (
        ({"is_auto_generated": True}, "codes_conflict"),
        ({"max_attribution_count": 3}, "stock_with_loaded_codes"),
    ):
        with pytest.raises(RuleBroken) as broken:
            spec(codes="loaded", **overrides).check()
        assert broken.value.code == code
    with pytest.raises(RuleBroken) as locked:
        spec(max_attribution_count=5).check_codes_change(loaded)
    assert locked.value.code == "codes_setting_locked"
    loaded.check_codes_change(spec(codes="loaded", name="other"))
