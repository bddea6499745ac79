"""Fuzzing the import file reader, header check and line parsing (pure: no AWS).

Whatever the bytes, the only exceptions that may come out are the ones the importer
handles: `FileRejected` (the whole file), `LineSkipped` or `RuleBroken` (one line).
Anything else would crash the import function on every delivery of the file, and keep
every later file of the subsection waiting behind it.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from loyalty_engine.imports.apply_rewardcode import code_of
from loyalty_engine.imports.files import (
    FileRejected,
    Scope,
    detect_separator,
    file_day_start,
    first_line,
    read_records,
)
from loyalty_engine.imports.header import check_header
from loyalty_engine.imports.rows import (
    COLUMNS,
    LineSkipped,
    burn_line,
    earn_line,
    master_external_id,
    master_spec,
    row_of,
)
from loyalty_engine.imports.rows_members import member_line, vip_line
from loyalty_engine.rewards.models import RewardSpec, RuleBroken

NOW = datetime(2018, 8, 1, 9, 0, tzinfo=UTC)
HANDLED = (FileRejected, LineSkipped, RuleBroken)


def parse_file(data: bytes, scope: Scope, *, null_erases: bool, chunk: int = 4096) -> tuple[int, int]:
    """The importer's pure steps over a whole file: (lines parsed, lines skipped).

    Raises FileRejected when the importer would reject the file.
    """
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)] or [b""]
    separator = detect_separator(first_line(chunks))
    records = read_records(chunks, separator=separator)
    header_record = next(records, None)
    if header_record is None:
        return 0, 0
    header = check_header(scope, header_record.fields)
    stored: dict[str, RewardSpec] = {}
    parsed = skipped = 0
    for record in records:
        try:
            row = row_of(header, record.fields)
            if scope == Scope.MASTERREWARD:
                external_id = master_external_id(row)
                stored[external_id] = master_spec(row, stored.get(external_id), null_erases)
            elif scope == Scope.EARNREWARD:
                earn_line(row, NOW, file_day_start(NOW))
            elif scope == Scope.BURNREWARD:
                burn_line(row).burned_at(NOW)
            elif scope == Scope.REWARDCODE:
                master_external_id(row)
                code_of(row)
            elif scope == Scope.MEMBER:
                member_line(row)
            else:
                vip_line(row)
            parsed += 1
        except (LineSkipped, RuleBroken) as problem:
            assert problem.code and problem.message
            skipped += 1
    return parsed, skipped


def outcome(data: bytes, scope: Scope, *, null_erases: bool = False, chunk: int = 4096) -> str:
    """'rejected:<code>' or 'read:<parsed>/<skipped>'; any other exception fails the test."""
    try:
        parsed, skipped = parse_file(data, scope, null_erases=null_erases, chunk=chunk)
    except FileRejected as rejection:
        assert rejection.code and rejection.message
        return f"rejected:{rejection.code}"
    return f"read:{parsed}/{skipped}"


# --- strategies ------------------------------------------------------------------------

ALL_COLUMNS = sorted({c for columns in COLUMNS.values() for c in columns.known})

TEXT = st.characters(codec="utf-8", exclude_characters="\x00")  # NUL: injected on its own below
# (year 0001 has its own test below: its first hour crashes the parser)
years = st.sampled_from(["0000", "0002", "1900", "1969", "2018", "2020", "9999"])
datetimes = st.builds(
    lambda y, mo, d, h, mi, s, sep: f"{y}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}",
    years,
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from([" ", "T", "  "]),
)
plausible_datetimes = st.datetimes(datetime(2018, 7, 1), datetime(2019, 12, 31)).map(
    lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S")
)
dates = st.builds(lambda y, mo, d: f"{y}-{mo:02d}-{d:02d}", years, st.integers(0, 13), st.integers(0, 32))
numbers = st.one_of(
    st.integers(-10, 10**16).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        ["1e3", "1E-2", "0x10", "1_000", " 7 ", "\u0663", "\uff11\uff12", "NaN", "-0", "3.", ".5"]
    ),
)
words = st.sampled_from(
    [
        "",
        "NULL",
        " NULL",
        "null",
        "0",
        "1",
        "2",
        "day",
        "Weeks",
        "MONTH",
        "years",
        "fortnight",
        "value",
        "percentage",
        "=1+1",
        "@cmd",
        "-1",
        "a/b",
        "a#b",
        "\t",
        " ",
        '"',
        ";",
        ",",
    ]
)
cells = st.one_of(
    words,
    numbers,
    datetimes,
    dates,
    st.text(alphabet=TEXT, max_size=12),
    st.text(alphabet=TEXT, min_size=120, max_size=140),
)


def rarely(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in `one_in` draws (a middle value: Hypothesis favours the bounds)."""
    return draw(st.integers(0, one_in - 1)) == one_in // 2


