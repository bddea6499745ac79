"""Partner import files: names, bucket layout, order, dates, and reading CSV as records.

A partner of loyalty group G uploads `incoming/G/<universe>_<scope>_<subsection>_<YYYYMMDD>.csv`;
reports are written to `reports/G/<name>/` (one pair per upload), and a file that has been handled (applied or
rejected) is moved to `processed/G/`.

Reading is streaming: records come from an iterator of byte chunks, each with the byte
offset just after it, so that an interrupted import resumes from its last checkpoint with
a ranged read instead of starting over.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

from loyalty_engine.imports.jobs import Scope

INCOMING = "incoming/"
REPORTS = "reports/"
PROCESSED = "processed/"

MAX_DATA_LINES = 200_000
# Blank lines and a spreadsheet's empty rows are skipped, not data lines; a file may hold this
# many (more than the 1,048,576 rows of a spreadsheet) before it is refused (`too_many_lines`),
# so that a file of nothing but line ends cannot keep the importer reading for its whole size.
MAX_BLANK_LINES = 2_000_000
# The upload route's cap (`POST /v1/imports/uploads`): 200,000 lines of 1 KiB and headroom. The
# importer refuses a larger file unread (`file_too_large`: one put with `aws s3 cp` has no cap).
MAX_UPLOAD_BYTES = 256 << 20
MAX_RECORD_BYTES = 1 << 20  # a record (line) larger than 1 MiB rejects the file: it cannot be resynchronised
FILE_TZ = timezone(timedelta(hours=1), "GMT+1")  # import files speak fixed GMT+1, no daylight saving


# exactly the schema (DOMAIN.md: any other name is rejected): scope and extension in lower case
_NAME = re.compile(
    r"^(?P<universe>[^_/]+)_(?P<scope>[a-zA-Z]+)_(?P<subsection>[^/]+)_(?P<date>[0-9]{8})\.csv$"
)


class FileRejected(Exception):
    """The whole file is refused; nothing of it is applied."""

    def __init__(self, code: str, message: str, line: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line


@dataclass(frozen=True)
class FileName:
    name: str
    universe: str
    scope: Scope
    subsection: str
    day: date

    @property
    def order(self) -> tuple[date, int, str]:
        return (self.day, self.scope.rank, self.name)


def parse_file_name(name: str, group: str) -> FileName:
    """The parts of `<universe>_<scope>_<subsection>_<YYYYMMDD>.csv`; raises FileRejected."""
    match = _NAME.fullmatch(name)  # `$` alone would let a final newline through
    expected = "expected <universe>_<scope>_<subsection>_<YYYYMMDD>.csv"
    if not match:
        raise FileRejected("invalid_file_name", f"{name!r} does not follow the naming schema: {expected}")
    scope_text = match["scope"]
    if scope_text not in Scope.__members__.values():
        raise FileRejected(
            "invalid_file_name",
            f"unknown scope {match['scope']!r}: one of {', '.join(s.value for s in Scope)}",
        )
    try:
        day = datetime.strptime(match["date"], "%Y%m%d").date()
    except ValueError:
        raise FileRejected("invalid_file_name", f"{match['date']!r} is not a date (YYYYMMDD)") from None
    if match["universe"] != group:
        raise FileRejected(
            "wrong_universe",
            f"the file names universe {match['universe']!r} but was uploaded for loyalty group {group!r}",
        )
    return FileName(name, match["universe"], Scope(scope_text), match["subsection"], day)


def split_incoming_key(key: str) -> tuple[str, str] | None:
    """(group, file name) of `incoming/<group>/<name>`, or None for a key outside that layout."""
    if not key.startswith(INCOMING):
        return None
    parts = key[len(INCOMING) :].split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def incoming_key(group: str, name: str) -> str:
    return f"{INCOMING}{group}/{name}"


KEY_NAME_MAX = 200  # bytes of a file's name in the keys made from it (an S3 key: 1,024 at most)


def key_name(name: str) -> str:
    """A file's name as the keys of its report and handled file hold it: one path segment (`/`
    as `_`, never `.` or `..`), and a name over KEY_NAME_MAX bytes cut, with a hash of the whole
    name, so that those keys stay within S3's 1,024 bytes (`incoming/<group>/<name>` may use
    them all). A well-named file's name is short and left as it is."""
    name = name.replace("/", "_")
    if name.strip(".") == "":
        name = "_" + name
    data = name.encode()
    if len(data) <= KEY_NAME_MAX:
        return name
    head = data[: KEY_NAME_MAX - 17].decode("utf-8", errors="ignore")
    return f"{head}~{hashlib.sha256(data).hexdigest()[:16]}"


