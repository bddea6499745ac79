"""The layout's rules, read from the source: one folder per capability over a shared kernel,
dependencies one way (handlers → capabilities → kernel), no import circles, no private name
imported from another module, no module over 400 lines (the benchmarks and the tests too).
docs/architecture.md draws the graph."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "functions" / "loyalty_engine"
CHECKED_DIRS = ("functions", "infra", "local_stack", "scripts")
# The size limit covers the benchmarks and the tests too (the import rules: CHECKED_DIRS only).
SIZE_CHECKED_DIRS = (*CHECKED_DIRS, "bench", "tests")
MAX_LINES = 400

# Which capability may use which (besides the kernel). The kernel uses no capability; the
# handlers and the CLI may use any. A new capability, or a new arrow, is added here on purpose.
CAPABILITY_DEPENDENCIES: dict[str, set[str]] = {
    "access": set(),
    "customers": {"access"},
    "points": {"access"},
    "rewards": {"access", "points"},
    "tiers": {"access", "points"},
    "imports": {"access", "points", "rewards", "tiers"},
    "instruments": {"access", "customers"},
    "events": set(),
    "audit": {"access"},
    "timeline": {"access", "points", "rewards"},
    "webhooks": {"events"},
    "search": {"access", "customers", "points"},
    "privacy": {"access", "audit", "customers", "points", "rewards"},
}
# the outer layer: what the functions and tools run
# (`coldstart` sits beside them so that its import sorts first in a handler module)
TOP = {"handlers", "cli", "coldstart", "wiring", "wiring_routes", "wiring_types"}


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT / "functions" if path.is_relative_to(PACKAGE) else ROOT)
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources(folders: tuple[str, ...] = CHECKED_DIRS) -> dict[str, Path]:
    found = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                found[module_name(path)] = path
    return found


SOURCES = sources()
SIZED = sources(SIZE_CHECKED_DIRS)


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every import statement, at any depth (also in functions and
    under TYPE_CHECKING: a circle through a lazy import is still a circle)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def resolve(module: str, names: list[str]) -> set[str]:
    """The project modules an import statement depends on: `from package import submodule` is a
    dependency on the submodule, `from module import name` one on the module."""
    submodules = {f"{module}.{name}" for name in names if f"{module}.{name}" in SOURCES}
    others = [name for name in names if f"{module}.{name}" not in SOURCES]
    return submodules | ({module} if module in SOURCES and (others or not names) else set())


GRAPH: dict[str, set[str]] = {
    name: {m for module, names in imports_of(path) for m in resolve(module, names)} - {name}
    for name, path in SOURCES.items()
}


def layer(module: str) -> str | None:
    """kernel, a capability's name, or one of TOP, for a module of the package."""
    parts = module.split(".")
    if parts[0] != "loyalty_engine" or len(parts) < 2:
        return None
    return parts[1]


def test_the_package_is_one_folder_per_capability_over_a_kernel() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == {"kernel", "handlers", *CAPABILITY_DEPENDENCIES}
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == {"cli", "coldstart", "wiring", "wiring_routes", "wiring_types"}


def test_the_kernel_uses_no_capability() -> None:
    wrong = {
        (module, used)
        for module, uses in GRAPH.items()
        if layer(module) == "kernel"
        for used in uses
        if layer(used) not in (None, "kernel")
    }
    assert not wrong


def test_capabilities_use_only_the_kernel_and_the_capabilities_they_are_allowed() -> None:
    wrong = set()
    for module, uses in GRAPH.items():
        own = layer(module)
        if own not in CAPABILITY_DEPENDENCIES:
            continue
        allowed = {own, "kernel", *CAPABILITY_DEPENDENCIES[own]}
        wrong |= {(module, used) for used in uses if layer(used) is not None and layer(used) not in allowed}
    assert not wrong, "a capability reaches up (handlers, wiring, cli) or sideways without a declared arrow"


def test_the_declared_capability_graph_has_no_circle() -> None:
    def reaches(start: str, target: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            dep == target or (dep not in seen and reaches(dep, target, seen | {dep}))
            for dep in CAPABILITY_DEPENDENCIES[start]
        )

    assert not [name for name in CAPABILITY_DEPENDENCIES if reaches(name, name)]


def test_no_module_imports_a_private_name_of_another_module() -> None:
    wrong = []
    for name, path in SOURCES.items():
        for module, names in imports_of(path):
            if module in SOURCES and module != name:
                wrong += [f"{name}: from {module} import {n}" for n in names if n.startswith("_")]
    assert not wrong


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circles() -> None:
    assert strongly_connected(GRAPH) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", sorted(SIZED), ids=str)
def test_modules_stay_under_the_size_limit(name: str) -> None:
    lines = len(SIZED[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{SIZED[name].relative_to(ROOT)} has {lines} lines: split it along its jobs"


def test_the_size_limit_covers_the_benchmarks_and_the_tests() -> None:
    assert {"bench.jobs", "tests.unit.test_architecture", "tests.support.jobs"} <= set(SIZED)
    assert set(SOURCES) <= set(SIZED)


def imported_test_modules(name: str, source: str) -> list[str]:
    """The test modules (`tests.….test_*`) that module `name` imports, in any form:
    `from tests.a.test_b import x`, `import tests.a.test_b`, `from tests.a import test_b`, and
    relative (`from .test_b import x`, `from . import test_b`)."""
    package = name.split(".")[:-1]
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(
                [*package[: len(package) - node.level + 1], *([node.module] if node.module else [])]
                if node.level
                else [node.module or ""]
            )
            modules = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [m for m in modules if m.startswith("tests.") and m.rpartition(".")[2].startswith("test_")]
    return found


def test_no_test_module_imports_another_test_module() -> None:
    """What tests share (builders, fixtures' helpers, sample data) lives in tests/support or a
    conftest, so that each test module can be read, run and moved alone."""
    tests = {name: path for name, path in SIZED.items() if name.startswith("tests.")}
    found = [
        f"{name} imports {module}"
        for name, path in tests.items()
        for module in imported_test_modules(name, path.read_text())
    ]
    assert "tests.unit.test_architecture" in tests
    assert found == []


@pytest.mark.parametrize(
    "statement",
    [
        "from tests.integration.test_concurrency import invoke",
        "import tests.integration.test_concurrency",
        "from tests.integration import test_concurrency",
        "from .test_concurrency import invoke",
        "from . import test_concurrency",
        "from ..integration.test_concurrency import invoke",
    ],
)
def test_the_rule_sees_a_test_module_imported_in_any_form(statement: str) -> None:
    found = imported_test_modules("tests.integration.test_pay_concurrency", statement)
    assert "tests.integration.test_concurrency" in found, (statement, found)


def test_capability_imports_are_grouped_by_package() -> None:
    # Guard against the rules passing vacuously: the graph was read, and capabilities use each other.
    used = defaultdict(set)
    for module, uses in GRAPH.items():
        for dep in uses:
            if layer(module) in CAPABILITY_DEPENDENCIES and layer(dep) in CAPABILITY_DEPENDENCIES:
                used[layer(module)].add(layer(dep))
    assert used["imports"] >= {"rewards", "points"}
    assert "kernel" not in used
