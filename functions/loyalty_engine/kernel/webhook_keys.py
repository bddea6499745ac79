"""Key values of the webhooks' items (kernel/keys.py is full). Every partition key begins with
the loyalty group.

- `G#<group>#WEBHOOKS` / `S#<subscription id>`: a subscription (the dispatcher reads the group's
  subscriptions in one Query of this partition); `DELETED#<subscription id>`: one deleted;
- `G#<group>#WH#<subscription id>` / `EV#<event id>`: an event to send to it (the body as signed,
  its delivery state), kept for redelivery until its `ttl`;
- `G#<group>#WH#<subscription id>` / `RD#<event id>#<Idempotency-Key>`: a redelivery asked for;
- `G#<group>#WH#<subscription id>` / `AT#<time>#<event id>#<attempt>`: one delivery attempt, kept
  until its `ttl`; newest first is the partition's sort order reversed.
"""

from __future__ import annotations

SUBSCRIPTION_PREFIX = "S#"
EVENT_PREFIX = "EV#"
ATTEMPT_PREFIX = "AT#"
REDELIVERY_PREFIX = "RD#"


def subscriptions_pk(group: str) -> str:
    return f"G#{group}#WEBHOOKS"


# The group's count of subscriptions (not under SUBSCRIPTION_PREFIX): kept in the transaction
# of every create and delete, so that the limit holds under concurrent creates.
SUBSCRIPTION_COUNT_SK = "COUNT"


def subscription_sk(subscription_id: str) -> str:
    return f"{SUBSCRIPTION_PREFIX}{subscription_id}"


def deleted_subscription_sk(subscription_id: str) -> str:
    """A deleted subscription's mark (not under SUBSCRIPTION_PREFIX): its id, which derives from
    its create's Idempotency-Key, is never given to a new subscription (its events and attempts
    are still kept under it)."""
    return f"DELETED#{subscription_id}"


def deliveries_pk(group: str, subscription_id: str) -> str:
    return f"G#{group}#WH#{subscription_id}"


def event_sk(event_id: str) -> str:
    return f"{EVENT_PREFIX}{event_id}"


def attempt_sk(at: str, event_id: str, attempt: int, redelivery: bool = False) -> str:
    """`at`: UTC ISO text with milliseconds, so that keys sort by time."""
    return f"{ATTEMPT_PREFIX}{at}#{event_id}#{attempt:04d}{'R' if redelivery else ''}"


def redelivery_sk(event_id: str, idempotency_key: str) -> str:
    return f"{REDELIVERY_PREFIX}{event_id}#{idempotency_key}"
