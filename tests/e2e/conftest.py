"""The smoke suite's target: a fresh local stack (the default, and inside `make test`), or the
deployed stage named by E2E_STAGE (`make e2e STAGE=dev`)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.e2e.target import Target, TargetError, local_target, stage_target


@pytest.fixture(scope="package")
def target() -> Iterator[Target]:
    stage = os.environ.get("E2E_STAGE", "")
    if stage:
        try:
            deployed = stage_target(stage)
        except TargetError as error:
            pytest.exit(f"make e2e STAGE={stage}: {error}", returncode=2)
        yield deployed
        return
    from local_stack.stack import LocalStack

    with LocalStack.start() as stack:  # one local stack per process: torn down after the package
        yield local_target(stack)


@pytest.fixture(scope="package")
def run_id() -> str:
    """Names this run's program, card and reward: runs against one stage never collide."""
    return f"{datetime.now(UTC):%y%m%d%H%M%S}{secrets.token_hex(2)}"
