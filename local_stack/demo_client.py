"""What every demo scenario uses: a client of the HTTP API that checks and prints each answer.

    c = DemoClient(api_url, keys, out)
    c.call("read the member", "GET", "/v1/members/X", expect=200, checks=(field("tier.name", "Gold"),))
    result = c.finish()  # prints the verdict line; result.ok says whether every answer was expected

`table` prints rows under a header, as the scenarios' summaries do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TextIO

import requests

GROUP = "demo"
OTHER_GROUP = "demo-b"
TIMEOUT_S = 30

Check = Callable[[Any], str | None]  # the answer's JSON -> what is wrong with it, or None


@dataclasses.dataclass
class Step:
    title: str
    method: str
    path: str
    expected: int
    status: int
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclasses.dataclass
class ScenarioResult:
    steps: list[Step] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    @property
    def failures(self) -> list[Step]:
        return [step for step in self.steps if not step.ok]


def field(path: str, expected: Any) -> Check:
    """Check that the answer's field at `a.b.c` equals `expected`."""

    def check(body: Any) -> str | None:
        value = body
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return f"{path} is missing"
            value = value[part]
        return None if value == expected else f"{path} is {value!r}, expected {expected!r}"

    return check


def error(code: str) -> Check:
    """Check that the answer is the error `code`."""
    return field("code", code)


class DemoClient:
    """Calls the API with a seeded key, checks each answer, prints a line per call."""

    def __init__(self, api_url: str, keys: dict[str, dict[str, str]], out: TextIO):
        self.api_url = api_url.rstrip("/")
        self.keys = keys
        self.out = out
        self.session = requests.Session()
        self.result = ScenarioResult()

    def call(
        self,
        title: str,
        method: str,
        path: str,
        *,
        expect: int,
        body: dict[str, Any] | None = None,
        key: tuple[str, str] = (GROUP, "admin"),
        headers: dict[str, str] | None = None,
        checks: tuple[Check, ...] = (),
    ) -> Any:
        group, role = key
        sent = {"Authorization": f"Bearer {self.keys[group][role]}", **(headers or {})}
        try:
            response = self.session.request(
                method, self.api_url + path, json=body, headers=sent, timeout=TIMEOUT_S
            )
        except requests.RequestException as failure:
            return self._record(Step(title, method, path, expect, 0, f"no answer: {failure}"), None)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        problem = None
        if response.status_code != expect:
            detail = answer.get("code") if isinstance(answer, dict) else response.text[:80]
            problem = f"answered {response.status_code} ({detail}), expected {expect}"
        elif answer is None:
            problem = "the answer is not JSON"
        else:
            problem = next((p for p in (check(answer) for check in checks) if p), None)
        return self._record(Step(title, method, path, expect, response.status_code, problem), answer)

    def finish(self) -> ScenarioResult:
        """Print the verdict line and return the result."""
        result = self.result
        verdict = (
            f"all {len(result.steps)} answers as expected"
            if result.ok
            else f"{len(result.failures)} of {len(result.steps)} answers NOT as expected"
        )
        self.out.write(f"\n  {verdict}\n")
        return result

    def _record(self, step: Step, answer: Any) -> Any:
        self.result.steps.append(step)
        mark = "ok" if step.ok else "FAIL"
        self.out.write(f"  [{mark:>4}] {step.status:3d} {step.method:<4} {step.path:<52} {step.title}\n")
        if step.problem:
            self.out.write(f"         !! {step.problem}\n")
        return answer


def table(out: TextIO, headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> None:
    """Rows under a header line, each column as wide as its widest cell (`right`: right-aligned columns)."""
    right = right or set()
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(cell).rjust(width) if i in right else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=False))
        )

    out.write("    " + line(headers).rstrip() + "\n")
    out.write("    " + "  ".join("-" * width for width in widths) + "\n")
    for row in rows:
        out.write("    " + line(row).rstrip() + "\n")
