"""Instrument numbers (gift cards, coupons, store credit) of a series: prefix + body + Luhn digit.

A series is a digit ``prefix`` (1-12 digits), a total ``length`` (8-32 digits, counting the prefix
and the final Luhn check digit) and a ``secret`` (32 hex characters, made once by
``new_series_secret`` and never changed). Between the prefix and the check digit sit the body
digits: at least ``MIN_BODY_DIGITS`` (4) of them, so ``length >= len(prefix) + 5``.

A series without a check digit (``check_digit=False``: ``length`` then counts no check digit, and
``length >= len(prefix) + 4``) numbers like the series one digit longer with a check digit, its
numbers cut off their last digit: same bodies, same permutation.

The n-th number of a series (n = 0, 1, 2, ... up to its capacity, 10 ** body digits) has as body a
keyed permutation of n: a Feistel network over the mixed radix 10**u x 10**v (u = body // 2,
v = body - u) whose round function is HMAC-SHA256 keyed by the secret. Each round adds the round
function of one half to the other half, modulo that half's radix, and swaps; after an even number
of rounds (``ROUNDS`` = 8) the halves have their original widths again, so the network is a
bijection of [0, 10 ** body) onto itself, without cycle walking. A series hands out numbers by
index (the caller stores the next index), so its numbers never repeat; the permutation makes
consecutive numbers look unrelated. It does not make short bodies hard to guess: what a guesser
faces is the share of the series that has been issued.

The arithmetic below (round order, HMAC message layout, widths) is frozen: changing it would move
every index of an existing series onto other numbers, and new numbers could then repeat issued
ones. A different scheme needs a new series (or a versioned algorithm next to this one).

Series may nest: a series with prefix "6012" lies inside the series with prefix "60". Numbers of
the outer series that begin with a nested prefix belong to the nested series (a number resolves
to the longest matching prefix), so the outer series skips them (``numbers_from``'s
``excluded_prefixes``). Pure functions only: no I/O.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from hashlib import sha256

from loyalty_engine.kernel.errors import Conflict, InvalidRequest
from loyalty_engine.kernel.luhn import is_valid_luhn, luhn_check_digit

MIN_PREFIX_LEN = 1
MAX_PREFIX_LEN = 12
MIN_LENGTH = 8
MAX_LENGTH = 32
MIN_BODY_DIGITS = 4
ROUNDS = 8
SECRET_HEX_CHARS = 32

_TWEAK = b"loyalty-engine/instrument-numbers/v1"
_BLOCK = 64  # SHA-256 block size: HMAC pads the key to it
_DIGITS = "0123456789"
_DOUBLED = str.maketrans(_DIGITS, "0246813579")  # Luhn: a doubled digit's digit sum


class SeriesExhausted(Conflict):
    """The series has no number left at or after the requested index (nested series excluded)."""

    code = "series_exhausted"


def new_series_secret() -> str:
    """A fresh series secret: 16 random bytes as 32 lowercase hex characters."""
    return secrets.token_hex(SECRET_HEX_CHARS // 2)


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def check_series(prefix: str, length: int, *, check_digit: bool = True) -> None:
    """Raise InvalidRequest (code "invalid_series") unless prefix and length make a series.

    The prefix is 1-12 ASCII digits; the length 8-32 and at least len(prefix) + MIN_BODY_DIGITS,
    plus 1 with a check digit.
    """
    problem = None
    if not (MIN_PREFIX_LEN <= len(prefix) <= MAX_PREFIX_LEN and _is_digits(prefix)):
        problem = f"prefix must be {MIN_PREFIX_LEN}-{MAX_PREFIX_LEN} digits"
    elif isinstance(length, bool) or not isinstance(length, int) or not MIN_LENGTH <= length <= MAX_LENGTH:
        problem = f"length must be {MIN_LENGTH}-{MAX_LENGTH}"
    elif length - len(prefix) - check_digit < MIN_BODY_DIGITS:
        problem = f"length must leave at least {MIN_BODY_DIGITS} digits after the prefix" + (
            " and before the check digit" if check_digit else ""
        )
    if problem:
        raise InvalidRequest(problem, code="invalid_series", details=[{"prefix": prefix, "length": length}])


def body_width(prefix: str, length: int, *, check_digit: bool = True) -> int:
    """How many digits follow the prefix (and precede the check digit, if any)."""
    check_series(prefix, length, check_digit=check_digit)
    return length - len(prefix) - check_digit


def capacity(prefix: str, length: int, *, check_digit: bool = True) -> int:
    """How many numbers the series' body can hold: 10 ** (length - len(prefix) - 1).

    (10 ** (length - len(prefix)) without a check digit.)
    """
    return 10 ** body_width(prefix, length, check_digit=check_digit)


def _secret_key(secret: str) -> bytes:
    if len(secret) != SECRET_HEX_CHARS or not all(c in "0123456789abcdefABCDEF" for c in secret):
        raise ValueError(f"a series secret is {SECRET_HEX_CHARS} hex characters")
    return bytes.fromhex(secret)


@lru_cache(maxsize=32)
def _permutation(prefix: str, length: int, secret: str) -> Callable[[int], int]:
    """The keyed bijection index -> body of a series, ``length`` counting a check digit.

    Its HMAC states are made once per series (cached: ``number_at`` in a loop stays cheap).

    HMAC-SHA256 (RFC 2104) is evaluated from SHA-256 states that have already absorbed the padded
    key XOR ipad (plus the tweak and the round number) and the padded key XOR opad: a copy of
    each per evaluation gives exactly ``hmac.new(key, msg, sha256).digest()`` at half the cost of
    copying an ``hmac`` object. The message of round r is
    ``TWEAK | len(prefix) | prefix | length | r | half (8 bytes, big-endian)``.
    """
    width = length - len(prefix) - 1
    key = _secret_key(secret).ljust(_BLOCK, b"\0")
    outer = sha256(bytes(b ^ 0x5C for b in key))
    inner = sha256(bytes(b ^ 0x36 for b in key))
    inner.update(_TWEAK + bytes([len(prefix)]) + prefix.encode() + bytes([length]))
    round_inners = []
    for r in range(ROUNDS):
        state = inner.copy()
        state.update(bytes([r]))
        round_inners.append(state)
    # State (a, b) starts as (low v digits, high u digits); round r maps it to
    # (b, (a + F(r, b)) mod radix of a). a is v digits wide before even rounds, u before odd ones.
    high_digits = width // 2
    mu, mv = 10**high_digits, 10 ** (width - high_digits)
    outer_copy = outer.copy
    first = round_inners[0].copy
    later = [(state.copy, mv if r % 2 == 0 else mu) for r, state in enumerate(round_inners) if r]
    from_bytes = int.from_bytes
    # Round 0 hashes the high half, the same over runs of mv consecutive indexes: its last value
    # is kept (in one slot holding a tuple, so no reader sees a half-updated pair).
    last = [(-1, 0)]

    def permute(index: int) -> int:
        hi, lo = divmod(index, mv)
        seen, f0 = last[0]
        if hi != seen:
            h = first()
            h.update(hi.to_bytes(8, "big"))
            o = outer_copy()
            o.update(h.digest())
            f0 = from_bytes(o.digest(), "big")
            last[0] = (hi, f0)
        a, b = hi, (lo + f0) % mv
        for copy, radix in later:
            h = copy()
            h.update(b.to_bytes(8, "big"))
            o = outer_copy()
            o.update(h.digest())
            a, b = b, (a + from_bytes(o.digest(), "big")) % radix
        return a * mu + b  # after the last (odd) round a is v digits wide, b u digits

    return permute


def _check_digit(payload: str) -> str:
    """``luhn_check_digit`` without a per-digit Python loop (same result, tested against it)."""
    doubled = payload[-1::-2].translate(_DOUBLED)
    total = sum(doubled.encode()) + sum(payload[-2::-2].encode()) - 48 * len(payload)
    return _DIGITS[-total % 10]


def number_at(prefix: str, length: int, secret: str, index: int, *, check_digit: bool = True) -> str:
    """The index-th number of the series (0 <= index < capacity): prefix + body + Luhn digit.

    The body is the keyed permutation of ``index`` over [0, capacity), zero-padded to the body
    width. Distinct indexes give distinct numbers; consecutive indexes give unrelated-looking
    numbers. Raises IndexError outside [0, capacity), InvalidRequest for a bad series, ValueError
    for a bad secret. ``number_at(..., i) == numbers_from(..., i, 1)[0][0]`` when nothing is
    excluded. For many numbers ``numbers_from`` is faster (checks once, computes Luhn faster).
    """
    width = body_width(prefix, length, check_digit=check_digit)
    if isinstance(index, bool) or not 0 <= index < 10**width:
        raise IndexError(f"index {index} is outside the series (capacity {10**width})")
    payload = f"{prefix}{_permutation(prefix, len(prefix) + width + 1, secret)(index):0{width}d}"
    return payload + luhn_check_digit(payload) if check_digit else payload


def _excluded_count(prefix: str, width: int, extras: Sequence[str], check_digit: bool) -> int:
    """How many numbers of the series begin with prefix + one of extras (extras non-empty)."""
    minimal = sorted(set(extras), key=len)
    kept: list[str] = []
    for extra in minimal:
        if not extra.startswith(tuple(kept)):
            kept.append(extra)
    total = 0
    for extra in kept:
        if len(extra) <= width:
            total += 10 ** (width - len(extra))
        elif check_digit and len(extra) == width + 1 and luhn_check_digit(prefix + extra[:-1]) == extra[-1]:
            total += 1  # a full number
    return total


def numbers_from(
    prefix: str,
    length: int,
    secret: str,
    start: int,
    count: int,
    excluded_prefixes: Sequence[str] = (),
    *,
    check_digit: bool = True,
) -> tuple[list[str], int]:
    """``count`` numbers from index ``start`` on, skipping those that begin with an excluded prefix.

    ``excluded_prefixes`` are the prefixes of the series nested in this one (longer prefixes that
    begin with ``prefix``): the numbers that begin with them belong to those series. Prefixes that
    neither begin with ``prefix`` nor enclose it, or hold a non-digit, cannot match and are ignored;
    one equal to or enclosing ``prefix`` would exclude everything and raises ValueError.

    Returns (numbers, next_index): next_index is the first index not consumed (skipped indexes are
    consumed), so the next call starts there and never repeats a number. All or nothing: raises
    SeriesExhausted (nothing is returned, nothing consumed) when the indexes run out before
    ``count`` numbers, including at once when nested series cover the whole series.
    """
    width = body_width(prefix, length, check_digit=check_digit)
    cap = 10**width
    if isinstance(start, bool) or not 0 <= start <= cap:
        raise ValueError(f"start {start} is outside [0, {cap}]")
    if count < 0:
        raise ValueError("count must be >= 0")
    extras: list[str] = []
    for excluded in excluded_prefixes:
        if prefix.startswith(excluded):
            raise ValueError(f"excluded prefix {excluded!r} is not nested in the series {prefix!r}")
        if excluded.startswith(prefix) and _is_digits(excluded):
            extras.append(excluded[len(prefix) :])
    if count == 0:
        return [], start
    if extras and _excluded_count(prefix, width, extras, check_digit) >= cap:
        raise _exhausted(prefix, count, 0)
    permute = _permutation(prefix, len(prefix) + width + 1, secret)
    skip = tuple(prefix + extra for extra in extras)
    numbers: list[str] = []
    append = numbers.append
    index = start
    while len(numbers) < count:
        # The numbers still missing, at most: nothing is computed past `count` when nothing is skipped.
        stop = min(cap, index + count - len(numbers))
        if stop == index:
            raise _exhausted(prefix, count, len(numbers))
        for i in range(index, stop):
            number = f"{prefix}{permute(i):0{width}d}"
            if check_digit:
                number += _check_digit(number)
            if not (skip and number.startswith(skip)):
                append(number)
        index = stop
    return numbers, index


def _exhausted(prefix: str, requested: int, available: int) -> SeriesExhausted:
    return SeriesExhausted(
        f"series {prefix!r} has {available} numbers left, {requested} requested",
        details=[{"prefix": prefix, "requested": requested, "available": available}],
    )


def is_valid_number(number: str) -> bool:
    """ASCII digits only, 8-32 of them (any series' length), the last a correct Luhn check digit.

    For the numbers of series with a check digit. Luhn catches every single-digit error and most swaps of adjacent digits; it says nothing about
    whether the number was ever issued.
    """
    return MIN_LENGTH <= len(number) <= MAX_LENGTH and _is_digits(number) and is_valid_luhn(number)


def resolve_prefix(number: str, prefixes: Iterable[str]) -> str | None:
    """The longest of ``prefixes`` that ``number`` begins with (None if none).

    Only non-empty prefixes shorter than the number count (as in ``leading_prefixes``): a series'
    number always has digits after its prefix.
    """
    best: str | None = None
    for prefix in prefixes:
        if (
            prefix
            and len(prefix) < len(number)
            and number.startswith(prefix)
            and (best is None or len(prefix) > len(best))
        ):
            best = prefix
    return best


def leading_prefixes(number: str, max_prefix_len: int = MAX_PREFIX_LEN) -> list[str]:
    """Every leading substring of number of length 1..min(max_prefix_len, len(number) - 1), longest first.

    The keys to fetch to resolve a number in one read: the first one that exists is its series.
    """
    return [number[:size] for size in range(min(max_prefix_len, len(number) - 1), 0, -1)]


def same_prefix(new_prefix: str, existing: Iterable[str]) -> bool:
    """Whether a series with exactly ``new_prefix`` already exists (``nested_pairs`` leaves it out)."""
    return new_prefix in set(existing)


def nested_pairs(new_prefix: str, existing: Iterable[str]) -> tuple[list[str], list[str]]:
    """(enclosing, enclosed) for a new series prefix against the existing ones.

    ``enclosing``: the existing prefixes that ``new_prefix`` begins with (shorter ones: their
    series contain the new one), nearest (longest) first. ``enclosed``: the existing prefixes that
    begin with ``new_prefix`` (longer ones: the new series contains them), shortest first, then in
    digit order. An existing prefix equal to ``new_prefix`` is in neither list: check it with
    ``same_prefix``. Duplicates in ``existing`` are reported once.
    """
    enclosing: list[str] = []
    enclosed: list[str] = []
    for prefix in set(existing):
        if prefix == new_prefix:
            continue
        if new_prefix.startswith(prefix):
            enclosing.append(prefix)
        elif prefix.startswith(new_prefix):
            enclosed.append(prefix)
    enclosing.sort(key=len, reverse=True)
    enclosed.sort(key=lambda p: (len(p), p))
    return enclosing, enclosed
