"""Partners on the AWS CLI: bucket policy statements that let each partner principal put its
group's files and get its group's reports, nothing more; cdk-nag clean.

A small stack (the stage's buckets and the construct) is synthesized here, with the
`partners` context, so that the session's shared synths stay as a bare deploy makes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template
from infra_testing import CDK_JSON_CONTEXT, TEST_CONTEXT

from infra.buckets import Buckets
from infra.config import stage_config
from infra.nag import add_nag_checks
from infra.partners import PARTNERS_CONTEXT, PartnerUploads, partners_from_context
from loyalty_engine import wiring

SHOP = "arn:aws:iam::111122223333:role/shop-uploader"
CAFE = "arn:aws:iam::444455556666:user/cafe"
PARTNERS = [{"principal": SHOP, "group": "shop"}, {"principal": CAFE, "group": "cafe-bar"}]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, dict[str, Any], str]:
    outdir = tmp_path_factory.mktemp("cdk-partners")
    app = App(
        outdir=str(outdir),
        context=CDK_JSON_CONTEXT,
        post_cli_context={**TEST_CONTEXT, PARTNERS_CONTEXT: json.dumps(PARTNERS)},
    )
    stack = Stack(app, "Partners")
    buckets = Buckets(stack, "Buckets", config=stage_config("dev"))
    bucket = buckets.buckets[wiring.IMPORT_BUCKET.name]
    PartnerUploads(
        stack,
        "PartnerUploads",
        bucket=bucket,
        partners=partners_from_context(stack.node.try_get_context(PARTNERS_CONTEXT)),
    )
    add_nag_checks(app)
    assembly = app.synth()
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    bucket_id = str(stack.resolve(stack.get_logical_id(bucket.node.default_child)))  # type: ignore[arg-type]
    return Template.from_stack(stack), report, bucket_id


def _partner_statements(template: Template, bucket_id: str) -> list[dict[str, Any]]:
    (policy,) = [
        resource["Properties"]["PolicyDocument"]["Statement"]
        for resource in template.find_resources("AWS::S3::BucketPolicy").values()
        if resource["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    return [s for s in policy if str(s.get("Sid", "")).startswith("Partner")]


def _object_arn(bucket_id: str, pattern: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{pattern}"]]}


def test_each_partner_may_put_its_incoming_files_and_read_its_reports_only(synthesized):
    template, _, bucket_id = synthesized
    statements = _partner_statements(template, bucket_id)
    assert statements == [
        {
            "Sid": "Partner1Upload",
            "Effect": "Allow",
            "Principal": {"AWS": SHOP},
            "Action": "s3:PutObject",
            "Resource": _object_arn(bucket_id, "incoming/shop/*"),
        },
        {
            "Sid": "Partner1Reports",
            "Effect": "Allow",
            "Principal": {"AWS": SHOP},
            "Action": "s3:GetObject",
            "Resource": _object_arn(bucket_id, "reports/shop/*"),
        },
        {
            "Sid": "Partner1ListReports",
            "Effect": "Allow",
            "Principal": {"AWS": SHOP},
            "Action": "s3:ListBucket",
            "Resource": {"Fn::GetAtt": [bucket_id, "Arn"]},
            "Condition": {"StringLike": {"s3:prefix": ["reports/shop/*"]}},
        },
        {
            "Sid": "Partner2Upload",
            "Effect": "Allow",
            "Principal": {"AWS": CAFE},
            "Action": "s3:PutObject",
            "Resource": _object_arn(bucket_id, "incoming/cafe-bar/*"),
        },
        {
            "Sid": "Partner2Reports",
            "Effect": "Allow",
            "Principal": {"AWS": CAFE},
            "Action": "s3:GetObject",
            "Resource": _object_arn(bucket_id, "reports/cafe-bar/*"),
        },
        {
            "Sid": "Partner2ListReports",
            "Effect": "Allow",
            "Principal": {"AWS": CAFE},
            "Action": "s3:ListBucket",
            "Resource": {"Fn::GetAtt": [bucket_id, "Arn"]},
            "Condition": {"StringLike": {"s3:prefix": ["reports/cafe-bar/*"]}},
        },
    ]


def test_the_bucket_still_refuses_plain_http_to_partners_too(synthesized):
    template, _, bucket_id = synthesized
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
        },
    )


def test_no_role_or_user_is_created_for_partners(synthesized):
    template, _, _ = synthesized
    roles = template.find_resources("AWS::IAM::Role")
    assert not [r for r in roles if "Partner" in r]
    template.resource_count_is("AWS::IAM::User", 0)


def test_cdk_nag_finds_nothing(synthesized):
    _, report, _ = synthesized
    findings = [
        (plugin["pluginName"], violation["ruleName"], resource.get("constructPath", "?"))
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for resource in violation["violatingConstructs"]
    ]
    assert findings == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('[{"principal": "shop", "group": "shop"}]', "expected an IAM role"),
        (f'[{{"principal": "{SHOP}", "group": "Shop"}}]', "not a loyalty group slug"),
        (f'[{{"principal": "{SHOP}"}}]', "exactly"),
        (
            f'[{{"principal": "{SHOP}", "group": "a"}}, {{"principal": "{SHOP}", "group": "b"}}]',
            "more than once",
        ),
        ('{"principal": "x"}', "expected a list"),
    ],
)
def test_a_wrong_partners_context_stops_the_synth(value, message):
    with pytest.raises(ValueError, match=message):
        partners_from_context(value)


def test_no_partners_context_means_no_partner_statement():
    assert partners_from_context(None) == []
