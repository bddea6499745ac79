"""A function's access to the table, from its wiring `table_access` and `indexes`: item-level
DynamoDB actions only, and for the authorizer only its group partitions' keys."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam

from loyalty_engine import wiring
from loyalty_engine.kernel import keys
from loyalty_engine.kernel import table as table_shape

# Item-level actions only. Transactions have no IAM action of their own: TransactWriteItems
# is authorized per item by PutItem/UpdateItem/DeleteItem/ConditionCheckItem, and
# TransactGetItems by GetItem. No Scan, no table management, no dynamodb:*.
READ_ACTIONS: tuple[str, ...] = ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query")
WRITE_ACTIONS: tuple[str, ...] = (
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
INDEX_ACTIONS: tuple[str, ...] = ("dynamodb:Query",)

# The authorizer reads API keys by key: GetItem only, conditioned on the partition key. Key
# items live in their group's partition `G#<group>` (kernel/keys.py); every other partition of a
# group (`G#<group>#C#<card>`, ...) has a second "#", and group ids (slugs) have none. It writes a
# key's last-use marks (`GroupStore.record_key_use`): UpdateItem of those attributes alone (the
# table's key attributes are named too, as IAM requires of `dynamodb:Attributes`), returning nothing.
KEY_READ_ACTIONS: tuple[str, ...] = ("dynamodb:GetItem",)
KEY_USE_ACTIONS: tuple[str, ...] = ("dynamodb:UpdateItem",)
KEY_USE_ATTRIBUTES: tuple[str, ...] = (
    table_shape.PARTITION_KEY,
    table_shape.SORT_KEY,
    "last_used_at",
    "previous_secret_last_used_at",
)
KEY_PARTITIONS = keys.group_pk("*")
NOT_KEY_PARTITIONS = keys.group_pk("*#*")


def table_actions(access: wiring.TableAccess) -> tuple[str, ...]:
    if access == "use_keys":
        return KEY_READ_ACTIONS + KEY_USE_ACTIONS
    if access == "read":
        return READ_ACTIONS
    if access == "read_write":
        return READ_ACTIONS + WRITE_ACTIONS
    if access == "stream":
        return ()  # the table's stream only, granted with its event source (infra/domain_events.py)
    raise ValueError(f"unknown table access {access!r}")


def queried_indexes(spec: wiring.Function) -> list[table_shape.Index]:
    """The table's GSIs the wiring says the function queries (an unknown name is an error)."""
    by_name = {index.name: index for index in table_shape.GLOBAL_SECONDARY_INDEXES}
    unknown = sorted(set(spec.indexes) - set(by_name))
    if unknown:
        raise ValueError(f"wiring: {spec.name} names unknown indexes {unknown}")
    return [by_name[name] for name in spec.indexes]


def table_statements(spec: wiring.Function, table: dynamodb.ITable) -> list[iam.PolicyStatement]:
    """The policy statements of `spec`'s table access (none for a stream consumer)."""

    def allow(actions: tuple[str, ...], resources: list[str], conditions: Any = None) -> iam.PolicyStatement:
        return iam.PolicyStatement(actions=list(actions), resources=resources, conditions=conditions)

    if not table_actions(spec.table_access):
        return []
    if spec.table_access == "use_keys":
        in_key_partitions = {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [KEY_PARTITIONS]},
            "ForAllValues:StringNotLike": {"dynamodb:LeadingKeys": [NOT_KEY_PARTITIONS]},
        }
        marks_only = {
            "ForAllValues:StringEquals": {"dynamodb:Attributes": list(KEY_USE_ATTRIBUTES)},
            "StringEqualsIfExists": {"dynamodb:ReturnValues": ["NONE"]},
        }
        statements = [
            allow(KEY_READ_ACTIONS, [table.table_arn], in_key_partitions),
            allow(KEY_USE_ACTIONS, [table.table_arn], in_key_partitions | marks_only),
        ]
    else:
        statements = [allow(table_actions(spec.table_access), [table.table_arn])]
    if indexes := queried_indexes(spec):
        statements.append(
            allow(INDEX_ACTIONS, [f"{table.table_arn}/index/{index.name}" for index in indexes])
        )
    return statements
