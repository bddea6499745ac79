"""Shared fixtures: every test runs against moto, never the network.

The one exception is `make e2e STAGE=<stage>` (E2E_STAGE set): the smoke suite (tests/e2e)
against a deployed stage, with the caller's own AWS credentials. Then nothing is faked, and
nothing but tests/e2e may run in the session.
"""

from __future__ import annotations

import os
from pathlib import Path

E2E_STAGE = os.environ.get("E2E_STAGE", "")
E2E_DIR = Path(__file__).resolve().parent / "e2e"

# Before any boto3 client exists: fake credentials, a region, and no tracing.
if not E2E_STAGE:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "TABLE_NAME": "loyalty-test",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_DEV": "false",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
# jsii (the infra tests) starts Node; these only quiet its banners and telemetry.
for name, value in {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "CDK_DISABLE_VERSION_CHECK": "1",
}.items():
    os.environ.setdefault(name, value)

import pytest

from tests.support.aws import fresh_caches, moto_table


@pytest.fixture
def table():
    """An empty table (built from loyalty_engine.kernel.table) in an in-process moto."""
    with moto_table() as (client, name):
        fresh_caches()
        yield client, name
    fresh_caches()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Against a deployed stage, only the smoke suite runs: the other tests expect fakes."""
    if not E2E_STAGE:
        return
    others = [item for item in items if not item.path.is_relative_to(E2E_DIR)]
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = [item for item in items if item.path.is_relative_to(E2E_DIR)]
