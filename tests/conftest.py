"""Shared fixtures: every test runs against moto, never the network."""

from __future__ import annotations

import os

# Before any boto3 client exists: fake credentials, a region, and no tracing.
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
# jsii (the infra tests) starts Node; these only quiet its banners and telemetry.
for name, value in {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "CDK_DISABLE_VERSION_CHECK": "1",
}.items():
    os.environ.setdefault(name, value)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

import pytest

from tests.support.aws import fresh_caches, moto_table


@pytest.fixture
def table():
    """An empty table (built from loyalty_engine.kernel.table) in an in-process moto."""
    with moto_table() as (client, name):
        fresh_caches()
        yield client, name
    fresh_caches()
