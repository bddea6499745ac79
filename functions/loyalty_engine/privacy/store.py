"""Data access of exports and erasures: the reads an export pages through, and the writes that
blank personal data in place (records rewritten whole, the member and customer items under
their version, lookup items removed in the same transaction)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.customers.models import Customer
from loyalty_engine.kernel import keys, search_keys
from loyalty_engine.kernel.batch import batch_put
from loyalty_engine.kernel.dynamo import from_item, map_error, serialize
from loyalty_engine.kernel.item_access import ItemTable, at_version
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY

ENROL_SK = "ENROL"  # the enrolment's record (points.member_use_cases)


class StaleSubject(Exception):
    """The member or customer changed since it was read: read again and erase again."""


def _blank_answer(values: dict[str, Any], fields: dict[str, Any]) -> bool:
    """Blank fields of a stored answer's body (JSON text) in place; True if anything changed."""
    answer = values.get("answer")
    if not isinstance(answer, dict) or not isinstance(answer.get("body"), str):
        return False
    body = json.loads(answer["body"])
    if not isinstance(body, dict):
        return False
    changed = {name: blank for name, blank in fields.items() if name in body and body[name] != blank}
    if changed:
        answer["body"] = json.dumps({**body, **changed})
    return bool(changed)


def _blank_cancellation_reason(values: dict[str, Any]) -> bool:
    """Blank a cancellation record's reason and its stored answer's `entry.reason` in place."""
    changed = False
    if values.get("reason") is not None:
        values["reason"] = None
        changed = True
    answer = values.get("answer")
    if isinstance(answer, dict) and isinstance(answer.get("body"), str):
        body = json.loads(answer["body"])
        entry = body.get("entry") if isinstance(body, dict) else None
        if isinstance(entry, dict) and entry.get("reason") is not None:
            answer["body"] = json.dumps({**body, "entry": {**entry, "reason": None}})
            changed = True
    return changed


def _at(version: int) -> dict[str, Any]:
    """The stored customer is still the version read (0: saved before customers had versions)."""
    if version:
        return at_version(version)
    return {
        "ConditionExpression": "attribute_exists(#pk) AND attribute_not_exists(#v)",
        "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#v": "version"},
    }


