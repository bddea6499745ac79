"""The header line of an import file: its column names checked against the scope's columns.

A bad header rejects the whole file (`FileRejected`); the columns are in `rows.COLUMNS`.
"""

from __future__ import annotations

from loyalty_engine.imports.files import FileRejected, Scope, header_hint
from loyalty_engine.imports.rows import COLUMNS


def check_header(scope: Scope, fields: list[str], line: int = 1) -> list[str]:
    """The header's column names (trimmed, lower case); raises FileRejected naming `line`, the
    header's (after any blank lines)."""
    names = [name.strip().lower() for name in fields]
    while len(names) > 1 and names[-1] == "":
        names.pop()  # a separator ending every line (an export's habit): no column, nothing lost
    columns = COLUMNS[scope]
    if "" in names:  # a stray separator inside the header: no column to name
        position = names.index("") + 1
        raise FileRejected(
            "unknown_column",
            f"column {position} of the header has no name: remove the extra separator (or name the column)",
            line,
        )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise FileRejected("duplicate_column", f"column {name!r} appears twice in the header", line)
        seen.add(name)
    unknown = [name for name in names if name not in columns.known]
    if unknown:
        hint = header_hint(unknown, columns.known) or (
            " (custom columns c0..c31 are for masterreward files only)" if scope != Scope.MASTERREWARD else ""
        )
        raise FileRejected("unknown_column", f"unknown column(s) {', '.join(map(repr, unknown))}{hint}", line)
    missing = [name for name in columns.mandatory if name not in seen]
    if missing:
        raise FileRejected("missing_column", f"mandatory column(s) missing: {', '.join(missing)}", line)
    return names
