"""The DynamoDB table, built from `loyalty_engine.kernel.table` (the one definition of its shape)."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import StageConfig
from loyalty_engine.kernel import table as table_shape


def _string_key(name: str) -> dynamodb.Attribute:
    # Every key attribute of the single-table design is a string (see create_table_params).
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


def build_table(scope: Construct, config: StageConfig) -> dynamodb.Table:
    table = dynamodb.Table(
        scope,
        "Table",
        partition_key=_string_key(table_shape.PARTITION_KEY),
        sort_key=_string_key(table_shape.SORT_KEY),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=table_shape.TTL_ATTRIBUTE,
        # Every change with its before and after images: the domain events' source (infra/domain_events.py).
        stream=dynamodb.StreamViewType(table_shape.STREAM_VIEW_TYPE),
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        deletion_protection=config.table_deletion_protection,
        removal_policy=config.removal_policy,
    )
    for index in table_shape.GLOBAL_SECONDARY_INDEXES:
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=_string_key(index.partition_key),
            sort_key=_string_key(index.sort_key),
            projection_type=dynamodb.ProjectionType[index.projection],
        )
    return table