class PrivacyStore(ItemTable):
    def _raw_items(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        """Every item of a partition under a sort-key prefix, as stored (keys included)."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
        }
        found: list[dict[str, Any]] = []
        while True:
            try:
                response = self._client.query(**params)
            except ClientError as error:
                raise (map_error(error) or error) from error
            found += [from_item(raw) for raw in response.get("Items", [])]
            if not (last := response.get("LastEvaluatedKey")):
                return found
            params["ExclusiveStartKey"] = last

    def adjustment_comments(self, group: str, card_code: str) -> dict[str, str]:
        """The comments of the member's adjustments, by Idempotency-Key."""
        prefix = keys.adjustment_sk("")
        return {
            values[SORT_KEY][len(prefix) :]: str(values.get("comment") or "")
            for values in self._raw_items(keys.member_pk(group, card_code), prefix)
        }

    def blank_member_records(self, group: str, card_code: str) -> int:
        """Blank the free text of the member's records: adjustment comments (the record and its
        stored answer), VIP grant and removal reasons (tier history), the customer reference
        of the enrolment's stored answer. Returns the items rewritten."""
        pk = keys.member_pk(group, card_code)
        rewritten = []
        for values in self._raw_items(pk, keys.adjustment_sk("")):
            changed = _blank_answer(values, {"comment": ""})
            if values.get("comment"):
                values["comment"] = ""
                changed = True
            if changed:
                rewritten.append(values)
        for values in self._raw_items(pk, keys.TIER_HISTORY_PREFIX):
            if values.get("reason") is not None:
                rewritten.append({**values, "reason": None})
        for values in self._raw_items(pk, ENROL_SK):
            if values[SORT_KEY] != ENROL_SK:
                continue
            if _blank_answer(values, {"customer_ref": None}):
                rewritten.append(values)
            rewritten += self._group_enrolment_answer(group, card_code, values.get("idempotency_sk"))
        if rewritten:
            batch_put(self._client, self._table, rewritten)
        return len(rewritten)

    def _group_enrolment_answer(self, group: str, card_code: str, sk: Any) -> list[dict[str, Any]]:
        """The answer a generated-card enrolment keeps under its Idempotency-Key in the group's
        partition (the enrolment record names it), its customer reference blanked: [] when
        there is none or it is blank already."""
        if not isinstance(sk, str):
            return []  # an imported code, or an enrolment made before the record named its key
        for values in self._raw_items(keys.group_pk(group), sk):
            answer = values.get("answer")
            if values[SORT_KEY] != sk or not isinstance(answer, dict):
                continue
            body = json.loads(str(answer.get("body") or "null"))
            same_card = isinstance(body, dict) and body.get("card_code") == card_code
            if same_card and _blank_answer(values, {"customer_ref": None}):
                return [values]
        return []

    def blank_instrument_free_text(self, group: str, number: str) -> int:
        """Blank an instrument's cancellation reasons: on the cancellation record, in its stored
        answer, and on the cancellation movement (its amounts and balance stay). Returns the
        items rewritten."""
        pk = keys.instrument_pk(group, number)
        rewritten = [
            v for v in self._raw_items(pk, keys.cancellation_sk("")) if _blank_cancellation_reason(v)
        ]
        for values in self._raw_items(pk, keys.INSTRUMENT_ENTRY_PREFIX):
            if values.get("reason") is not None:
                rewritten.append({**values, "reason": None})
        if rewritten:
            batch_put(self._client, self._table, rewritten)
        return len(rewritten)

    def mark_member_erased(self, group: str, card_code: str, version: int, erased_at: str) -> None:
        """The member item without its customer reference, marked erased, at `version` + 1, and
        its card's lookup removed from the search, in one transaction. StaleSubject: the member
        changed since it was read."""
        condition = at_version(version)
        actions = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self.key(keys.member_pk(group, card_code), keys.MEMBER_SK),
                    "UpdateExpression": "SET #ref = :none, #erased = :at ADD #v :one",
                    **condition,
                    "ExpressionAttributeNames": {
                        **condition["ExpressionAttributeNames"],
                        "#ref": "customer_ref",
                        "#erased": "erased_at",
                    },
                    "ExpressionAttributeValues": {
                        **condition["ExpressionAttributeValues"],
                        ":none": serialize(None),
                        ":at": serialize(erased_at),
                        ":one": {"N": "1"},
                    },
                }
            },
            self.delete_action(search_keys.card_index_pk(group), search_keys.card_lookup_sk(card_code)),
        ]
        self._erase(actions)

    def put_erased_customer(self, group: str, customer: Customer, previous: Customer) -> None:
        """The blanked customer at `previous.version` + 1, its e-mail lookup removed, in one
        transaction. StaleSubject: the customer changed since it was read."""
        actions = [
            self.put_action(
                item(
                    keys.customer_pk(group, customer.customer_id),
                    keys.CUSTOMER_SK,
                    "customer",
                    customer.model_dump(mode="json"),
                ),
                _at(previous.version),
            )
        ]
        if previous.email:
            lookup = search_keys.email_lookup_sk(previous.email, customer.customer_id)
            actions.append(self.delete_action(search_keys.email_index_pk(group), lookup))
        self._erase(actions)

    def _erase(self, actions: list[dict[str, Any]]) -> None:
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise StaleSubject() from error
            raise (map_error(error) or error) from error

    def customer_card_link(self, group: str, card_code: str) -> str | None:
        values = self.get(keys.member_pk(group, card_code), keys.CUSTOMER_LINK_SK)
        return str(values["customer_id"]) if values else None

    def instrument(self, group: str, number: str) -> dict[str, Any] | None:
        """The instrument as stored (its first movement's item, else the pre-issued one)."""
        pk = keys.instrument_pk(group, number)
        return self.get(pk, keys.INSTRUMENT_SK) or self.get(pk, keys.ISSUED_INSTRUMENT_SK)

    def instrument_ledger(self, group: str, number: str) -> list[dict[str, Any]]:
        """Every movement of the instrument, newest first."""
        found = self._raw_items(keys.instrument_pk(group, number), keys.INSTRUMENT_ENTRY_PREFIX)
        return [data_of(values) for values in reversed(found)]
