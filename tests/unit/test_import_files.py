"""Import file names, file dates, and the streaming CSV reader (pure: no AWS)."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from loyalty_engine.imports.files import (
    FileRejected,
    Record,
    Scope,
    ValueProblem,
    detect_separator,
    first_line,
    parse_file_datetime,
    parse_file_name,
    read_records,
    split_incoming_key,
    spreadsheet_safe,
)

# --- file names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "scope", "subsection", "day"),
    [
        ("demo_masterreward_silver_20190214.csv", Scope.MASTERREWARD, "silver", date(2019, 2, 14)),
        ("demo_earnreward_silver_20190214.csv", Scope.EARNREWARD, "silver", date(2019, 2, 14)),
        ("demo_burnreward_silver_20190214.csv", Scope.BURNREWARD, "silver", date(2019, 2, 14)),
        # the subsection may hold underscores: the date and scope anchor the split
        ("demo_earnreward_gold_club_fr_20200229.csv", Scope.EARNREWARD, "gold_club_fr", date(2020, 2, 29)),
    ],
)
def test_file_name_parts(name, scope, subsection, day):
    parsed = parse_file_name(name, "demo")
    assert (parsed.universe, parsed.scope, parsed.subsection, parsed.day) == ("demo", scope, subsection, day)
    assert parsed.name == name


@pytest.mark.parametrize(
    "name",
    [
        "catalog.csv",
        "demo_masterreward_20180801.csv",  # no subsection
        "demo_giftreward_silver_20180801.csv",  # unknown scope
        "demo_masterreward_silver_2018080.csv",  # 7 digits
        "demo_masterreward_silver_20180801.txt",
        "demo_masterreward_silver_20180801.CSV",  # the schema's lower case, exactly
        "demo_masterreward_silver_20180801.csv\n",  # a final newline (`$` alone would match)
        "demo_MASTERREWARD_silver_20180801.csv",
        "demo_BurnReward_silver_20180801.csv",
        "demo_masterreward_silver_20180801.csv.bak",
        "demo_masterreward_silver_20180230.csv",  # 30 February
        "demo_masterreward_silver_20190229.csv",  # not a leap year
        "demo_masterreward_silver_20181301.csv",
        "demo_masterreward__20180801.csv",  # empty subsection
        "_masterreward_silver_20180801.csv",  # empty universe
    ],
)
def test_invalid_file_names(name):
    with pytest.raises(FileRejected) as raised:
        parse_file_name(name, "demo")
    assert raised.value.code == "invalid_file_name"
    assert raised.value.message


@pytest.mark.parametrize(
    "name",
    [
        "other_masterreward_silver_20180801.csv",
        "Demo_masterreward_silver_20180801.csv",  # the group slug is lower case: no match
        "demo-b_masterreward_silver_20180801.csv",
    ],
)
def test_file_of_another_universe_is_rejected(name):
    with pytest.raises(FileRejected) as raised:
        parse_file_name(name, "demo")
    assert raised.value.code == "wrong_universe"
    assert "demo" in raised.value.message


def test_order_is_date_then_scope():
    names = [
        "demo_burnreward_silver_20180801.csv",
        "demo_masterreward_silver_20180802.csv",
        "demo_earnreward_silver_20180801.csv",
        "demo_masterreward_silver_20180801.csv",
        "demo_earnreward_silver_20180731.csv",
    ]
    ordered = sorted((parse_file_name(n, "demo") for n in names), key=lambda f: f.order)
    assert [f.name for f in ordered] == [
        "demo_earnreward_silver_20180731.csv",
        "demo_masterreward_silver_20180801.csv",
        "demo_earnreward_silver_20180801.csv",
        "demo_burnreward_silver_20180801.csv",
        "demo_masterreward_silver_20180802.csv",
    ]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            "incoming/demo/demo_masterreward_silver_20180801.csv",
            ("demo", "demo_masterreward_silver_20180801.csv"),
        ),
        ("incoming/demo/nested/file.csv", None),
        ("incoming//file.csv", None),
        ("incoming/demo/", None),
        ("reports/demo/file.csv", None),
    ],
)
def test_split_incoming_key(key, expected):
    assert split_incoming_key(key) == expected


# --- reading records -------------------------------------------------------------------


def records(data: bytes, separator: str = ";", chunk: int | None = None) -> list[Record]:
    chunks = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    return list(read_records(chunks, separator=separator))


SAMPLE = (
    b"\xef\xbb\xbfexternal_id;name\r\n"
    b'a;"first"\r\n'
    b'"b";"two\r\nlines"\r\n'
    b"\r\n"
    b'c;"with ""quotes"" and ; inside"\n'
    b"d;last"
)


def test_records_lines_offsets_and_raw_text():
    found = records(SAMPLE)
    assert [r.fields for r in found] == [
        ["external_id", "name"],
        ["a", "first"],
        ["b", "two\nlines"],
        ["c", 'with "quotes" and ; inside'],
        ["d", "last"],
    ]
    assert [(r.line, r.last_line) for r in found] == [(1, 1), (2, 2), (3, 4), (6, 6), (7, 7)]
    assert found[0].raw == "external_id;name"  # BOM and line end removed
    assert found[2].raw == '"b";"two\nlines"'
    assert found[-1].end == len(SAMPLE)
    # each record ends where the next one's bytes begin (the blank line belongs to the next)
    for record, following in itertools.pairwise(found):
        assert SAMPLE[record.end :].lstrip(b"\r\n").startswith(following.raw.split("\n")[0].encode())


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, None])
def test_chunk_boundaries_do_not_change_records(chunk):
    assert records(SAMPLE, chunk=chunk) == records(SAMPLE)


def test_resuming_from_a_record_end_reads_the_same_remaining_records():
    found = records(SAMPLE)
    for index, record in enumerate(found):
        rest = list(
            read_records(
                [SAMPLE[record.end :]], separator=";", offset=record.end, first_line=record.last_line + 1
            )
        )
        assert rest == found[index + 1 :]


def test_bom_only_skipped_at_the_start_of_the_file():
    assert records(b"\xef\xbb\xbfa;b\n")[0].fields == ["a", "b"]
    # resuming mid-file: the bytes are decoded as they are (a BOM there is a character)
    (record,) = read_records([b"\xef\xbb\xbfa;b\n"], separator=";", offset=10, first_line=3)
    assert record.fields == ["\ufeffa", "b"]
    assert (record.line, record.end) == (3, 17)


def test_lf_and_crlf_read_alike():
    lf = records(b"a;b\n1;2\n3;4\n")
    crlf = records(b"a;b\r\n1;2\r\n3;4\r\n")
    assert [r.fields for r in lf] == [r.fields for r in crlf] == [["a", "b"], ["1", "2"], ["3", "4"]]
    assert [r.raw for r in crlf] == ["a;b", "1;2", "3;4"]
    assert [r.end for r in crlf] == [5, 10, 15]


def test_comma_separator():
    assert records(b'a,b\n"1,5",2\n', separator=",")[1].fields == ["1,5", "2"]


@pytest.mark.parametrize(
    ("data", "code", "line"),
    [
        (b"a;b\n1;\xff\n", "not_utf8", 2),
        (b"a;b\n1;2\x00\n", "invalid_character", 2),
        (b'a;b\n1;"never closed\n2;3\n', "unterminated_quote", 2),
        (b'a;b\n1;"never closed', "unterminated_quote", 2),
        (b"\xff\xfea\x00;\x00b\x00\n\x00", "not_utf8", 1),  # UTF-16
    ],
)
def test_unreadable_files_are_rejected(data, code, line):
    with pytest.raises(FileRejected) as raised:
        records(data)
    assert (raised.value.code, raised.value.line) == (code, line)


@pytest.mark.parametrize("data", [b"a;b\r1;2\r3;4\r", b"a;b\n1;2\r3;4\n"])
def test_lines_ended_by_a_carriage_return_alone_are_rejected_with_what_to_do(data):
    """A spreadsheet's "CSV (Macintosh)" ends lines with CR alone: the file is refused, and the
    message says so instead of quoting Python's csv module."""
    with pytest.raises(FileRejected) as raised:
        records(data)
    assert raised.value.code == "malformed_csv"
    assert "carriage return" in raised.value.message and "LF or CRLF" in raised.value.message
    assert "universal-newline" not in raised.value.message


