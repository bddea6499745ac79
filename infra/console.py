"""The operator console on AWS: its own stack, LoyaltyEngineConsole-<stage>, next to the engine's.

- A private bucket (public access blocked, bucket-owner-enforced, SSE-S3, SSL only, versioned)
  holds `console/`, copied at deploy time by a BucketDeployment (`Source.asset` of the folder:
  no Docker, no build step), with a `config.json` written for the stage.
- A CloudFront distribution serves it over HTTPS only (HTTP redirected), reading the bucket with
  origin access control (the bucket policy lets this distribution's service principal read, and
  nobody else), with a response headers policy of security headers (CSP, HSTS, no framing, no
  sniffing, no referrer).
- The same distribution forwards `/v1/*` to the stage's REST API (every method, caching
  disabled, every viewer header but Host, so the `Authorization` header reaches the
  authorizer): the console calls the API on its own origin, so the API needs no CORS.
- The partner uploads and report links the console uses are presigned S3 URLs of the imports
  bucket, on another origin: `allow_browser_transfers` gives that bucket a CORS rule for PUT and
  GET. Its origin is `*`: the URL's signature is the credential, CORS only lets a page read the
  answer, and naming the distribution there would make the two stacks depend on each other.
- CloudFront's access logs and the bucket's server access logs go to a log bucket of this stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.config import ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER, StageConfig
from infra.nag import PACK

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
CONFIG_FILE = "config.json"
API_PATH_PATTERN = "/v1/*"
CONSOLE_URL_OUTPUT = "ConsoleUrl"
CONSOLE_STACK_PREFIX = "LoyaltyEngineConsole-"
# Scripts, styles and the API from the console's own origin; the presigned S3 URLs of uploads and
# reports from S3's (https://<bucket>.s3.<region>.amazonaws.com).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' https://*.amazonaws.com; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
BROWSER_TRANSFER_METHODS = (s3.HttpMethods.PUT, s3.HttpMethods.GET)


def console_stack_name(stage: str) -> str:
    return f"{CONSOLE_STACK_PREFIX}{stage}"


def console_config(config: StageConfig) -> dict[str, Any]:
    """`config.json` as deployed: the API on the console's own origin (CloudFront forwards /v1/*)."""
    return {"apiUrl": "", "stage": config.stage}


def allow_browser_transfers(bucket: s3.Bucket) -> None:
    """Let a browser page PUT (partner uploads) and GET (reports) the bucket's presigned URLs."""
    bucket.add_cors_rule(
        allowed_methods=list(BROWSER_TRANSFER_METHODS),
        allowed_origins=["*"],
        allowed_headers=["*"],
        exposed_headers=["ETag"],
        max_age=3000,
    )


