"""A group's webhook subscriptions, pure: what an admin asks (create, replace, rotate the secret),
what it sees (never the secret, except once when it is made), and the delivery attempts' log.

- A subscription: an endpoint URL (`urls.check_url`), the event kinds it wants (those of
  `loyalty_engine.events.kinds.KINDS`, or `*` for all), `enabled`, and a status: `active`, or
  `failing` once an event's deliveries to it gave up (24 h of retries); a delivery that succeeds
  makes it `active` again.
- Its signing secret is generated here, shown in the create and rotation answers only. It is
  stored (it is needed to sign). A rotation keeps the secret before it valid for `grace_seconds`
  (0 to 7 days): deliveries are signed with both meanwhile.
"""

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, ConfigDict, Field, field_validator

from loyalty_engine.events.kinds import KINDS
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.timeutil import UtcDatetime
from loyalty_engine.webhooks.signing import new_secret
from loyalty_engine.webhooks.urls import URL_MAX

ALL_KINDS = "*"
MAX_SUBSCRIPTIONS = 20  # per group: the dispatcher reads them all in one Query
MAX_GRACE_S = 7 * 24 * 3600
ROTATIONS_KEPT = 20  # a retried rotation is recognised by its Idempotency-Key among these
DESCRIPTION_MAX = 200
EXCERPT_MAX = 200
SUBSCRIPTION_ID_PATTERN = r"^wh_[A-Z2-7]{26}$"
Status = Literal["active", "failing"]


def subscription_id_for(group: str, idempotency_key: str) -> str:
    """The id a create request makes: derived from its Idempotency-Key, so that a retried create
    finds the subscription the first attempt made."""
    raw = hashlib.sha256(f"webhook\n{group}\n{idempotency_key}".encode()).digest()
    return "wh_" + base64.b32encode(raw).decode()[:26]


class SubscriptionSpec(DeferredModel):
    """A subscription's settings, as created or replaced (PUT)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=8, max_length=URL_MAX, description="The endpoint: https:// (http:// on the local stack)"
    )
    kinds: list[str] = Field(
        min_length=1, max_length=len(KINDS), description='The event kinds to send, or ["*"] for all'
    )
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    enabled: bool = Field(default=True, description="A disabled subscription is sent nothing")

    @field_validator("kinds")
    @classmethod
    def _known(cls, kinds: list[str]) -> list[str]:
        unknown = sorted({kind for kind in kinds if kind not in KINDS and kind != ALL_KINDS})
        if unknown:
            raise ValueError(f"unknown event kinds {unknown}; known: {list(KINDS)} or '*'")
        distinct = sorted(set(kinds), key=kinds.index)
        return [ALL_KINDS] if ALL_KINDS in distinct else distinct


class RotateSecretRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_GRACE_S,
        strict=True,
        description="How long deliveries are also signed with the secret before this one (0 to 7 days)",
    )


class Subscription(DeferredModel):
    """As stored (with the secret)."""

    subscription_id: str
    url: str
    kinds: list[str]
    description: str | None = None
    enabled: bool = True
    status: Status = "active"
    secret: str
    previous_secret: str | None = None
    previous_secret_until: UtcDatetime | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    failing_since: UtcDatetime | None = None
    create_fingerprint: str | None = None
    rotations: dict[str, str] = Field(default_factory=dict)  # Idempotency-Key -> fingerprint
    version: int = 1

    def wants(self, kind: str) -> bool:
        return self.enabled and (ALL_KINDS in self.kinds or kind in self.kinds)

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the one before it
        during its grace."""
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            secrets.append(self.previous_secret)
        return secrets


class SubscriptionView(DeferredModel):
    """What an admin sees: never the secret."""

    subscription_id: str
    url: str
    kinds: list[str]
    description: str | None
    enabled: bool
    status: Status
    created_at: UtcDatetime
    updated_at: UtcDatetime
    failing_since: UtcDatetime | None = None
    previous_secret_until: UtcDatetime | None = Field(
        default=None,
        description="Until then, deliveries are also signed with the secret before the last rotation",
    )


class SubscriptionSecret(SubscriptionView):
    secret: str | None = Field(
        description="The signing secret: in the answer that made it only (null on a replay)"
    )


class SubscriptionPage(DeferredModel):
    webhooks: list[SubscriptionView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


def view_of(subscription: Subscription, now: datetime) -> SubscriptionView:
    grace = subscription.previous_secret_until
    return SubscriptionView(
        **subscription.model_dump(
            include={
                "subscription_id",
                "url",
                "kinds",
                "description",
                "enabled",
                "status",
                "created_at",
                "updated_at",
                "failing_since",
            }
        ),
        previous_secret_until=grace if grace is not None and grace > now else None,
    )


def new_subscription(
    subscription_id: str, spec: SubscriptionSpec, now: datetime, fingerprint: str
) -> Subscription:
    return Subscription(
        subscription_id=subscription_id,
        url=spec.url,
        kinds=spec.kinds,
        description=spec.description,
        enabled=spec.enabled,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
        create_fingerprint=fingerprint,
    )


def replaced(subscription: Subscription, spec: SubscriptionSpec, now: datetime) -> Subscription:
    changes = spec.model_dump()
    if all(getattr(subscription, name) == value for name, value in changes.items()):
        return subscription
    return subscription.model_copy(update={**changes, "updated_at": now, "version": subscription.version + 1})


def rotated(
    subscription: Subscription, grace_seconds: int, now: datetime, fingerprint: str, idempotency_key: str
) -> Subscription:
    rotations = dict(list(subscription.rotations.items())[-(ROTATIONS_KEPT - 1) :])
    rotations[idempotency_key] = fingerprint
    return subscription.model_copy(
        update={
            "secret": new_secret(),
            "previous_secret": subscription.secret if grace_seconds else None,
            "previous_secret_until": now + timedelta(seconds=grace_seconds) if grace_seconds else None,
            "rotations": rotations,
            "updated_at": now,
            "version": subscription.version + 1,
        }
    )


class DeliveryAttempt(DeferredModel):
    """One POST of an event to a subscription's endpoint, as the log keeps it."""

    event_id: str
    kind: str
    attempt: int = Field(description="1 for the first try; a redelivery starts again at 1")
    status_code: int | None = Field(description="The endpoint's HTTP status; null when no answer came")
    error: str | None = Field(
        default=None, description="timeout, connection_error, forbidden_address, unresolvable... or null"
    )
    succeeded: bool
    latency_ms: int
    excerpt: str = Field(default="", max_length=EXCERPT_MAX, description="The answer's first characters")
    at: AwareDatetime = Field(description="When the attempt started (UTC, to the millisecond)")
    next_attempt_at: UtcDatetime | None = Field(default=None, description="When it is tried again, if it is")
    redelivery: bool = False


class DeliveryPage(DeferredModel):
    deliveries: list[DeliveryAttempt] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class RedeliveryAccepted(DeferredModel):
    event_id: str
    subscription_id: str
    queued: bool = Field(description="False when the same Idempotency-Key already queued it")
