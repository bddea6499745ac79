"""The API functions' cold import runs without the cyclic garbage collector, and leaves it on,
with what the import made frozen out of its way (`loyalty_engine.coldstart`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import gc, json, sys
import loyalty_engine.coldstart  # as the handler module's first engine import does
paused = not gc.isenabled()
import {module}
print(json.dumps({{"paused": paused, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}}))
"""


@pytest.mark.parametrize("module", ["loyalty_engine.handlers.api", "loyalty_engine.handlers.instrument_api"])
def test_the_collector_is_paused_during_the_import_and_on_after_it(module: str) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'functions'}{os.pathsep}{ROOT}", "TABLE_NAME": "t"}
    out = subprocess.run(  # noqa: S603 - this interpreter, a probe written above
        [sys.executable, "-c", PROBE.format(module=module)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert state["paused"] is True
    assert state["enabled"] is True
    assert state["frozen"] > 10_000  # the import's modules, classes and validators


def test_the_job_runs_routes_leave_the_run_machinery_off_the_cold_path() -> None:
    """`GET /v1/programs/{id}/jobs` reads stored runs with light views (tiers/run_views.py): the
    API's cold import loads neither the run models and their calendars nor the run use cases,
    and the run and job stores (and the run queries) load on the first request that uses them."""
    probe = (
        "import json, sys\nimport loyalty_engine.handlers.api\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('loyalty_engine.tiers'))))"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'functions'}{os.pathsep}{ROOT}", "TABLE_NAME": "t"}
    out = subprocess.run(  # noqa: S603 - this interpreter, a probe written above
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "loyalty_engine.tiers.run_views" in loaded  # the routes' answer models, for OpenAPI
    heavy = {
        "jobs",
        "calendars",
        "run_use_cases",
        "rules",
        "schedule_store",
        "run_store",
        "run_queries",
        "job_store",
    }
    assert not loaded & {f"loyalty_engine.tiers.{name}" for name in heavy}
