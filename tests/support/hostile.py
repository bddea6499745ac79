"""Hostile requests: bodies, path values, query values and headers an attacker (or a broken
client) sends. Hypothesis strategies, each drawing a `Hostile` case: what to put in the request
and the status family expected (always 4xx; the exact code when the case decides it)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from hypothesis import strategies as st

# Arabic-Indic, Devanagari, full-width and N'Ko digits: Python's int() and Decimal() read them all.
NON_ASCII_DIGITS = "".join(
    chr(c) for c in (*range(0x660, 0x66A), *range(0x966, 0x970), *range(0xFF10, 0xFF1A), *range(0x7C0, 0x7C3))
)
CONTROL_CHARACTERS = [chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127, *range(0x80, 0xA0))]


@dataclass(frozen=True)
class Hostile:
    kind: str
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    path_value: str | None = None  # replaces the route's first path parameter
    query: dict[str, str] | None = None
    base64: bool = False
    codes: frozenset[str] = frozenset()  # the expected code(s); empty: any 4xx in the error shape

    def __repr__(self) -> str:  # keeps failure reports readable
        return f"Hostile({self.kind}, body={str(self.body)[:60]!r}, path={self.path_value!r}, query={self.query!r})"


def _deep(levels: int, opener: str) -> str:
    closer = {"[": "]", "{": "}"}[opener]
    inner = '{"a":' * levels + "1" + "}" * levels if opener == "{" else opener * levels + closer * levels
    return inner


deep_bodies = st.builds(
    lambda levels, opener, wrap: Hostile(
        "deep",
        body=('{"x": ' + _deep(levels, opener) + "}") if wrap else _deep(levels, opener),
        codes=frozenset({"body_too_deep"}),
    ),
    st.integers(min_value=33, max_value=5000) | st.sampled_from([1000, 5000]),
    st.sampled_from("[{"),
    st.booleans(),
)

duplicate_keys = st.builds(
    lambda key, a, b: Hostile(
        "duplicate_key",
        body=f'{{"{key}": {json.dumps(a)}, "other": 1, "{key}": {json.dumps(b)}}}',
        codes=frozenset({"duplicate_key"}),
    ),
    st.sampled_from(["points", "order_id", "amount", "name", "burn_id", "x"]),
    st.integers(0, 100) | st.text(max_size=5),
    st.integers(0, 100) | st.text(max_size=5),
)

non_finite = st.builds(
    lambda key, constant: Hostile(
        "nan", body=f'{{"{key}": {constant}}}', codes=frozenset({"invalid_number"})
    ),
    st.sampled_from(["points", "amount", "quantity"]),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e99999", "1" * 100]),
)

# Numbers a lax reader takes and a strict one does not: as JSON strings, booleans, underscores.
lax_numbers = st.builds(
    lambda key, value: Hostile("lax_number", body=json.dumps({key: value})),
    st.sampled_from(["points", "amount", "quantity", "count", "nqp_value"]),
    st.booleans()
    | st.builds(lambda d: d, st.text(alphabet=NON_ASCII_DIGITS, min_size=1, max_size=6))
    | st.sampled_from(["1_000", "12", " 7 ", "0x10", "1e3"]),
)

huge_bodies = st.builds(
    lambda size: Hostile("huge", body='{"x": "' + "a" * size + '"}', codes=frozenset({"payload_too_large"})),
    st.integers(min_value=256 * 1024, max_value=300 * 1024),
)

control_in_body = st.builds(
    lambda key, char, where: Hostile(
        "control_body",
        body=json.dumps({key: f"ab{char}cd"} if where else {f"k{char}": 1}),
        codes=frozenset({"invalid_character", "validation_error"}),
    ),
    st.sampled_from(["order_id", "name", "burn_id", "card_code", "external_id", "batch_id"]),
    st.sampled_from(CONTROL_CHARACTERS),
    st.booleans(),
)

control_in_path = st.builds(
    lambda prefix, char: Hostile(
        "control_path", path_value=f"{prefix}{char}x", codes=frozenset({"invalid_character"})
    ),
    st.sampled_from(["abc", "2990000000017", "a-b"]),
    st.sampled_from(CONTROL_CHARACTERS),
)

bad_query = st.builds(
    lambda value: Hostile("query", query={"limit": value, "file": "a.csv", "cursor": "x"}),
    st.text(alphabet=NON_ASCII_DIGITS, min_size=1, max_size=3)
    | st.sampled_from(["1_0", " 5", "true", "5\x00", "-1", "99999999999999999999999"]),
)

wrong_content_types = st.builds(
    lambda media: Hostile(
        "content_type",
        body='{"points": 1}',
        headers={"Content-Type": media},
        codes=frozenset({"unsupported_media_type"}),
    ),
    st.sampled_from(
        [
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "application/xml",
            "text/json",
            "application/jsonx",
            "image/png",
        ]
    ),
)

invalid_utf8 = st.builds(
    lambda raw: Hostile(
        "invalid_utf8",
        body=base64.b64encode(raw).decode(),
        base64=True,
        codes=frozenset({"invalid_encoding"}),
    ),
    st.sampled_from([b'{"a": "\xff"}', b'{"a": "\xc3\x28"}', b'{"name": "\xed\xa0\x80"}', b"\x80\x81"]),
) | st.builds(
    lambda escape: Hostile(
        "lone_surrogate", body=f'{{"name": "a{escape}b"}}', codes=frozenset({"invalid_encoding"})
    ),
    st.sampled_from(["\\ud800", "\\udfff", "\\udbff"]),
)

not_json = st.builds(
    lambda text: Hostile("not_json", body=text),
    st.sampled_from(["{", "[1,", '{"a":}', "\x00", "nul", '{"a": 01}', "{'a': 1}"]),
)

HOSTILE = st.one_of(
    deep_bodies,
    duplicate_keys,
    non_finite,
    lax_numbers,
    huge_bodies,
    control_in_body,
    control_in_path,
    bad_query,
    wrong_content_types,
    invalid_utf8,
    not_json,
)
