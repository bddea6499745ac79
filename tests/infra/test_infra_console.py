"""The operator console's stack (infra/console.py): a private, encrypted, SSL-only bucket read by
CloudFront through origin access control only; HTTPS with security headers; /v1/* forwarded to
the stage's API uncached with the Authorization header; console/ deployed with the stage's
config.json by a handler with a role of ours; the imports bucket open to the console's
presigned transfers; cdk-nag clean (test_infra_compliance covers every stack of the app)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from infra_testing import Synthesized, bucket_id

from infra.console import (
    API_PATH_PATTERN,
    CONSOLE_URL_OUTPUT,
    CONTENT_SECURITY_POLICY,
    ConsoleStack,
    console_config,
    console_stack_name,
)
from loyalty_engine import wiring

pytestmark = pytest.mark.infra

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CloudFront's managed policies
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def console_of(synthesized: Synthesized) -> tuple[ConsoleStack, Template, dict[str, Any]]:
    stack = synthesized.app.node.find_child(console_stack_name(synthesized.stage))
    assert isinstance(stack, ConsoleStack)
    template = Template.from_stack(stack)
    return stack, template, dict(template.to_json())


def logical_id(stack: ConsoleStack, construct: Any) -> str:
    return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))


def test_the_console_is_a_stack_of_its_own_with_its_url_as_output(each_stage: Synthesized) -> None:
    stack, _, template = console_of(each_stage)
    assert stack.stack_name == f"LoyaltyEngineConsole-{each_stage.stage}"
    assert set(template["Outputs"]) == {CONSOLE_URL_OUTPUT}
    # The engine's stack has no CloudFront, and its API no CORS (the console is same-origin).
    assert each_stage.of_type("AWS::CloudFront::Distribution") == {}
    assert all(
        m["Properties"]["HttpMethod"] != "OPTIONS"
        for m in each_stage.of_type("AWS::ApiGateway::Method").values()
    )


def test_the_files_bucket_is_private_encrypted_ssl_only_and_logged(prod: Synthesized) -> None:
    stack, template, raw = console_of(prod)
    files, logs = logical_id(stack, stack.bucket), logical_id(stack, stack.log_bucket)
    properties = raw["Resources"][files]["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert properties["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert properties["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs}
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "WebsiteConfiguration" not in properties  # served by CloudFront only, never as a website
    (statements,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in raw["Resources"].values()
        if p["Type"] == "AWS::S3::BucketPolicy" and p["Properties"]["Bucket"] == {"Ref": files}
    ]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [
        s.get("Condition") for s in statements if s["Effect"] == "Deny"
    ]
    (allowed,) = [s for s in statements if s["Effect"] == "Allow"]
    # Only this distribution, through origin access control, may read the files.
    assert allowed["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allowed["Action"] == "s3:GetObject"
    distribution = logical_id(stack, stack.distribution)
    assert {"Ref": distribution} in allowed["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Join"][1]
    template.has_resource_properties(
        "AWS::CloudFront::OriginAccessControl",
        {
            "OriginAccessControlConfig": Match.object_like(
                {
                    "OriginAccessControlOriginType": "s3",
                    "SigningBehavior": "always",
                    "SigningProtocol": "sigv4",
                }
            )
        },
    )
    assert raw["Resources"][files]["DeletionPolicy"] == "Retain"


def test_the_distribution_serves_https_with_security_headers(prod: Synthesized) -> None:
    stack, _, raw = console_of(prod)
    config = raw["Resources"][logical_id(stack, stack.distribution)]["Properties"]["DistributionConfig"]
    default = config["DefaultCacheBehavior"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert default["AllowedMethods"] == ["GET", "HEAD"]
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    assert config["DefaultRootObject"] == "index.html"
    s3_origin = next(o for o in config["Origins"] if "S3OriginConfig" in o)
    assert s3_origin["DomainName"] == {"Fn::GetAtt": [logical_id(stack, stack.bucket), "RegionalDomainName"]}
    assert "OriginAccessControlId" in s3_origin
    assert config["Logging"]["Bucket"] == {
        "Fn::GetAtt": [logical_id(stack, stack.log_bucket), "RegionalDomainName"]
    }
    headers = logical_id(stack, stack.headers)
    assert default["ResponseHeadersPolicyId"] == {"Ref": headers}
    security = raw["Resources"][headers]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert security["ContentSecurityPolicy"]["ContentSecurityPolicy"] == CONTENT_SECURITY_POLICY
    assert (
        "script-src 'self'" in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    )
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31_536_000
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ContentTypeOptions"]["Override"] is True
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"


def test_the_api_is_forwarded_uncached_with_the_authorization_header(prod: Synthesized) -> None:
    stack, _, raw = console_of(prod)
    config = raw["Resources"][logical_id(stack, stack.distribution)]["Properties"]["DistributionConfig"]
    (api,) = config["CacheBehaviors"]
    assert api["PathPattern"] == API_PATH_PATTERN
    assert api["ViewerProtocolPolicy"] == "https-only"  # no redirect: a redirected POST loses its body
    assert set(api["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert api["CachePolicyId"] == CACHING_DISABLED
    # Every viewer header but Host: Authorization reaches the authorizer, API Gateway sees its own Host.
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    (origin,) = [o for o in config["Origins"] if o["Id"] == api["TargetOriginId"]]
    assert origin["CustomOriginConfig"] == {
        "OriginProtocolPolicy": "https-only",
        "OriginSSLProtocols": ["TLSv1.2"],
    }
    text = str(origin)
    assert ".execute-api." in text and "PublishOutputRefApiRestApi" in text  # this stage's REST API
    assert "OriginPath" in origin  # the API's stage (/api)


def test_console_files_and_the_stage_config_are_deployed_by_a_handler_with_our_role(
    prod: Synthesized,
) -> None:
    stack, _, raw = console_of(prod)
    (deployment,) = [
        r["Properties"] for r in raw["Resources"].values() if r["Type"] == "Custom::CDKBucketDeployment"
    ]
    assert deployment["DestinationBucketName"] == {"Ref": logical_id(stack, stack.bucket)}
    assert deployment["Prune"] is True
    assert deployment["DistributionId"] == {"Ref": logical_id(stack, stack.distribution)}
    assert deployment["DistributionPaths"] == ["/*"]
    assert len(deployment["SourceObjectKeys"]) == 2  # console/ (without config.json), and config.json
    assert console_config(stack.config) == {"apiUrl": "", "stage": "prod"}
    role = raw["Resources"][logical_id(stack, stack.deployment_role)]["Properties"]
    assert "ManagedPolicyArns" not in role  # no AWSLambdaBasicExecutionRole: its own log group only
    functions = {
        k: r["Properties"] for k, r in raw["Resources"].items() if r["Type"] == "AWS::Lambda::Function"
    }
    (handler,) = functions.values()
    assert handler["Role"] == {"Fn::GetAtt": [logical_id(stack, stack.deployment_role), "Arn"]}
    assert handler["LoggingConfig"]["LogGroup"] == {"Ref": logical_id(stack, stack.deployment_logs)}


def test_the_imports_bucket_accepts_the_consoles_presigned_transfers(each_stage: Synthesized) -> None:
    properties = each_stage.resources[bucket_id(each_stage, wiring.IMPORT_BUCKET.name)]["Properties"]
    (rule,) = properties["CorsConfiguration"]["CorsRules"]
    assert set(rule["AllowedMethods"]) == {"PUT", "GET"}
    assert rule["AllowedOrigins"] == ["*"]  # a presigned URL's signature is the credential
    # The other buckets are not read from a browser.
    for bucket in wiring.BUCKETS:
        if bucket != wiring.IMPORT_BUCKET:
            assert (
                "CorsConfiguration"
                not in each_stage.resources[bucket_id(each_stage, bucket.name)]["Properties"]
            )


def test_dev_console_goes_with_its_stack(dev: Synthesized) -> None:
    _, _, raw = console_of(dev)
    buckets = {k: r for k, r in raw["Resources"].items() if r["Type"] == "AWS::S3::Bucket"}
    assert len(buckets) == 2
    assert all(r["DeletionPolicy"] == "Delete" for r in buckets.values())
    emptied = {
        r["Properties"]["BucketName"]["Ref"]
        for r in raw["Resources"].values()
        if r["Type"] == "Custom::S3AutoDeleteObjects"
    }
    assert emptied == set(buckets)
