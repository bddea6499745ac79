"""Instrument numbers: a keyed permutation of the index per series, checked against a reference
written straight from the description (hmac.new per round, a forward and an inverse Feistel)."""

from __future__ import annotations

import hmac
import string
from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_engine.instruments.numbers import (
    ROUNDS,
    SeriesExhausted,
    _check_digit,
    capacity,
    check_series,
    is_valid_number,
    leading_prefixes,
    nested_pairs,
    new_series_secret,
    number_at,
    numbers_from,
    resolve_prefix,
    same_prefix,
)
from loyalty_engine.kernel.errors import Conflict, InvalidRequest
from loyalty_engine.kernel.luhn import is_valid_luhn, luhn_check_digit

SECRET = "00112233445566778899aabbccddeeff"
OTHER_SECRET = "ffeeddccbbaa99887766554433221100"

secrets_st = st.text("0123456789abcdef", min_size=32, max_size=32)


@st.composite
def series(draw, max_width: int = 30):
    prefix = draw(st.text("0123456789", min_size=1, max_size=12))
    low = max(8, len(prefix) + 5)
    length = draw(st.integers(low, min(32, len(prefix) + 1 + max_width)))
    return prefix, length


# -- the reference ---------------------------------------------------------------------------------


def ref_round(secret: str, prefix: str, length: int, r: int, half: int) -> int:
    message = (
        b"loyalty-engine/instrument-numbers/v1"
        + bytes([len(prefix)])
        + prefix.encode()
        + bytes([length, r])
        + half.to_bytes(8, "big")
    )
    return int.from_bytes(hmac.new(bytes.fromhex(secret), message, sha256).digest(), "big")