def test_a_record_over_one_mebibyte_is_rejected():
    big = b"a;b\n1;" + b"x" * (1 << 20) + b"\n"
    with pytest.raises(FileRejected) as raised:
        records(big, chunk=64 * 1024)
    assert raised.value.code == "line_too_long"
    # one record over many physical lines (small quoted values, each with a newline)
    spread = b"a;b\n1;" + b";".join([b'"y\ny"'] * 250_000) + b"\n"
    with pytest.raises(FileRejected) as raised:
        records(spread)
    assert raised.value.code == "line_too_long"
    assert raised.value.line is not None and raised.value.line > 2  # the physical line where it went over


def test_a_value_over_the_csv_modules_default_limit_is_read():
    # the csv module stops at 131,072 characters by default; a long value is a line's problem
    data = b'a;b\n1;"' + b"z" * 200_000 + b'"\n2;3\n'
    found = records(data)
    assert [(r.line, len(r.fields[1])) for r in found] == [(1, 1), (2, 200_000), (3, 1)]


def test_header_line_and_separator():
    assert first_line([b"\xef\xbb\xbfa;b,c\r\n1;2"]) == "a;b,c\r"
    assert detect_separator("a;b,c") == ";"
    assert detect_separator("a,b") == ","
    assert detect_separator("a") == ";"
    assert first_line([b"a,", b"b\n1,2"]) == "a,b"


