"""One synth per stage per test session: synthesizing costs seconds, the assertions milliseconds.

Asset bundling is skipped (no pip install of the layer), and a cdk-nag error does not stop
synth, so that the compliance tests can read and report the findings themselves.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from infra_testing import Synthesized, synthesize


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-prod"), "prod")


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-dev"), "dev")


@pytest.fixture(params=["prod", "dev"])
def each_stage(request: pytest.FixtureRequest) -> Iterator[Synthesized]:
    yield request.getfixturevalue(request.param)