def ref_radixes(prefix: str, length: int) -> tuple[int, int]:
    width = length - len(prefix) - 1
    return 10 ** (width // 2), 10 ** (width - width // 2)


def ref_body(secret: str, prefix: str, length: int, index: int) -> int:
    mu, mv = ref_radixes(prefix, length)
    a, b = index % mv, index // mv  # (low v digits, high u digits)
    for r in range(ROUNDS):
        radix = mv if r % 2 == 0 else mu
        a, b = b, (a + ref_round(secret, prefix, length, r, b)) % radix
    return a * mu + b


def ref_index(secret: str, prefix: str, length: int, body: int) -> int:
    """The inverse permutation: undo the rounds last to first."""
    mu, mv = ref_radixes(prefix, length)
    a, b = divmod(body, mu)
    for r in reversed(range(ROUNDS)):
        radix = mv if r % 2 == 0 else mu
        a, b = (b - ref_round(secret, prefix, length, r, a)) % radix, a
    return b * mv + a


def body_of(number: str, prefix: str) -> int:
    return int(number[len(prefix) : -1])


# -- series ----------------------------------------------------------------------------------------


def test_series_secret_is_32_lowercase_hex_and_fresh():
    made = {new_series_secret() for _ in range(50)}
    assert len(made) == 50
    assert all(len(s) == 32 and set(s) <= set("0123456789abcdef") for s in made)


def test_capacity_is_ten_to_the_body_width():
    assert capacity("6012", 16) == 10**11
    assert capacity("1", 8) == 10**6
    assert capacity("123", 8) == 10**4  # the minimum: 4 body digits
    assert capacity("123456789012", 32) == 10**19


@pytest.mark.parametrize(
    ("prefix", "length"),
    [
        ("", 16),
        ("1234567890123", 32),  # 13 digits
        ("12a4", 16),
        ("1\u00b2", 16),  # a digit to str.isdigit, not ASCII
        ("60", 7),
        ("60", 33),
        ("1234", 8),  # 3 body digits
        ("123456789012", 16),  # 3 body digits
    ],
)
def test_invalid_series_are_refused(prefix, length):
    with pytest.raises(InvalidRequest) as caught:
        check_series(prefix, length)
    assert caught.value.code == "invalid_series"
    with pytest.raises(InvalidRequest):
        number_at(prefix, length, SECRET, 0)


def test_bad_secret_and_index_are_refused():
    for secret in ("", SECRET[:-2], SECRET + "00", "g" * 32):
        with pytest.raises(ValueError, match="secret"):
            number_at("60", 12, secret, 0)
    for index in (-1, capacity("60", 12)):
        with pytest.raises(IndexError):
            number_at("60", 12, SECRET, index)
    with pytest.raises(ValueError):
        numbers_from("60", 12, SECRET, -1, 1)
    with pytest.raises(ValueError):
        numbers_from("60", 12, SECRET, 0, -1)


# -- the permutation -------------------------------------------------------------------------------


def test_known_numbers_never_move():
    """Issued numbers are stored by index: the arithmetic is frozen (these values must not change)."""
    assert [number_at("6012", 16, SECRET, i) for i in (0, 1, 2, 999_999_999)] == [
        "6012728307650456",
        "6012025737603571",
        "6012498840642572",
        "6012661725429742",
    ]
    assert [number_at("9", 8, SECRET, i) for i in (0, 1, 2, 999_999)] == [
        "90093345",
        "92163781",
        "98226822",
        "99390981",
    ]


@settings(max_examples=150, deadline=None)
@given(series(), secrets_st, st.data())
def test_number_at_matches_the_reference_and_inverts(shape, secret, data):
    prefix, length = shape
    index = data.draw(st.integers(0, capacity(prefix, length) - 1))
    number = number_at(prefix, length, secret, index)
    assert len(number) == length
    assert number.startswith(prefix)
    assert is_valid_luhn(number) and is_valid_number(number)
    assert body_of(number, prefix) == ref_body(secret, prefix, length, index)
    assert ref_index(secret, prefix, length, body_of(number, prefix)) == index  # a bijection
    assert numbers_from(prefix, length, secret, index, 1) == ([number], index + 1)


@settings(max_examples=2, deadline=None)
@given(st.text("0123456789", min_size=3, max_size=12), secrets_st)
def test_smallest_series_is_a_bijection(prefix, secret):
    length = len(prefix) + 5  # 4 body digits: 10,000 numbers
    cap = capacity(prefix, length)
    assert cap == 10_000
    numbers, next_index = numbers_from(prefix, length, secret, 0, cap)
    assert next_index == cap
    assert len(set(numbers)) == cap
    assert {body_of(n, prefix) for n in numbers} == set(range(cap))
    assert all(len(n) == length and n.startswith(prefix) and is_valid_luhn(n) for n in numbers)
    with pytest.raises(SeriesExhausted):
        numbers_from(prefix, length, secret, cap, 1)


def test_100k_numbers_are_distinct_and_valid():
    numbers, next_index = numbers_from("6012", 16, SECRET, 0, 100_000)
    assert next_index == 100_000
    assert len(set(numbers)) == 100_000
    assert all(len(n) == 16 and n.startswith("6012") and is_valid_luhn(n) for n in numbers)
    bodies = [body_of(n, "6012") for n in numbers[:1000]]
    assert bodies != sorted(bodies)  # consecutive indexes do not give consecutive numbers
    assert len({b // 10**9 for b in bodies}) > 95  # ... and they spread over the whole series


def test_secrets_give_unrelated_sequences():
    first = numbers_from("6012", 16, SECRET, 0, 1000)[0]
    second = numbers_from("6012", 16, OTHER_SECRET, 0, 1000)[0]
    assert first != second
    assert sum(a == b for a, b in zip(first, second, strict=True)) <= 1
    assert len(set(first) & set(second)) <= 1


def test_fast_check_digit_matches_luhn_check_digit():
    @settings(max_examples=300, deadline=None)
    @given(st.text("0123456789", min_size=1, max_size=40))
    def check(payload):
        assert _check_digit(payload) == luhn_check_digit(payload)

    check()


def test_without_check_digit_the_numbers_are_the_luhn_numbers_cut():
    assert capacity("60", 12, check_digit=False) == 10**10
    check_series("1234", 8, check_digit=False)  # 4 free digits
    with pytest.raises(InvalidRequest):
        check_series("12345", 8, check_digit=False)
    for index in (0, 1, 12_345, 10**10 - 1):
        number = number_at("60", 12, SECRET, index, check_digit=False)
        assert number == number_at("60", 13, SECRET, index)[:-1]
        assert len(number) == 12 and number.startswith("60")
    longest = number_at("60", 32, SECRET, 7, check_digit=False)  # 30 free digits, no check digit
    assert len(longest) == 32 and longest.startswith("60")
    numbers, next_index = numbers_from("60", 12, SECRET, 0, 2000, ["601"], check_digit=False)
    expected = [number_at("60", 12, SECRET, i, check_digit=False) for i in range(next_index)]
    assert numbers == [n for n in expected if not n.startswith("601")]
    assert len(numbers) == 2000 and len(set(numbers)) == 2000


def test_without_check_digit_a_full_width_excluded_prefix_is_one_number():
    prefix, length = "1234", 8  # no check digit: 10,000 numbers
    numbers, _ = numbers_from(prefix, length, SECRET, 0, 9_999, ["12340000"], check_digit=False)
    assert "12340000" not in numbers
    with pytest.raises(SeriesExhausted):
        numbers_from(prefix, length, SECRET, 0, 10_000, ["12340000"], check_digit=False)


# -- numbers_from ----------------------------------------------------------------------------------


def test_next_index_continues_without_overlap():
    first, middle = numbers_from("77", 12, SECRET, 0, 700)
    second, end = numbers_from("77", 12, SECRET, middle, 500)
    assert (middle, end) == (700, 1200)
    assert not set(first) & set(second)
    assert numbers_from("77", 12, SECRET, 0, 1200) == (first + second, 1200)
    assert numbers_from("77", 12, SECRET, 5, 0) == ([], 5)


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.text("0123456789", min_size=1, max_size=3), max_size=4),
    st.integers(0, 5000),
    st.integers(1, 400),
)
def test_excluded_prefixes_are_skipped_and_consumed(extras, start, count):
    prefix, length = "60", 10  # 7 body digits
    excluded = ["60" + e for e in extras] + ["59", "7"]  # unrelated prefixes never match
    numbers, next_index = numbers_from(prefix, length, SECRET, start, count, excluded)
    nested = tuple("60" + e for e in extras)
    expected = [
        n
        for n in (number_at(prefix, length, SECRET, i) for i in range(start, next_index))
        if not (nested and n.startswith(nested))
    ]
    assert numbers == expected
    assert len(numbers) == count
    assert not (nested and numbers[-1].startswith(nested))  # the last index consumed was kept
    later, _ = numbers_from(prefix, length, SECRET, next_index, count, excluded)
    assert not set(numbers) & set(later)


def test_nested_series_numbers_never_collide_with_the_outer_series():
    outer, _ = numbers_from("60", 10, SECRET, 0, 5_000, ["601"])
    inner, _ = numbers_from("601", 10, OTHER_SECRET, 0, 5_000)
    assert not any(n.startswith("601") for n in outer)
    assert not set(outer) & set(inner)
    assert {resolve_prefix(n, ["60", "601"]) for n in inner} == {"601"}
    assert {resolve_prefix(n, ["60", "601"]) for n in outer} == {"60"}


def test_exhaustion_is_all_or_nothing():
    prefix, length = "123", 8  # 10,000 numbers
    numbers, next_index = numbers_from(prefix, length, SECRET, 9_990, 10)
    assert (len(numbers), next_index) == (10, 10_000)
    with pytest.raises(SeriesExhausted) as caught:
        numbers_from(prefix, length, SECRET, 9_990, 11)
    error = caught.value
    assert isinstance(error, Conflict)
    assert (error.status, error.code) == (409, "series_exhausted")
    assert error.details == [{"prefix": "123", "requested": 11, "available": 10}]
    with pytest.raises(SeriesExhausted):
        numbers_from(prefix, length, SECRET, 10_000, 1)
    assert numbers_from(prefix, length, SECRET, 10_000, 0) == ([], 10_000)


def test_exhaustion_counts_the_nested_series_out():
    prefix, length = "123", 8
    excluded = ["1234", "12350", "1235123"]  # 1,000 + 100 + 1 bodies (+ unrelated ones)
    available = 10_000 - 1_101
    numbers, next_index = numbers_from(prefix, length, SECRET, 0, available, excluded)
    assert len(set(numbers)) == available
    assert next_index <= 10_000
    with pytest.raises(SeriesExhausted):
        numbers_from(prefix, length, SECRET, 0, available + 1, excluded)


def test_nested_series_covering_everything_exhaust_at_once():
    # 10 ** 19 bodies: scanning them would never end.
    every = [f"60{d}" for d in "0123456789"]
    with pytest.raises(SeriesExhausted):
        numbers_from("60", 22, SECRET, 0, 1, every)
    with pytest.raises(SeriesExhausted):
        numbers_from("60", 22, SECRET, 0, 1, ["601", *every])


def test_an_excluded_prefix_enclosing_the_series_is_a_mistake():
    for excluded in ("60", "6", ""):
        with pytest.raises(ValueError, match="not nested"):
            numbers_from("60", 12, SECRET, 0, 1, [excluded])


# -- numbers and prefixes --------------------------------------------------------------------------


def test_is_valid_number():
    assert is_valid_number("79927398713")
    assert not is_valid_number("79927398710")
    assert not is_valid_number("7992739871")  # 10 digits, wrong check digit
    assert not is_valid_number("0000000")  # Luhn-valid but shorter than any series
    assert not is_valid_number("0" * 33)
    assert is_valid_number("0" * 32)
    assert not is_valid_number("7992 7398 713")
    assert not is_valid_number("799273987\u06613")  # an Arabic-Indic digit
    assert not is_valid_number("")


@settings(max_examples=60, deadline=None)
@given(series(max_width=12), secrets_st, st.integers(0, 9_999), st.data())
def test_any_single_digit_change_is_caught(shape, secret, index, data):
    prefix, length = shape
    number = number_at(prefix, length, secret, index)
    assert is_valid_number(number)
    position = data.draw(st.integers(0, length - 1))
    digit = data.draw(st.sampled_from([d for d in string.digits if d != number[position]]))
    assert not is_valid_number(number[:position] + digit + number[position + 1 :])


def test_resolve_prefix_picks_the_longest():
    prefixes = ["6", "60", "6012", "601299", "7"]
    assert resolve_prefix("6012345678901234", prefixes) == "6012"
    assert resolve_prefix("6012995678901234", prefixes) == "601299"
    assert resolve_prefix("6099", prefixes) == "60"
    assert resolve_prefix("8012345678", prefixes) is None
    assert resolve_prefix("6012", ["6012"]) is None  # a number is longer than its prefix
    assert resolve_prefix("60123", iter(["", "6012"])) == "6012"


def test_leading_prefixes_longest_first():
    number = "6012345678901234"
    assert leading_prefixes(number) == [number[:n] for n in range(12, 0, -1)]
    assert leading_prefixes(number, 3) == ["601", "60", "6"]
    assert leading_prefixes("6012") == ["601", "60", "6"]
    assert leading_prefixes("6") == []


@given(
    st.text("0123456789", min_size=2, max_size=32), st.sets(st.text("0123456789", min_size=1, max_size=12))
)
def test_resolve_prefix_is_the_first_leading_prefix_found(number, prefixes):
    found = next((p for p in leading_prefixes(number) if p in prefixes), None)
    assert resolve_prefix(number, prefixes) == found


def test_nested_pairs_and_same_prefix():
    existing = ["6", "60", "6012", "601234", "60129", "61", "7", "60", "5"]
    assert nested_pairs("601", existing) == (["60", "6"], ["6012", "60129", "601234"])
    assert nested_pairs("60", existing) == (["6"], ["6012", "60129", "601234"])  # "60" itself: neither
    assert nested_pairs("8", existing) == ([], [])
    assert same_prefix("60", existing)
    assert not same_prefix("601", existing)
    assert not same_prefix("601", iter([]))