def test_the_separator_comes_from_the_header_after_blank_lines():
    """Blank lines before the header are skipped when reading records: the separator is the
    header's, not the blank first line's."""
    assert first_line([b"\xef\xbb\xbf\r\n\na,b\r\n1,2"]) == "a,b\r"
    assert first_line([b"\n", b"\n", b"a,b\n1,2"]) == "a,b"
    assert detect_separator(first_line([b"\n\na,b\n1,2\n"])) == ","


def test_the_separator_comes_from_the_header_after_empty_rows():
    """A spreadsheet's empty rows (`;;;`, `,,`, blanks) before the header are skipped as blank
    lines are, by the separator's choice as by the reading of records."""
    assert first_line([b";;;\r\n  \n,,\r\na,b\n1,2"]) == "a,b"
    assert detect_separator(first_line([b'"";""\n\t\na\tb\n'])) == ";"
    assert [r.fields for r in read_records([b";;\n a ;b\n ; \n1;2\n,"], separator=";")] == [
        [" a ", "b"],
        ["1", "2"],
    ]
    # the rows the separator's choice skipped are skipped by the reading too: the header is a,b
    comma_file = [b";;;\r\n  \n,,\r\na,b\n1,2"]
    assert detect_separator(first_line(comma_file)) == ","
    assert [(r.line, r.fields) for r in read_records(comma_file, separator=",")] == [
        (4, ["a", "b"]),
        (5, ["1", "2"]),
    ]
    assert [r.fields for r in read_records([b'a;b\n,,\n1;","\n'], separator=";")] == [
        ["a", "b"],
        ["1", ","],
    ]


def test_the_separator_skips_the_same_blank_rows_as_the_records():
    """A row of blanks that read_records skips (any Unicode blank: a no-break space, a form
    feed) is skipped by the separator's choice too, or a comma header is read with ';'."""
    for blank in ("\u00a0", "\u00a0,\u00a0", "\x0c", "\u3000", "\u2003,,"):
        data = f"{blank}\r\na,b\n1,2\n".encode()
        assert [r.fields for r in read_records([data], separator=",")] == [["a", "b"], ["1", "2"]]
        assert first_line([data]) == "a,b", blank
        assert detect_separator(first_line([data])) == ","


# --- reports ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain", "plain"),
        ("a=1", "a=1"),
        ("", ""),
    ],
)
def test_spreadsheet_safe(text, expected):
    assert spreadsheet_safe(text) == expected


def test_only_ascii_digits_make_dates_and_integers():
    from loyalty_engine.imports.rows import LineSkipped, master_spec

    with pytest.raises(ValueProblem):
        parse_file_datetime("\uff12\uff10\uff11\uff18-08-01 10:00:00", time_optional=False)  # fullwidth 2018
    row = {
        "name": "n",
        "monetary": "0",
        "nqp_value": "\u0663",  # ARABIC-INDIC DIGIT THREE
        "holding_days": "0",
        "validity_interval_count": "1",
        "validity_interval_type": "day",
        "forced_validity": "0",
        "max_attribution_count": "1",
    }
    with pytest.raises(LineSkipped):
        master_spec(row, None, False)


@pytest.mark.parametrize("text", ["9,99", "1 000.5", "1,000.50"])
def test_a_decimal_comma_or_thousands_separator_is_refused_with_what_to_write(text):
    """A spreadsheet in a French locale writes 9,99: the message says the decimals follow a dot
    and digits are not grouped."""
    from loyalty_engine.imports.rows import LineSkipped, master_spec

    row = {
        "name": "n",
        "monetary": "1",
        "monetary_type": "value",
        "monetary_value": text,
        "nqp_value": "1",
        "holding_days": "0",
        "validity_interval_count": "1",
        "validity_interval_type": "day",
        "forced_validity": "0",
        "max_attribution_count": "1",
    }
    with pytest.raises(LineSkipped) as raised:
        master_spec(row, None, False)
    assert (raised.value.code, raised.value.field) == ("invalid_number", "monetary_value")
    assert "9.99" in raised.value.message and "no thousands separator" in raised.value.message
