"""Typed settings: one model per function, read from the environment and validated once.

Each handler loads its function's model on its first invocation (`load`, cached per model): a
missing or malformed variable stops the function there with a message that names the variable,
instead of running with an empty string. A variable that is optional says in its model what
its absence means. `wiring.Function.settings` names each function's model, and the infra tests
check that the deployed environment satisfies it.

These are plain pydantic models read from `os.environ`, not pydantic-settings: importing
pydantic-settings adds about 50 ms to a cold start (its CLI source, argparse and
pydantic.dataclasses), a sixth of a bare powertools handler, for a feature we use none of.
"""

import os
from functools import cache
from typing import TypeVar, cast

from pydantic import ConfigDict, Field, ValidationError, model_validator

from loyalty_engine.kernel.model import DeferredModel


class SettingsError(RuntimeError):
    """The function's environment does not satisfy its settings model."""


class Settings(DeferredModel):
    """What every function reads: the table."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=3)


class AuthorizerSettings(Settings):
    # The stage's default usage plan key (API Gateway, key source AUTHORIZER): the usage
    # identifier of callers whose group has no key of its own yet. Unset: none is returned.
    default_usage_key: str | None = Field(default=None, alias="DEFAULT_USAGE_KEY", min_length=20)


class ApiSettings(Settings):
    program_cache_seconds: float = Field(default=30.0, alias="PROGRAM_CACHE_SECONDS", ge=0)
    # Unset: program schedules are not managed (a stack without EventBridge Scheduler, unit tests).
    schedule_group: str | None = Field(default=None, alias="SCHEDULE_GROUP", min_length=1)
    scheduler_role_arn: str | None = Field(default=None, alias="SCHEDULER_ROLE_ARN", min_length=1)
    job_target_arn: str | None = Field(default=None, alias="JOB_TARGET_ARN", min_length=1)
    schedule_dlq_arn: str | None = Field(default=None, alias="SCHEDULE_DLQ_ARN", min_length=1)
    # Unset: no partner uploads nor report downloads (`POST /v1/imports/uploads` answers 503).
    import_bucket: str | None = Field(default=None, alias="IMPORT_BUCKET", min_length=3)
    # Swagger UI at GET /v1/docs (handlers/routes_docs.py): dev and the local stack, never prod.
    swagger_ui: bool = Field(default=False, alias="SWAGGER_UI")
    # How long a presigned upload or report URL stays valid.
    presigned_url_seconds: int = Field(default=600, alias="PRESIGNED_URL_SECONDS", ge=60, le=3600)
    # Unset: webhook redeliveries cannot be queued (503).
    webhook_queue_url: str | None = Field(default=None, alias="WEBHOOK_QUEUE_URL", min_length=1)
    # The local stack only: webhooks to http:// and to loopback or private addresses.
    webhooks_allow_http: bool = Field(default=False, alias="WEBHOOKS_ALLOW_HTTP")
    webhooks_allow_private: bool = Field(default=False, alias="WEBHOOKS_ALLOW_PRIVATE")

    @model_validator(mode="after")
    def _schedules_complete(self) -> "ApiSettings":
        if self.schedule_group and not (self.scheduler_role_arn and self.job_target_arn):
            raise ValueError("SCHEDULE_GROUP needs SCHEDULER_ROLE_ARN and JOB_TARGET_ARN")
        return self


class ScheduleSyncSettings(Settings):
    """The program schedules' settings, as the API gets them, all required: the sync is for them."""

    schedule_group: str = Field(alias="SCHEDULE_GROUP", min_length=1)
    scheduler_role_arn: str = Field(alias="SCHEDULER_ROLE_ARN", min_length=1)
    job_target_arn: str = Field(alias="JOB_TARGET_ARN", min_length=1)
    # Unset: the schedules get no dead-letter queue (as with the API).
    schedule_dlq_arn: str | None = Field(default=None, alias="SCHEDULE_DLQ_ARN", min_length=1)


class UsagePlanSettings(Settings):
    """The stage's API Gateway usage plans, for `loyalty-admin quotas` (from the stack's outputs).
    Unset REST_API_ID: no API Gateway (the local stack), the limits are only stored."""

    rest_api_id: str | None = Field(default=None, alias="REST_API_ID", min_length=1)
    api_stage: str = Field(default="api", alias="API_STAGE", min_length=1)
    stage_name: str = Field(default="local", alias="STAGE_NAME", min_length=1)
    default_usage_plan_id: str | None = Field(default=None, alias="DEFAULT_USAGE_PLAN_ID", min_length=1)

    @model_validator(mode="after")
    def _plan_with_api(self) -> "UsagePlanSettings":
        if self.rest_api_id and not self.default_usage_plan_id:
            raise ValueError("REST_API_ID needs DEFAULT_USAGE_PLAN_ID")
        return self