class ConsoleStack(Stack):
    def __init__(
        self, scope: Construct, config: StageConfig, *, rest_api: apigw.RestApi, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            console_stack_name(config.stage),
            description=f"Loyalty engine operator console ({config.stage}): CloudFront, a private bucket",
            **kwargs,
        )
        self.config = config
        self.log_bucket = s3.Bucket(
            self,
            "Logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # CloudFront's standard logs are written with an ACL: the one bucket here that allows ACLs.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            removal_policy=config.removal_policy,
            auto_delete_objects=config.auto_delete_objects,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireLogs",
                    expiration=config.access_log_expiration,
                    abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER,
                )
            ],
        )
        self.bucket = s3.Bucket(
            self,
            "Files",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            removal_policy=config.removal_policy,
            auto_delete_objects=config.auto_delete_objects,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="files/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="Housekeeping",
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER,
                )
            ],
        )
        self.headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment=f"Loyalty engine console ({config.stage}): security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=CONTENT_SECURITY_POLICY, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"Loyalty engine console ({config.stage})",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers,
                compress=True,
            ),
            additional_behaviors={
                API_PATH_PATTERN: cloudfront.BehaviorOptions(
                    origin=origins.RestApiOrigin(rest_api),
                    # No redirect for the API: a POST redirected to HTTPS would lose its body.
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    # With caching disabled this managed policy forwards Authorization too; never
                    # Host (API Gateway answers 403 to a Host that is not its own).
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=self.headers,
                )
            },
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
        )
        self.deployment_logs = logs.LogGroup(
            self, "DeploymentLogs", retention=config.log_retention, removal_policy=config.removal_policy
        )
        # CDK's deployment handler gets a role of ours: its log group, and the S3 and CloudFront
        # grants BucketDeployment adds (no AWSLambdaBasicExecutionRole).
        self.deployment_role = iam.Role(
            self,
            "DeploymentRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Copies console/ into the console bucket and invalidates the distribution",
        )
        self.deployment_logs.grant_write(self.deployment_role)
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            sources=[
                s3deploy.Source.asset(str(CONSOLE_DIR), exclude=[CONFIG_FILE]),
                s3deploy.Source.json_data(CONFIG_FILE, console_config(config)),
            ],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
            memory_limit=256,
            log_group=self.deployment_logs,
            role=self.deployment_role,
        )
        self._acknowledge()
        CfnOutput(
            self,
            CONSOLE_URL_OUTPUT,
            value=f"https://{self.distribution.distribution_domain_name}/",
            description="The operator console (sign in with an admin API key of the stage)",
        )

    def _acknowledge(self) -> None:
        """cdk-nag's accepted findings, each on the resource concerned, with its reason."""
        Validations.of(self.distribution).acknowledge(
            _acknowledgment(
                "AwsSolutions-CFR1",
                "No geo restriction: the console is a sign-in page for the operators of every loyalty group, "
                "wherever they work; every call it makes needs an admin API key, checked by the API's authorizer.",
            ),
            _acknowledgment(
                "AwsSolutions-CFR2",
                "No WAF web ACL: the distribution serves static files and forwards /v1/* to the REST API, whose "
                "every method needs an API key checked by the Lambda authorizer and whose stage is throttled "
                "(the API's own APIG3 acknowledgment); a web ACL would add cost without a rule set to enforce.",
            ),
            _acknowledgment(
                "AwsSolutions-CFR4",
                "The distribution uses CloudFront's default *.cloudfront.net certificate, whose viewer security "
                "policy CloudFront fixes; HTTPS is still required (HTTP is redirected, or refused for the API). "
                "Give the console a custom domain with an ACM certificate to pin TLSv1.2_2021.",
            ),
        )
        handler = next(
            child for child in self.node.children if child.node.id.startswith("Custom::CDKBucketDeployment")
        )
        Validations.of(handler).acknowledge(
            _acknowledgment(
                "AwsSolutions-L1",
                "CDK's own BucketDeployment handler (a custom resource run at deploy time, not application "
                "code): its runtime is the one the installed aws-cdk-lib ships and tests with its AWS CLI layer.",
            )
        )
        deployment_grants = (
            "BucketDeployment's grants to its handler: read the CDK assets bucket's objects (the zipped "
            "console/ folder, whose key is known only at synth), write and delete the objects of the console "
            "bucket (it syncs and prunes the whole folder), and create the distribution's invalidation "
            "(CloudFront's invalidation actions are granted on '*' by CDK). Nothing else, and only at deploy time."
        )
        Validations.of(self.deployment_role).acknowledge(
            *(
                _acknowledgment(f"AwsSolutions-IAM5[{finding}]", deployment_grants)
                for finding in (
                    "Action::s3:GetBucket*",
                    "Action::s3:GetObject*",
                    "Action::s3:List*",
                    "Action::s3:Abort*",
                    "Action::s3:DeleteObject*",
                    "Resource::*",
                    "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
                    f"Resource::<{self.resolve(self.get_logical_id(self._cfn_bucket()))}.Arn>/*",
                )
            )
        )

    def _cfn_bucket(self) -> s3.CfnBucket:
        cfn = self.bucket.node.default_child
        if not isinstance(cfn, s3.CfnBucket):
            raise TypeError("expected the console bucket to be a CloudFormation bucket")
        return cfn


def _acknowledgment(rule: str, reason: str) -> Acknowledgment:
    return Acknowledgment(id=f"{PACK}::{rule}", reason=reason)
