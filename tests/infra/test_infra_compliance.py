"""cdk-nag (AwsSolutions) and cfn-lint find nothing; every cdk-nag acknowledgment is needed."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint
from infra_testing import Synthesized, bucket_id, schedule_ids

from infra.nag import PACK
from loyalty_engine import wiring

pytestmark = pytest.mark.infra

LINT_REGIONS = ["eu-west-1", "us-east-1"]


def test_validation_reports_nothing(each_stage: Synthesized) -> None:
    assert each_stage.findings() == []


def test_cdk_nag_runs_as_part_of_the_app(each_stage: Synthesized) -> None:
    # The pack is registered by build_app: its acknowledged findings are in the report.
    report = each_stage.plugin_report(PACK)
    assert report is not None
    assert report["conclusion"] == "success"
    assert each_stage.acknowledged_findings(PACK)


def test_no_cdk_warnings_or_errors(each_stage: Synthesized) -> None:
    artifact = each_stage.app.synth().get_stack_artifact(each_stage.stack.artifact_id)
    messages = [(m.level, m.id, m.entry.data) for m in artifact.messages if m.level in ("warning", "error")]
    assert messages == []


def test_every_acknowledgment_is_needed_and_explained(prod: Synthesized) -> None:
    acknowledgments = prod.acknowledgments()
    used = {(f["acknowledgedId"], f["acknowledgedAt"]) for f in prod.acknowledged_findings(PACK)}
    assert acknowledgments
    for rule_id, path, reason in acknowledgments:
        assert rule_id.startswith(f"{PACK}::"), rule_id
        assert (rule_id, path) in used, f"stale acknowledgment of {rule_id} on {path}: nothing to acknowledge"
        assert len(reason) >= 100, f"{rule_id} on {path}: the reason should say why, specifically"


def test_acknowledgments_are_on_resources_not_on_the_stack(prod: Synthesized) -> None:
    paths = {path for _, path, _ in prod.acknowledgments()}
    assert prod.stack.node.path not in paths
    assert all(path.startswith(prod.stack.node.path + "/") for path in paths)


def schedules_wildcard(synthesized: Synthesized) -> str:
    """The acknowledged id of `schedule/<group>/*`, the resource of the schedule managers' grant."""
    group = schedule_ids(synthesized).group
    return (
        f"{PACK}::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:"
        f"<AWS::AccountId>:schedule/<{group}>/*]"
    )


def test_acknowledged_wildcards_are_xray_the_wirings_object_prefixes_and_the_schedule_group(
    prod: Synthesized,
) -> None:
    # X-Ray's Resource '*', `<bucket ARN>/<prefix>*` for each object prefix a wiring BucketGrant
    # names (read, write, delete; listing is conditioned on the bucket ARN), and the schedules of
    # the program schedules' group for the functions managing them.
    object_prefixes = {
        f"{PACK}::AwsSolutions-IAM5[Resource::<{bucket_id(prod, grant.bucket)}.Arn>/{prefix}*]"
        for spec in wiring.FUNCTIONS
        for grant in spec.buckets
        for prefix in (*grant.read, *grant.write, *grant.delete)
    }
    wildcard_ids = {rule_id for rule_id, _, _ in prod.acknowledgments() if "IAM5" in rule_id}
    assert wildcard_ids == {
        f"{PACK}::AwsSolutions-IAM5[Resource::*]",
        *object_prefixes,
        schedules_wildcard(prod),
    }


def function_of_role(synthesized: Synthesized, path: str) -> str:
    """The wiring function whose role is at construct `path`."""
    (name,) = [
        spec.name
        for spec in wiring.FUNCTIONS
        if path == f"{synthesized.stack.node.path}/Functions/{spec.name}/Role"
    ]
    return name


def test_object_prefix_acknowledgments_are_on_the_granted_functions_roles_only(prod: Synthesized) -> None:
    granted = {
        spec.name: {f"/{prefix}*]" for g in spec.buckets for prefix in (*g.read, *g.write, *g.delete)}
        for spec in wiring.FUNCTIONS
    }
    for rule_id, path, _ in prod.acknowledgments():
        if "IAM5" in rule_id and "Resource::*]" not in rule_id and rule_id != schedules_wildcard(prod):
            name = function_of_role(prod, path)
            assert any(rule_id.endswith(suffix) for suffix in granted[name]), (rule_id, path)


def test_schedule_group_acknowledgment_is_on_the_schedule_managers_roles_only(prod: Synthesized) -> None:
    acknowledged = {
        function_of_role(prod, path)
        for rule_id, path, _ in prod.acknowledgments()
        if rule_id == schedules_wildcard(prod)
    }
    assert acknowledged == {spec.name for spec in wiring.FUNCTIONS if spec.manages_schedules}


def test_only_the_schedules_dead_letter_queue_is_acknowledged_as_one(prod: Synthesized) -> None:
    # Nothing in the template names it as a DLQ: the schedules the API creates at run time do. And
    # the stream's on-failure destination, which is not a redrive policy.
    paths = {path for rule_id, path, _ in prod.acknowledgments() if "SQS3" in rule_id}
    assert paths == {
        prod.stack.schedules.dead_letter_queue.node.path,
        prod.stack.domain_events.on_failure.node.path,
    }


def test_cfn_lint_finds_nothing(each_stage: Synthesized) -> None:
    matches = lint(json.dumps(each_stage.template_json), regions=LINT_REGIONS)
    findings = [
        f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.id[0] in "EW"
    ]
    assert findings == []
