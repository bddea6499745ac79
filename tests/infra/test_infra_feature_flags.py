"""cdk.json carries the feature flags aws-cdk-lib recommends (what `cdk init` writes) for the
pinned version, so the template is what a new CDK app of that version would make."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import aws_cdk
import pytest
from infra_testing import CDK_JSON_CONTEXT

pytestmark = pytest.mark.infra

FLAGS_FILE = "package/recommended-feature-flags.json"


def recommended_flags() -> dict[str, Any]:
    """The flags the installed aws-cdk-lib recommends, read from its jsii bundle."""
    (bundle,) = (Path(aws_cdk.__file__).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(bundle) as archive:
        for member in archive:  # streamed: stops at the file instead of indexing the archive
            if member.name == FLAGS_FILE:
                extracted = archive.extractfile(member)
                assert extracted is not None
                flags: dict[str, Any] = json.load(extracted)
                return flags
    raise AssertionError(f"{bundle.name} has no {FLAGS_FILE}")


def test_cdk_json_sets_every_recommended_flag_to_its_recommended_value() -> None:
    recommended = recommended_flags()
    assert len(recommended) > 50  # the file was found and read
    differing = {
        flag: (CDK_JSON_CONTEXT.get(flag, "<unset>"), value)
        for flag, value in recommended.items()
        if CDK_JSON_CONTEXT.get(flag, "<unset>") != value
    }
    assert differing == {}, "cdk.json (set, recommended): bump the flags with aws-cdk-lib"


def test_cdk_json_sets_no_flag_the_library_does_not_know() -> None:
    recommended = recommended_flags()
    ours = {name for name in CDK_JSON_CONTEXT if name.startswith("@aws-cdk")}
    assert ours - set(recommended) == set()