def weighted(draw: st.DrawFn, common: list[object], rare: list[object], rare_in: int = 8) -> object:
    """One of `common`, or one of `rare` about once in `rare_in` draws."""
    pool = rare if rare and rarely(draw, rare_in) else common
    return draw(st.sampled_from(pool))


def suited_cells(column: str) -> st.SearchStrategy[str]:
    """Mostly values that suit the column (so that lines get far into the checks), else anything."""
    suited: dict[str, st.SearchStrategy[str]] = {
        "monetary": st.sampled_from(["0", "1", ""]),
        "forced_validity": st.sampled_from(["0", "1", ""]),
        "is_limited": st.sampled_from(["0", "1", ""]),
        "is_auto_generated": st.sampled_from(["0", "1", ""]),
        "monetary_type": st.sampled_from(["value", "percentage", "Value", ""]),
        "validity_interval_type": st.sampled_from(["day", "weeks", "Month", "YEARS"]),
        "external_id": st.sampled_from(["r1", "r2", "R-3"]),
        "reward_id": st.sampled_from(["r1", "r2"]),
        "card_code": st.sampled_from(["CC0001", "CC0002"]),
        "attribution_id": st.sampled_from(["a1", "a2", ""]),
        "name": st.sampled_from(["Coffee", "Tea"]),
    }
    if column.startswith("c") and column[1:].isdigit():
        suited[column] = st.text(alphabet=TEXT, max_size=10)
    if "date" in column or "forced_validity_" in column:
        suited[column] = st.one_of(plausible_datetimes, plausible_datetimes, datetimes, dates)
    if column in (
        "nqp_value",
        "holding_days",
        "validity_interval_count",
        "max_attribution_count",
        "quantity",
    ):
        suited[column] = st.integers(0, 20).map(str)
    if column == "monetary_value":
        suited[column] = st.decimals(0, 200, places=2).map(str)
    return suited.get(column, cells)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[Scope, bytes]:
    """Text that looks like an import file: a plausible header, rows of odd values (some
    ragged), in one of several encodings, separators, quotings and line endings."""
    scope = draw(st.sampled_from(list(Scope)))
    columns = COLUMNS[scope]
    header = [] if rarely(draw, 10) else list(columns.mandatory)
    if columns.optional:
        header += draw(st.lists(st.sampled_from(sorted(columns.optional)), max_size=5))
    if rarely(draw, 10):
        header.append(draw(st.sampled_from([*ALL_COLUMNS, "c32", "unknown", ""])))
    if not rarely(draw, 20):
        header = list(dict.fromkeys(header))  # else: maybe a column twice
    header = draw(st.permutations(header)) if header else ["external_id"]
    header = [h.upper() if rarely(draw, 10) else h for h in header]
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        row = [draw(cells if rarely(draw, 8) else suited_cells(name.lower())) for name in header]
        if rarely(draw, 10):
            row = row[:-1] if draw(st.booleans()) else [*row, draw(cells)]
        rows.append(row)
    separator = weighted(draw, [";", ","], ["\t", "|"])
    quoting = draw(st.sampled_from(["never", "always", "minimal", "random"]))
    newline = weighted(draw, ["\n", "\r\n"], ["\r", "\n\n", "\r\r\n"])

    def render(cell: str) -> str:
        quote = {
            "never": False,
            "always": True,
            "minimal": any(c in cell for c in f'{separator}"\r\n'),
        }.get(quoting)
        if quote is None:
            quote = draw(st.booleans())
        if quote:
            text = '"' + cell.replace('"', '""') + '"'
            if rarely(draw, 30):
                text = text[:-1]  # unbalanced
            return text
        return cell

    lines = [separator.join(render(c) for c in row) for row in [header, *rows]]
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    encoding = weighted(draw, ["utf-8", "utf-8-sig"], ["latin-1", "utf-16", "cp1252"], rare_in=5)
    data = text.encode(str(encoding), errors="replace")
    if rarely(draw, 16):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\x00" + data[at:]
    return scope, data


