"""One synth per stage per test session: synthesizing costs seconds, the assertions milliseconds.

Asset bundling is skipped (no pip install of the layer), and a cdk-nag error does not stop
synth, so that the compliance tests can read and report the findings themselves.

The two stages also cover both sides of the opt-in API Gateway CloudWatch role: prod is
synthesized as `cdk deploy` does by default (no role), dev with
`-c api_gateway_cloudwatch_role=true` (the stack creates the role and the account setting), so
that cdk-nag and cfn-lint check both without a third synth.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from infra_testing import Synthesized, synthesize

from infra.config import CLOUDWATCH_ROLE_CONTEXT


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-prod"), "prod")


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-dev"), "dev", context={CLOUDWATCH_ROLE_CONTEXT: "true"})


@pytest.fixture(params=["prod", "dev"])
def each_stage(request: pytest.FixtureRequest) -> Iterator[Synthesized]:
    yield request.getfixturevalue(request.param)
