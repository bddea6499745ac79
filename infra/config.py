"""Per-stage settings: everything that differs between `prod` and `dev` lives here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs

from infra import outputs
from loyalty_engine import wiring

STAGES = ("prod", "dev")
DEFAULT_STAGE = "prod"

# Context (`cdk deploy -c api_gateway_cloudwatch_role=true`): let this stack create the role API
# Gateway writes its logs with and set it in the account's API Gateway settings. Off by default:
# that setting is one per account and region, shared by every API there, so a stack should
# only take it over when asked to (docs/deploying.md#prerequisites).
CLOUDWATCH_ROLE_CONTEXT = "api_gateway_cloudwatch_role"

SERVICE_NAME = "loyalty-engine"
METRICS_NAMESPACE = "LoyaltyEngine"

# Buckets, by wiring bucket name: objects under these prefixes expire after these many days
# (a bucket not named here keeps its current objects; every bucket expires old versions).
# Imports
#   processed/: applied partner files, kept for 90 days to answer questions about an import.
#   reports/: import reports, kept for 400 days (a year of imports, with a month to spare).
# Exports
#   exports/: the CSV of a pre-issued batch's numbers, a hand-off to the card printer that the
#   operator downloads once. Kept 30 days: a list of the numbers of cards that carry value once
#   sold should not outlive its use; the instruments stay in the table, and the list can be
#   regenerated from the batch item (loyalty_engine.instruments.batches.all_numbers).
OBJECT_EXPIRATION: dict[str, tuple[tuple[str, Duration], ...]] = {
    wiring.IMPORT_BUCKET.name: (
        ("processed/", Duration.days(90)),
        ("reports/", Duration.days(400)),
    ),
    wiring.EXPORT_BUCKET.name: (("exports/", Duration.days(30)),),
}
# Versioning keeps overwritten and deleted objects this long, then they go for good.
NONCURRENT_VERSION_EXPIRATION = Duration.days(30)
ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER = Duration.days(7)

# Queues (every wiring queue): how long a message waits, and how long a dead letter is kept.
# The dead-letter queue keeps messages longer than the queue (the age of a moved message
# counts from its first enqueue), so that a dead letter is never lost before it is looked at.
QUEUE_RETENTION = Duration.days(4)
DEAD_LETTER_RETENTION = Duration.days(14)


@dataclass(frozen=True)
class StageConfig:
    stage: str
    # Stateful resources (table, buckets, queues, alarm key, log groups): kept on stack deletion in prod.
    removal_policy: RemovalPolicy
    table_deletion_protection: bool
    # Empty the buckets when the stack is deleted (only where removal_policy is DESTROY).
    auto_delete_objects: bool
    log_retention: logs.RetentionDays
    # S3 server access logs of the buckets (who read or wrote which partner file).
    access_log_expiration: Duration
    api_logging_level: apigw.MethodLoggingLevel
    # Create API Gateway's account-wide CloudWatch role (CLOUDWATCH_ROLE_CONTEXT; kept on stack deletion).
    api_gateway_cloudwatch_role: bool = False
    # Stage-wide API Gateway throttling (every method inherits it).
    api_rate_limit: int = 100
    api_burst_limit: int = 200
    # Swagger UI at GET /v1/docs, public (no key): non-production stages only.
    swagger_ui: bool = False

    @property
    def stack_name(self) -> str:
        return outputs.stack_name(self.stage)


def context_flag(name: str, value: Any) -> bool:
    """A yes/no context value: `-c name=true` on the command line gives the string "true"."""
    if value is None or value is False or (isinstance(value, str) and value.lower() in ("false", "")):
        return False
    if value is True or (isinstance(value, str) and value.lower() == "true"):
        return True
    raise ValueError(f"context {name}={value!r}: expected true or false")


def stage_config(stage: str) -> StageConfig:
    if stage == "prod":
        return StageConfig(
            stage=stage,
            removal_policy=RemovalPolicy.RETAIN,
            table_deletion_protection=True,
            auto_delete_objects=False,
            log_retention=logs.RetentionDays.THREE_MONTHS,
            access_log_expiration=Duration.days(365),
            api_logging_level=apigw.MethodLoggingLevel.ERROR,
        )
    if stage == "dev":
        return StageConfig(
            stage=stage,
            removal_policy=RemovalPolicy.DESTROY,
            table_deletion_protection=False,
            auto_delete_objects=True,
            log_retention=logs.RetentionDays.ONE_WEEK,
            access_log_expiration=Duration.days(7),
            api_logging_level=apigw.MethodLoggingLevel.INFO,
            swagger_ui=True,
        )
    raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
