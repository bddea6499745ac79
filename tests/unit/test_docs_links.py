"""The documentation's relative links lead somewhere, and the README stays a front door.

Every Markdown link or image `[text](target)` of README.md and docs/*.md whose target is not
external (`http:`, `https:`, `mailto:`, ...) must name a file or folder that exists, relative to
the page; a `#anchor` (alone, or after a `.md` target) must be the slug of a heading of that
page, by GitHub's rules. Links inside code (fenced blocks, inline code spans) are not links.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_BYTES = 15_000
PAGES = [README, *sorted(DOCS.glob("*.md"))]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) or ![alt](target), the target optionally in <...> and followed by a "title".
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s)]*)(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
EXTERNAL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # http:, https:, mailto:, ...


def prose_lines(text: str) -> list[str]:
    """The page's lines outside fenced code blocks."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None:
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                fence = None
        else:
            lines.append(line)
    return lines


def link_targets(text: str) -> list[str]:
    """The targets of the page's links and images, in order, code left out."""
    targets: list[str] = []
    for line in prose_lines(text):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            targets.append(match.group(1).strip("<>"))
    return targets


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its text lower-cased, punctuation but `-` and `_` dropped,
    each space a `-` (repeated headings are numbered by `anchors`)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor of a page: its headings' slugs (the second `x` is `x-1`) and HTML anchors."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose_lines(text):
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        found.update(HTML_ANCHOR.findall(line))
    return found


def dead_links(page: Path) -> list[str]:
    """What is wrong with the page's relative links, one line each; empty when nothing is."""
    problems: list[str] = []
    for target in link_targets(page.read_text(encoding="utf-8")):
        if not target or EXTERNAL.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / unquote(path_part)).resolve() if path_part else page
        if not destination.exists():
            problems.append(f"{page.name}: {target}: no such file")
            continue
        if (
            anchor
            and destination.suffix == ".md"
            and unquote(anchor) not in anchors(destination.read_text(encoding="utf-8"))
        ):
            problems.append(f"{page.name}: {target}: no heading with that anchor")
    return problems


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Points, exactly once", "points-exactly-once"),
        (
            "Imports (`make bench`, moto server in its own process)",
            "imports-make-bench-moto-server-in-its-own-process",
        ),
        ("`kernel/` — what every capability needs", "kernel--what-every-capability-needs"),
        ("snake_case and dashed-words stay", "snake_case-and-dashed-words-stay"),
        ("A [linked](other.md) heading", "a-linked-heading"),
        ("Tiers & jobs: how a run runs?", "tiers--jobs-how-a-run-runs"),
    ],
)
def test_slug_follows_github_rules(heading: str, expected: str) -> None:
    assert slug(heading) == expected


def test_anchors_number_repeated_headings_and_skip_code() -> None:
    text = "# Same\n\n## Same\n\n```sh\n# not a heading\n```\n\n### Other #\n"
    assert anchors(text) == {"same", "same-1", "other"}


def test_links_are_found_outside_code_only() -> None:
    text = (
        'See [a](a.md), ![b](img/b.png "title") and [c](<c d.md#x>).\n'
        "Not `[in code](nope.md)`; [ext](https://example.com) is kept, then skipped.\n"
        "```\n[fenced](nope.md)\n```\n"
    )
    assert link_targets(text) == ["a.md", "img/b.png", "c d.md#x", "https://example.com"]


def test_a_dead_link_or_anchor_is_reported(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# Here it is\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Top\n[ok](there.md#here-it-is) [self](#top) [web](https://example.com/x.md)\n"
        "[gone](missing.md) [bad anchor](there.md#elsewhere) [bad self](#bottom)\n",
        encoding="utf-8",
    )
    assert dead_links(page) == [
        "page.md: missing.md: no such file",
        "page.md: there.md#elsewhere: no heading with that anchor",
        "page.md: #bottom: no heading with that anchor",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    assert dead_links(page) == []


def test_readme_is_a_front_door() -> None:
    assert README.stat().st_size < README_MAX_BYTES


def test_readme_links_every_docs_page() -> None:
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for target in link_targets(README.read_text(encoding="utf-8"))
        if not EXTERNAL.match(target)
    }
    assert [page.name for page in PAGES[1:] if page.resolve() not in linked] == []
