"""The webhooks' items (kernel/webhook_keys.py): one method per access pattern, AWS error codes
mapped to domain errors."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel import webhook_keys as keys
from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.cursors import prefix_page
from loyalty_engine.kernel.dynamo import error_code, map_error, to_item
from loyalty_engine.kernel.errors import ConcurrentUpdate
from loyalty_engine.kernel.item_access import NEW_ONLY, ConditionsFailed, ItemTable, at_version
from loyalty_engine.kernel.keys import MEMBER_SK, instrument_entry_sk, instrument_pk, member_pk
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, TYPE_ATTRIBUTE
from loyalty_engine.webhooks.models import MAX_SUBSCRIPTIONS, DeliveryAttempt, Subscription

# What an event item holds (besides its keys): the body as signed, and its delivery state.
PENDING, DELIVERED, GAVE_UP = "pending", "delivered", "gave_up"
# A redelivery request noted and not queued this long ago has stopped (an API call lasts 29 s at most).
REDELIVERY_LEASE_S = 60


def at_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class WebhookStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table
        self._items = ItemTable(client, table)
        self.requests = 0  # DynamoDB requests made (the bench counts them)

    # ------------------------------------------------------------ subscriptions

    def _subscription_item(self, group: str, subscription: Subscription) -> dict[str, Any]:
        return item(
            keys.subscriptions_pk(group),
            keys.subscription_sk(subscription.subscription_id),
            "webhook",
            subscription.model_dump(mode="json"),
        )

    def _count_update(self, group: str, delta: int, condition: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": ItemTable.key(keys.subscriptions_pk(group), keys.SUBSCRIPTION_COUNT_SK),
                "UpdateExpression": "SET #n = if_not_exists(#n, :zero) + :delta, #type = :type",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#n": "subscriptions", "#type": TYPE_ATTRIBUTE},
                "ExpressionAttributeValues": {
                    ":zero": {"N": "0"},
                    ":delta": {"N": str(delta)},
                    ":type": {"S": "webhook_count"},
                    **({":max": {"N": str(MAX_SUBSCRIPTIONS)}} if ":max" in condition else {}),
                },
            }
        }

    def add(self, group: str, subscription: Subscription) -> str:
        """`added`; `exists` when a subscription with this id exists already (left unchanged);
        `deleted` when one with this id was deleted; `full` when the group has MAX_SUBSCRIPTIONS
        already. One transaction with the count."""
        self.requests += 1
        pk, subscription_id = keys.subscriptions_pk(group), subscription.subscription_id
        actions = [
            self._items.put_action(self._subscription_item(group, subscription), NEW_ONLY),
            self._count_update(group, 1, "attribute_not_exists(#n) OR #n < :max"),
            self._items.check_action(pk, keys.deleted_subscription_sk(subscription_id), NEW_ONLY),
        ]
        try:
            self._items.transact(actions)
        except ConditionsFailed as failed:
            if 0 in failed.failed:
                return "exists"
            if 2 in failed.failed:
                return "deleted"
            if 1 in failed.failed:
                return "full"
            raise ConcurrentUpdate(
                "another change of the group's webhooks came in between: retry"
            ) from failed
        return "added"

    def get(self, group: str, subscription_id: str) -> Subscription | None:
        self.requests += 1
        values = self._items.get(keys.subscriptions_pk(group), keys.subscription_sk(subscription_id))
        return Subscription.model_validate(values) if values else None

    def replace(self, group: str, subscription: Subscription, read_version: int) -> None:
        """Store the new state if the stored one is still the version read (409 otherwise)."""
        self.requests += 1
        if not self._items.put(self._subscription_item(group, subscription), at_version(read_version)):
            raise ConcurrentUpdate(f"webhook {subscription.subscription_id} was changed meanwhile: retry")

    def delete(self, group: str, subscription_id: str) -> Subscription | None:
        """Delete it and count it out, in one transaction; what was stored, or None if there was
        nothing (a concurrent change of it is read again)."""
        for _ in range(3):
            current = self.get(group, subscription_id)
            if current is None:
                return None
            self.requests += 1
            actions = [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": ItemTable.key(
                            keys.subscriptions_pk(group), keys.subscription_sk(subscription_id)
                        ),
                        **at_version(current.version),
                    }
                },
                self._items.put_action(
                    item(
                        keys.subscriptions_pk(group),
                        keys.deleted_subscription_sk(subscription_id),
                        "webhook_deleted",
                        {"subscription_id": subscription_id, "url": current.url},
                    )
                ),
                self._count_update(group, -1, "#n > :zero"),
            ]
            try:
                self._items.transact(actions)
            except ConditionsFailed as failed:
                if 0 in failed.failed or not failed.failed:
                    continue  # changed or deleted meanwhile: read it again
                self._items.transact(actions[:2])  # no count to take it from (never below zero)
            return current
        raise ConcurrentUpdate(f"webhook {subscription_id} keeps changing: retry")

    def page(self, group: str, limit: int, cursor: str | None) -> tuple[list[Subscription], str | None]:
        self.requests += 1
        values, next_cursor = prefix_page(
            self._client, self._table, keys.subscriptions_pk(group), keys.SUBSCRIPTION_PREFIX, limit, cursor
        )
        return [Subscription.model_validate(value) for value in values], next_cursor

    def all(self, group: str) -> list[Subscription]:
        """The group's subscriptions: one Query (a group has at most MAX_SUBSCRIPTIONS)."""
        self.requests += 1
        values = self._items.query(keys.subscriptions_pk(group), keys.SUBSCRIPTION_PREFIX)
        return [Subscription.model_validate(value) for value in values]

    def set_status(self, group: str, subscription_id: str, status: str, now: datetime) -> bool:
        """Mark the subscription `failing` (since now) or `active` again, if it is not already;
        False when nothing changed (or it is gone)."""
        self.requests += 1
        since = {"NULL": True} if status == "active" else {"S": now.isoformat().replace("+00:00", "Z")}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=ItemTable.key(keys.subscriptions_pk(group), keys.subscription_sk(subscription_id)),
                UpdateExpression="SET #status = :status, #since = :since",
                ConditionExpression="attribute_exists(#pk) AND #status <> :status",
                ExpressionAttributeNames={
                    "#status": "status",
                    "#since": "failing_since",
                    "#pk": PARTITION_KEY,
                },
                ExpressionAttributeValues={":status": {"S": status}, ":since": since},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise (map_error(error) or error) from error
        return True

    # ------------------------------------------------------------ events and attempts

    def put_event(
        self, group: str, subscription_id: str, event_id: str, kind: str, body: str, ttl: int
    ) -> bool:
        """Keep the event to send (for its delivery and redelivery); False if it is there already
        (a redelivered bus event: it is not sent twice)."""
        self.requests += 1
        values = item(
            keys.deliveries_pk(group, subscription_id),
            keys.event_sk(event_id),
            "webhook_event",
            {"event_id": event_id, "kind": kind, "body": body, "state": PENDING},
            **{TTL_ATTRIBUTE: ttl},
        )
        return self._items.put(values, NEW_ONLY)

    def for_delivery(
        self, group: str, subscription_id: str, event_id: str
    ) -> tuple[Subscription | None, dict[str, Any] | None]:
        """The subscription and the event item, in one BatchGetItem."""
        self.requests += 1
        sub_key = (keys.subscriptions_pk(group), keys.subscription_sk(subscription_id))
        event_key = (keys.deliveries_pk(group, subscription_id), keys.event_sk(event_id))
        found = batch_get(self._client, self._table, [sub_key, event_key])
        sub = found.get(sub_key)
        event = found.get(event_key)
        return (
            Subscription.model_validate(data_of(sub)) if sub else None,
            data_of(event) if event else None,
        )

    def get_event(self, group: str, subscription_id: str, event_id: str) -> dict[str, Any] | None:
        self.requests += 1
        return self._items.get(keys.deliveries_pk(group, subscription_id), keys.event_sk(event_id))

    def card_erased(self, group: str, card_code: str) -> bool:
        """Whether the member card's personal data was erased since (one GetItem of its
        `erased_at`): a kept event of the card goes out without its free text."""
        self.requests += 1
        try:
            found = self._client.get_item(
                TableName=self._table,
                Key={
                    PARTITION_KEY: {"S": member_pk(group, card_code)},
                    SORT_KEY: {"S": MEMBER_SK},
                },
                ProjectionExpression="#erased",
                ExpressionAttributeNames={"#erased": "erased_at"},
                ConsistentRead=True,
            )
        except ClientError as error:
            raise (map_error(error) or error) from error
        erased = found.get("Item", {}).get("erased_at")
        return erased is not None and "NULL" not in erased

    def movement_reason(self, group: str, number: str, entry_no: int) -> str | None:
        """The reason an instrument's movement holds now (its customer's erasure blanks it; one
        GetItem of the small ledger entry): a kept event goes out with no more than that."""
        self.requests += 1
        found = self._items.get(instrument_pk(group, number), instrument_entry_sk(entry_no)) or {}
        reason = found.get("reason")
        return reason if isinstance(reason, str) else None

    def reopen(self, group: str, subscription_id: str, event_id: str) -> bool:
        """A given-up event made pending again, for a dead letter sent again; False when it is
        not given up (delivered since, or another copy of the dead letter reopened it)."""
        self.requests += 1
        try:
            self._client.update_item(
                TableName=self._table,
                Key=ItemTable.key(keys.deliveries_pk(group, subscription_id), keys.event_sk(event_id)),
                UpdateExpression="SET #state = :pending",
                ConditionExpression="#state = :gave_up",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":pending": {"S": PENDING}, ":gave_up": {"S": GAVE_UP}},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise (map_error(error) or error) from error
        return True

    def record_attempt(
        self,
        group: str,
        subscription_id: str,
        attempt: DeliveryAttempt,
        state: str,
        ttl: int,
        attempts: int | None = None,
    ) -> None:
        """The attempt in the log and the event's state (and, unless a redelivery, the number of
        attempts made), in one transaction."""
        self.requests += 1
        pk = keys.deliveries_pk(group, subscription_id)
        log = item(
            pk,
            keys.attempt_sk(at_text(attempt.at), attempt.event_id, attempt.attempt, attempt.redelivery),
            "webhook_attempt",
            attempt.model_dump(mode="json"),
            **{TTL_ATTRIBUTE: ttl},
        )
        update: dict[str, Any] = {
            "Update": {
                "TableName": self._table,
                "Key": ItemTable.key(pk, keys.event_sk(attempt.event_id)),
                "UpdateExpression": "SET #state = :state",
                "ConditionExpression": "attribute_exists(#pk)",
                "ExpressionAttributeNames": {"#state": "state", "#pk": PARTITION_KEY},
                "ExpressionAttributeValues": {":state": {"S": state}},
            }
        }
        if attempts is not None:
            update["Update"]["UpdateExpression"] += ", #attempts = :attempts"
            update["Update"]["ExpressionAttributeNames"]["#attempts"] = "attempts"
            update["Update"]["ExpressionAttributeValues"][":attempts"] = {"N": str(attempts)}
        try:
            self._client.transact_write_items(
                TransactItems=[{"Put": {"TableName": self._table, "Item": to_item(log)}}, update]
            )
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise (map_error(error) or error) from error
            # the event item expired meanwhile: keep the log of the attempt all the same
            self._items.put(log)

    def claim_redelivery(
        self, group: str, subscription_id: str, event_id: str, idempotency_key: str, ttl: int, now_s: int
    ) -> str:
        """Note a redelivery request under its key (an item of its own, kept as long as the
        events). `claimed`: queue its message now, then `redelivery_queued`; `queued`: an earlier
        request under the key queued it (a request noted before this mark existed counts as
        queued); `in_flight`: an earlier request noted it less than REDELIVERY_LEASE_S ago and
        has not queued it yet (it may still). A request that noted it and never queued it (SQS
        failed: it gives the note back; the function stopped: its lease runs out) is claimed by
        the next request under the key."""
        self.requests += 1
        pk, sk = keys.deliveries_pk(group, subscription_id), keys.redelivery_sk(event_id, idempotency_key)
        values = item(
            pk,
            sk,
            "webhook_redelivery",
            {"event_id": event_id, "idempotency_key": idempotency_key, "queued": False, "noted_s": now_s},
            **{TTL_ATTRIBUTE: ttl},
        )
        unsent = {
            "ConditionExpression": "attribute_not_exists(#pk) OR (#queued = :no AND #noted < :stale)",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#queued": "queued", "#noted": "noted_s"},
            "ExpressionAttributeValues": {
                ":no": {"BOOL": False},
                ":stale": {"N": str(now_s - REDELIVERY_LEASE_S)},
            },
        }
        if self._items.put(values, unsent):
            return "claimed"
        found = self._items.get(pk, sk) or {}
        return "queued" if found.get("queued", True) else "in_flight"

    def _mark_redelivery(
        self, group: str, subscription_id: str, event_id: str, idempotency_key: str, update: str, value: Any
    ) -> None:
        self.requests += 1
        try:
            self._client.update_item(
                TableName=self._table,
                Key=ItemTable.key(
                    keys.deliveries_pk(group, subscription_id), keys.redelivery_sk(event_id, idempotency_key)
                ),
                UpdateExpression=f"SET {update} = :v",
                ExpressionAttributeNames={"#queued": "queued"}
                | ({"#noted": "noted_s"} if "#noted" in update else {}),
                ExpressionAttributeValues={":v": value, ":no": {"BOOL": False}},
                ConditionExpression="#queued = :no",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise (map_error(error) or error) from error

    def redelivery_queued(
        self, group: str, subscription_id: str, event_id: str, idempotency_key: str
    ) -> None:
        """Mark a redelivery request's message queued: the same key again queues nothing."""
        self._mark_redelivery(group, subscription_id, event_id, idempotency_key, "#queued", {"BOOL": True})

    def release_redelivery(
        self, group: str, subscription_id: str, event_id: str, idempotency_key: str
    ) -> None:
        """Give a claimed request back (its message could not be queued): the next request under
        its key claims it at once."""
        self._mark_redelivery(group, subscription_id, event_id, idempotency_key, "#noted", {"N": "0"})

    def attempts_page(
        self, group: str, subscription_id: str, limit: int, cursor: str | None
    ) -> tuple[list[DeliveryAttempt], str | None]:
        """One page of the attempts' log, newest first."""
        self.requests += 1
        values, next_cursor = prefix_page(
            self._client,
            self._table,
            keys.deliveries_pk(group, subscription_id),
            keys.ATTEMPT_PREFIX,
            limit,
            cursor,
            newest_first=True,
            max_length=200,
        )
        return [DeliveryAttempt.model_validate(value) for value in values], next_cursor


def body_text(event: dict[str, Any]) -> str:
    """The exact text a webhook carries: the event's detail as compact JSON, keys sorted."""
    return json.dumps(event, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
