"""moto helpers: the table from its one definition, and cache resets between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from loyalty_engine.kernel.table import create_table_params, enable_ttl_params


def create_table(client: Any, name: str) -> None:
    # No stream: moto copies a table's whole stream on every transaction (to roll it back), and
    # only the domain events' tests read it (tests/support/events.py turns it on).
    client.create_table(**create_table_params(name, stream=False))
    client.update_time_to_live(**enable_ttl_params(name))


@contextmanager
def moto_table() -> Iterator[tuple[Any, str]]:
    name = os.environ["TABLE_NAME"]
    with mock_aws():
        client = boto3.client("dynamodb", region_name=os.environ["AWS_DEFAULT_REGION"])
        create_table(client, name)
        yield client, name


def fresh_caches() -> None:
    """Forget cached settings, clients and contexts (they were built for another backend)."""
    from local_stack.runtime import reset_handler_caches

    reset_handler_caches()
