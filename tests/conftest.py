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
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

import pytest  # noqa: E402

from tests.support.aws import fresh_caches, moto_table  # noqa: E402


@pytest.fixture
def table():
    """An empty table (built from loyalty_engine.table) in an in-process moto."""
    with moto_table() as (client, name):
        fresh_caches()
        yield client, name
    fresh_caches()
