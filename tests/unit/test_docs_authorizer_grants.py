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
