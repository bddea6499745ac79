"""One synth per stage per test session: synthesizing costs seconds, the assertions milliseconds.

Asset bundling is skipped (no pip install of the layer), and a cdk-nag error does not stop
synth, so that the compliance tests can read and report the findings themselves.

The two stages also cover both sides of two context values, without a third synth: prod is
synthesized as a bare `cdk deploy` does, dev as `make deploy CDK_ARGS="-c
api_gateway_cloudwatch_role=true"` does (the stack creates API Gateway's CloudWatch role and
the account setting; `deploy_id` is set, so the schedule sync runs on every deploy).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from infra_testing import Synthesized, synthesize

from infra.config import CLOUDWATCH_ROLE_CONTEXT
from infra.schedule_sync import DEPLOY_ID_CONTEXT

DEV_DEPLOY_ID = "20270101T000000Z"


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-prod"), "prod")


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        tmp_path_factory.mktemp("cdk-dev"),
        "dev",
        context={CLOUDWATCH_ROLE_CONTEXT: "true", DEPLOY_ID_CONTEXT: DEV_DEPLOY_ID},
    )


@pytest.fixture(params=["prod", "dev"])
def each_stage(request: pytest.FixtureRequest) -> Iterator[Synthesized]:
    yield request.getfixturevalue(request.param)
