"""The pages that say what the authorizer's role may do on the table name every action and
attribute infra/table_grants.py grants it (they said `GetItem` only after the last-use marks
made it write too)."""

from __future__ import annotations

import re
from pathlib import Path

from infra.table_grants import KEY_USE_ATTRIBUTES, table_actions
from loyalty_engine.wiring import AUTHORIZER

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _paragraph(page: str, start: str) -> str:
    text = (DOCS / page).read_text()
    at = text.index(start)
    ends = [end for end in (text.find("\n- ", at), text.find("\n\n", at)) if end != -1]
    return re.sub(r"\s+", " ", text[at : min(ends, default=len(text))])


def test_the_pages_name_what_the_authorizers_role_may_do() -> None:
    actions = [action.removeprefix("dynamodb:") for action in table_actions(AUTHORIZER.table_access)]
    marks = [name for name in KEY_USE_ATTRIBUTES if name.endswith("_at")]
    for page, start in (("api.md", "The authorizer's role may"), ("decisions.md", "**The authorizer")):
        said = _paragraph(page, start)
        assert "only `GetItem`" not in said, (page, said)
        for name in actions + marks:
            assert f"`{name}`" in said, (page, name, said)


def _row(page: str, start: str) -> str:
    (row,) = [line for line in (DOCS / page).read_text().splitlines() if line.startswith(start)]
    return row


def test_the_table_page_has_the_key_items_last_use_marks_and_their_write() -> None:
    from loyalty_engine.access.models import ApiKey

    item = _row("table.md", "| `api_key` |")
    for name in ("last_used_at", "previous_secret_last_used_at"):
        assert name in ApiKey.model_fields and f"`{name}`" in item, (name, item)
    authorize = _row("table.md", "| authorize a key |")
    assert "GetItem" in authorize and "UpdateItem" in authorize, authorize
    keys_list = _row("table.md", "| list a group's keys |")
    assert "+ 1" in keys_list, keys_list  # prefix_page reads one item past the page