# --- properties ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files(), st.booleans(), st.sampled_from([1, 3, 64, 4096]))
def test_csv_like_files_only_raise_handled_errors(file, null_erases, chunk):
    scope, data = file
    first = outcome(data, scope, null_erases=null_erases, chunk=chunk)
    # how the bytes are cut into chunks never changes the outcome
    assert outcome(data, scope, null_erases=null_erases) == first


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(Scope)), st.binary(max_size=400), st.booleans())
@example(Scope.MASTERREWARD, b"\xef\xbb\xbf", False)
@example(Scope.MASTERREWARD, b"\xff\xfe\x00\x00", False)
@example(Scope.BURNREWARD, b'card_code;attribution_id\n"', False)
def test_random_bytes_only_raise_handled_errors(scope, data, with_header):
    if with_header:
        data = ";".join(COLUMNS[scope].mandatory).encode() + b"\n" + data
    outcome(data, scope)


MASTER_HEADER = ";".join((*COLUMNS[Scope.MASTERREWARD].mandatory, "is_auto_generated", "description"))


@pytest.mark.parametrize(
    ("size", "style", "expected"),
    [
        (70_000, "plain", "read:1/1"),  # the description is too long: that line is skipped
        (131_072, "quoted", "read:1/1"),
        (131_073, "plain", "read:1/1"),  # past the csv module's default field limit: still a line problem
        (140_000, "quoted_newlines", "read:1/1"),
        (1_048_000, "quoted", "read:1/1"),
        (1_048_576, "plain", "rejected:line_too_long"),  # the record is over 1 MiB
        (2_000_000, "quoted", "rejected:line_too_long"),
        (2_000_000, "quoted_newlines", "rejected:line_too_long"),
    ],
)
def test_huge_values(size, style, expected):
    value = {
        "plain": "x" * size,
        "quoted": '"' + "x" * size + '"',
        "quoted_newlines": '"' + "x\n" * (size // 2) + '"',
    }[style]
    lines = [MASTER_HEADER, f"big;Big;0;10;0;1;day;0;1;{value}", "after;After;0;10;0;1;day;0;1;", ""]
    assert outcome("\n".join(lines).encode(), Scope.MASTERREWARD, chunk=1 << 20) == expected


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(Scope)), st.lists(st.one_of(datetimes, dates), min_size=1, max_size=4))
def test_date_cells_only_raise_handled_errors(scope, values):
    for value in values:
        with contextlib.suppress(HANDLED):
            parse_date_cell(scope, value)


@pytest.mark.parametrize("scope", list(Scope))
def test_year_one_dates_are_skipped_lines(scope):
    with pytest.raises(LineSkipped):
        parse_date_cell(scope, "0001-01-01 00:00:00")


def parse_date_cell(scope: Scope, value: str) -> None:
    """One line of `scope` whose date column holds `value`."""
    row = {name: "" for name in COLUMNS[scope].mandatory}
    if scope == Scope.MASTERREWARD:
        row |= {"name": "n", "nqp_value": "1", "holding_days": "0", "validity_interval_count": "1"}
        row |= {"validity_interval_type": "day", "forced_validity": "1", "max_attribution_count": "1"}
        row |= {"forced_validity_start": value, "forced_validity_end": "2030-01-01"}
        master_spec(row, None, False)
    elif scope == Scope.EARNREWARD:
        row |= {"reward_id": "r", "card_code": "c", "validity_start_date": value}
        row |= {"validity_end_date": "2030-01-01 00:00:00"}
        earn_line(row, NOW, file_day_start(NOW))
    else:
        burn_line(row | {"card_code": "c", "attribution_id": "a", "burn_date": value}).burned_at(NOW)


@pytest.mark.parametrize("external_id", [".", ".."])
def test_a_dot_segment_external_id_is_skipped_as_an_invalid_value(external_id: str) -> None:
    from loyalty_engine.imports.rows import LineSkipped, master_external_id

    with pytest.raises(LineSkipped) as skipped:
        master_external_id({"external_id": external_id})
    assert (skipped.value.code, skipped.value.field) == ("invalid_value", "external_id")
    assert master_external_id({"external_id": "..."}) == "..."
