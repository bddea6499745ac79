"""docs/architecture.md's code layout is the package as it is: each folder's row names every
module of that folder (by name, or by a pattern such as `apply_<scope>.py` or `*_store.py`), and
every module a row names exists there; the package's top-level modules and `scripts/` each have
a row. A newcomer reads the table to find where something lives."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "functions" / "loyalty_engine"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
ROW = re.compile(r"^\| `([^`]+)` \|(.*)\|\s*$")
CODE = re.compile(r"`([^`]+)`")


def layout_rows() -> dict[str, str]:
    """path -> what the row says, for the rows of the code layout table."""
    text = ARCHITECTURE.read_text()
    table = text.split("## Code layout", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for line in table.splitlines() if (m := ROW.match(line))}


def named_modules(text: str, folder: str) -> list[str]:
    """The `.py` names a row gives for its own folder: bare names, or `<folder>/name.py`; a
    `<part>` or `*` is a wildcard."""
    names = []
    for code in CODE.findall(text):
        for token in re.split(r"[\s,()]+", code):
            if not token.endswith(".py"):
                continue
            if "/" in token:
                parent, _, token = token.rpartition("/")
                if parent != folder:
                    continue
            names.append(re.sub(r"<[^>]+>", "*", token))
    return names


def capability_folders() -> list[str]:
    return sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")


@pytest.mark.parametrize("folder", capability_folders())
def test_each_folder_row_names_exactly_the_modules_of_its_folder(folder: str) -> None:
    rows = layout_rows()
    text = rows.get(f"functions/loyalty_engine/{folder}/")
    assert text is not None, f"no row for functions/loyalty_engine/{folder}/"
    names = named_modules(text, folder)
    modules = sorted(p.name for p in (PACKAGE / folder).glob("*.py") if p.name != "__init__.py")
    unnamed = [m for m in modules if not any(fnmatchcase(m, name) for name in names)]
    missing = [name for name in names if not any(fnmatchcase(m, name) for m in modules)]
    assert not unnamed, f"{folder}/: modules the row does not name"
    assert not missing, f"{folder}/: names of the row that are no module there"


@pytest.mark.parametrize("folder", ["infra", "local_stack"])
def test_the_infra_and_local_stack_rows_name_every_module(folder: str) -> None:
    text = layout_rows().get(f"{folder}/")
    assert text is not None, f"no row for {folder}/"
    names = named_modules(text, folder)
    modules = sorted(p.name for p in (ROOT / folder).glob("*.py") if p.name != "__init__.py")
    assert not [m for m in modules if not any(fnmatchcase(m, name) for name in names)]
    assert not [name for name in names if not any(fnmatchcase(m, name) for m in modules)]


def test_top_level_modules_and_scripts_have_a_row() -> None:
    rows = layout_rows()
    files = [f"functions/loyalty_engine/{p.name}" for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    files += [f"scripts/{p.name}" for p in (ROOT / "scripts").glob("*.py")]
    text = " ".join(f"{path} {what}" for path, what in rows.items())
    assert not [f for f in sorted(files) if f not in rows and Path(f).name not in text]


def test_the_queue_fed_functions_named_are_the_wirings() -> None:
    from loyalty_engine.wiring import FUNCTIONS

    sentence = re.search(r"Queue-fed functions \(([^)]*)\)", ARCHITECTURE.read_text())
    assert sentence is not None
    named = {name.strip() for name in sentence.group(1).split(",")}
    assert named == {function.name for function in FUNCTIONS if function.queue_trigger is not None}