CATALOG_WCU_S = 900  # the importer's default pace into a group's reward catalog (one partition)
IMPORT_IO_THREADS = 8  # the importer's DynamoDB batch requests in flight at once


class ImporterSettings(Settings):
    import_bucket: str = Field(alias="IMPORT_BUCKET", min_length=3)
    # Unset: a drain that runs out of time cannot queue its continuation (tests run drains whole).
    import_queue_url: str | None = Field(default=None, alias="IMPORT_QUEUE_URL", min_length=1)
    # The stage's quiet period before a group's files are applied (a group may set its own).
    import_quiet_period_s: int = Field(default=120, alias="IMPORT_QUIET_PERIOD_S", ge=0, le=900)
    # A group's reward catalog is one partition (1,000 write units/s at most): masterreward
    # files write it no faster than this, leaving the rest to the API's catalog writes.
    import_catalog_wcu_s: int = Field(default=CATALOG_WCU_S, alias="IMPORT_CATALOG_WCU_S", ge=1, le=1000)
    # A chunk's batch reads and writes (distinct keys each) go out this many at once.
    import_io_threads: int = Field(default=IMPORT_IO_THREADS, alias="IMPORT_IO_THREADS", ge=1, le=32)


class JobSettings(Settings):
    # Unset: a run's shards are worked one after the other in the calling process (operator runs).
    job_queue_url: str | None = Field(default=None, alias="JOB_QUEUE_URL", min_length=1)


class InstrumentSettings(Settings):
    # Unset: pre-issue batches get no CSV export.
    export_bucket: str | None = Field(default=None, alias="EXPORT_BUCKET", min_length=3)
    # Unset: every batch is issued during the API call.
    batch_queue_url: str | None = Field(default=None, alias="BATCH_QUEUE_URL", min_length=1)
    sync_batch_limit: int = Field(
        default=1000, alias="SYNC_BATCH_LIMIT", ge=0, description="Larger batches run in the background"
    )


class PublisherSettings(Settings):
    """The domain events' publisher: the stage's custom EventBridge bus (`loyalty-engine-<stage>`)."""

    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)


class WebhookSettings(Settings):
    """The webhooks' dispatcher (and, with the delivery's own, the delivery worker)."""

    webhook_queue_url: str = Field(alias="WEBHOOK_QUEUE_URL", min_length=1)
    retention_days: int = Field(default=30, alias="WEBHOOK_RETENTION_DAYS", ge=1, le=365)
    # How long the dispatcher keeps a group's subscriptions (a new one is sent events after that).
    subscription_cache_s: float = Field(default=10.0, alias="WEBHOOK_SUBSCRIPTION_CACHE_S", ge=0, le=300)


class WebhookDeliverySettings(WebhookSettings):
    """The webhooks' delivery worker."""

    # Unset: an event given up on is only logged and its subscription marked failing.
    webhook_dlq_url: str | None = Field(default=None, alias="WEBHOOK_DLQ_URL", min_length=1)
    # The local stack only: deliveries to loopback and private addresses (never metadata ones).
    webhooks_allow_private: bool = Field(default=False, alias="WEBHOOKS_ALLOW_PRIVATE")
    # Backoff with full jitter: the first wait's bound, the cap of every wait, and how long
    # after the first attempt retries go on (24 h at least, deployed; tests shorten them).
    retry_base_s: float = Field(default=30.0, alias="WEBHOOK_RETRY_BASE_S", gt=0)
    retry_cap_s: float = Field(default=3600.0, alias="WEBHOOK_RETRY_CAP_S", gt=0)
    retry_window_s: float = Field(default=24 * 3600.0, alias="WEBHOOK_RETRY_WINDOW_S", ge=0)
    timeout_s: float = Field(default=10.0, alias="WEBHOOK_TIMEOUT_S", gt=0, le=10)


S = TypeVar("S", bound=Settings)


@cache
def _validated(model: type[Settings]) -> Settings:
    try:
        return model.model_validate(dict(os.environ))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'environment'}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        )
        raise SettingsError(f"{model.__name__}: the environment is not valid: {problems}") from None


def load(model: type[S]) -> S:
    """The function's settings from the environment, validated once per container."""
    return cast(S, _validated(model))


def forget() -> None:
    """Read the environment again on the next `load` (tests, the local stack between stacks)."""
    _validated.cache_clear()