def processed_key(group: str, name: str, job_id: str) -> str:
    return f"{PROCESSED}{group}/{job_id}/{key_name(name)}"


def report_keys(group: str, name: str, received_at: datetime, job_id: str) -> tuple[str, str]:
    """(JSON summary, CSV of skipped lines) of one import, next to each other under
    `reports/<group>/<name>/` (the name as `key_name` makes it): one pair per upload (a re-upload
    never overwrites the reports of an earlier one), listed in the order they were received."""
    stem = f"{REPORTS}{group}/{key_name(name)}/{received_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{job_id}"
    return f"{stem}.report.json", f"{stem}.skipped.csv"


# --- dates -------------------------------------------------------------------------------

_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_PARTIAL_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}(:[0-9]{2})?$")  # no seconds


class ValueProblem(Exception):
    """One cell's value is not acceptable: a stable reason code and a message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def parse_file_datetime(text: str, *, time_optional: bool) -> datetime:
    """`YYYY-MM-DD HH:MM:SS` in GMT+1 as a UTC datetime; a bare date only where the column allows it."""
    return _parse_file_datetime(text, time_optional)


@lru_cache(maxsize=4096)  # files repeat their dates (validity windows): parse each once
def _parse_file_datetime(text: str, time_optional: bool) -> datetime:
    value = text.strip()
    if _DATE.match(value):
        if not time_optional:
            raise ValueProblem("incomplete_datetime", f"{text!r} has no time: write YYYY-MM-DD HH:MM:SS")
        value += " 00:00:00"
    elif _PARTIAL_TIME.match(value):  # the seed: a time of hours and minutes only is not imported
        raise ValueProblem("incomplete_datetime", f"{text!r} has no seconds: write YYYY-MM-DD HH:MM:SS")
    elif not _DATETIME.match(value):
        raise ValueProblem("invalid_datetime", f"{text!r} is not a date and time (YYYY-MM-DD HH:MM:SS)")
    try:
        local = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=FILE_TZ)
        return local.astimezone(UTC)
    except (ValueError, OverflowError):  # 0001-01-01 00:30 GMT+1 has no UTC equivalent
        raise ValueProblem("invalid_datetime", f"{text!r} is not a valid date and time") from None


def file_day_start(instant: datetime) -> datetime:
    """Midnight GMT+1 of the day `instant` falls on, in UTC ("the import day")."""
    local = instant.astimezone(FILE_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


# --- records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    line: int  # physical line the record starts on (the header is line 1 of the file)
    fields: list[str]
    raw: str  # the record's text, as read
    end: int  # byte offset just after the record
    last_line: int  # physical line the record ends on


class _Lines:
    """Decoded physical lines for the csv module, with the byte offset and line number consumed."""

    def __init__(self, chunks: Iterable[bytes], offset: int, line: int):
        self._chunks = iter(chunks)
        self.offset = offset
        self.line = line - 1  # number of the last line handed out
        self.at_start = offset == 0
        self.eof = False
        self.current: list[str] = []  # the lines of the record being read
        self.current_bytes = 0

    def _raw_lines(self) -> Iterator[bytes]:
        pending = b""
        for chunk in self._chunks:
            if not chunk:
                continue
            pending += chunk
            start = 0
            while (newline := pending.find(b"\n", start)) >= 0:
                yield pending[start : newline + 1]
                start = newline + 1
            pending = pending[start:]
            if len(pending) > MAX_RECORD_BYTES:
                raise FileRejected(
                    "line_too_long", f"a line is longer than {MAX_RECORD_BYTES} bytes", self.line + 1
                )
        if pending:
            yield pending

    def __iter__(self) -> Iterator[str]:
        for raw in self._raw_lines():
            self.line += 1
            self.offset += len(raw)
            self.current_bytes += len(raw)
            if self.current_bytes > MAX_RECORD_BYTES:
                raise FileRejected(
                    "line_too_long", f"a record is longer than {MAX_RECORD_BYTES} bytes", self.line
                )
            if self.at_start:
                self.at_start = False
                if raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode Text"
                    raise FileRejected(
                        "not_utf8", "the file is UTF-16 (its BOM says so): save it as CSV UTF-8", 1
                    )
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise FileRejected(
                    "not_utf8",
                    f"line {self.line} is not UTF-8 (byte {error.start + 1}): save the file as UTF-8",
                    self.line,
                ) from None
            if "\x00" in text:
                raise FileRejected(
                    "invalid_character", f"line {self.line} contains a NUL character", self.line
                )
            if text.endswith("\r\n"):
                text = text[:-2] + "\n"
            self.current.append(text)
            yield text
        self.eof = True


def read_records(
    chunks: Iterable[bytes], *, separator: str, offset: int = 0, first_line: int = 1
) -> Iterator[Record]:
    """Records of a CSV byte stream from `offset` (a record boundary), skipping blank lines
    (and lines of empty or blank cells only: a spreadsheet's empty rows).

    Raises FileRejected for what makes the rest of the file unreadable: invalid UTF-8, an
    unterminated quote, a record over MAX_RECORD_BYTES.
    """
    lines = _Lines(chunks, offset, first_line)
    blank = 0
    # A long value is a line's problem (`too_long`), not the file's: let the csv module read
    # values as long as a record may be (its default stops at 128 KiB).
    csv.field_size_limit(MAX_RECORD_BYTES)
    reader = csv.reader(lines, delimiter=separator, quotechar='"', doublequote=True, strict=False)
    while True:
        start_line = lines.line + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            message = f"line {start_line}: {error}"
            if "\r" in "".join(lines.current):  # CRLF reads as LF: this CR ends a line alone
                message = (
                    f"line {start_line}: a line ends with a carriage return (CR) alone: "
                    "save the file with LF or CRLF line ends"
                )
            raise FileRejected("malformed_csv", message, start_line) from None
        if lines.eof:
            # the reader only asks past the last line from inside a quoted value
            raise FileRejected(
                "unterminated_quote", f"line {start_line}: a quoted value is never closed", start_line
            )
        raw = "".join(lines.current).rstrip("\r\n")
        lines.current, lines.current_bytes = [], 0
        if not any(field.translate(_SEPARATORS).strip() for field in fields):
            # a blank line, a whitespace-only one, or a spreadsheet's empty row (`;;;;`, and
            # `,,,` in a `;` file or `;;;` in a `,` one, as the separator's choice skips them)
            blank += 1
            if blank > MAX_BLANK_LINES:
                raise FileRejected(
                    "too_many_lines",
                    f"the file has more than {MAX_BLANK_LINES} blank lines or empty rows: remove them",
                    start_line,
                )
            continue
        yield Record(line=start_line, fields=fields, raw=raw, end=lines.offset, last_line=lines.line)


def detect_separator(header_line: str) -> str:
    """`;` is the format's separator; `,` is accepted when the header uses it instead."""
    if ";" in header_line:
        return ";"
    return "," if "," in header_line else ";"


_OTHER_SEPARATORS = {"\t": "tab", "|": "'|'"}


def header_hint(unknown: list[str], known: frozenset[str]) -> str:
    """A hint for a header whose unknown columns are known ones written another way: joined by
    another separator (a tab-separated export reads as one unknown column), or quoted after a
    space (CSV reads that quote as text). The unknown names alone say nothing of the cause."""
    for separator, named in _OTHER_SEPARATORS.items():
        if any(known.intersection(p.strip() for p in name.split(separator)) for name in unknown):
            return f" (the header looks {named}-separated: files use ';', or ',' throughout)"
    if any(name.startswith('"') and name.strip('" ') in known for name in unknown):
        return " (a quote after a space is read as text: remove the spaces around the separators)"
    return ""


def first_line(chunks: Iterable[bytes]) -> str:
    """The header line's text (BOM and the blank lines before it removed, as `read_records`
    skips them), to choose the separator before parsing."""
    head = b""
    for chunk in chunks:
        head += chunk
        if b"\n" in _after_blank_lines(head) or len(head) > MAX_RECORD_BYTES:
            break
    return _after_blank_lines(head).split(b"\n", 1)[0].decode("utf-8", errors="replace")


def _after_blank_lines(head: bytes) -> bytes:
    """From the first line with something but blanks, separators or quotes (as read_records
    skips the empty rows before the header)."""
    head, start = head.removeprefix(b"\xef\xbb\xbf"), 0
    while (newline := head.find(b"\n", start)) >= 0 and _blank_row(head[start:newline]):
        start = newline + 1
    return head[start:]


_NOT_VALUES = str.maketrans("", "", ';,"')
_SEPARATORS = str.maketrans("", "", ";,")


def _blank_row(line: bytes) -> bool:
    """Separators, quotes and blanks only: any Unicode blank (a no-break space, a form feed), as
    read_records' `str.strip` sees them, not ASCII's alone."""
    return not line.decode("utf-8", errors="replace").translate(_NOT_VALUES).strip()


# --- reports -----------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """Text a spreadsheet would run as a formula gets a leading apostrophe (OWASP's advice)."""
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text
