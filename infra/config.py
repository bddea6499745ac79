"""Per-stage settings: everything that differs between `prod` and `dev` lives here."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs

STAGES = ("prod", "dev")
DEFAULT_STAGE = "prod"

SERVICE_NAME = "loyalty-engine"
METRICS_NAMESPACE = "LoyaltyEngine"


@dataclass(frozen=True)
class StageConfig:
    stage: str
    # Stateful resources (table, alarm key, log groups): kept on stack deletion in prod.
    removal_policy: RemovalPolicy
    table_deletion_protection: bool
    log_retention: logs.RetentionDays
    api_logging_level: apigw.MethodLoggingLevel
    # Stage-wide API Gateway throttling (every method inherits it).
    api_rate_limit: int = 100
    api_burst_limit: int = 200

    @property
    def stack_name(self) -> str:
        return f"LoyaltyEngine-{self.stage}"


def stage_config(stage: str) -> StageConfig:
    if stage == "prod":
        return StageConfig(
            stage=stage,
            removal_policy=RemovalPolicy.RETAIN,
            table_deletion_protection=True,
            log_retention=logs.RetentionDays.THREE_MONTHS,
            api_logging_level=apigw.MethodLoggingLevel.ERROR,
        )
    if stage == "dev":
        return StageConfig(
            stage=stage,
            removal_policy=RemovalPolicy.DESTROY,
            table_deletion_protection=False,
            log_retention=logs.RetentionDays.ONE_WEEK,
            api_logging_level=apigw.MethodLoggingLevel.INFO,
        )
    raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
