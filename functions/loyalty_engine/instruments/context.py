"""What the instrument use cases need (merchants, customers, series, instruments, the exports
bucket and the batch queue), built once per container."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from loyalty_engine.customers.store import CustomerStore
from loyalty_engine.instruments.instrument_store import InstrumentStore
from loyalty_engine.instruments.merchant_store import MerchantStore
from loyalty_engine.instruments.series_store import SeriesStore
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.objects import MessageQueue, ObjectStore, s3_client, sqs_client
from loyalty_engine.kernel.settings import InstrumentSettings, load
from loyalty_engine.kernel.timeutil import utcnow


@dataclass
class InstrumentServices:
    """What the instrument API and the batch issuer need: merchants, customers, series, instruments."""

    merchants: MerchantStore
    customers: CustomerStore
    series: SeriesStore
    instruments: InstrumentStore
    exports: ObjectStore | None = None
    batch_queue: MessageQueue | None = None
    clock: Callable[[], datetime] = utcnow


@cache
def instrument_services() -> InstrumentServices:
    config = load(InstrumentSettings)
    dynamodb = client()
    return InstrumentServices(
        merchants=MerchantStore(dynamodb, config.table_name),
        customers=CustomerStore(dynamodb, config.table_name),
        series=SeriesStore(dynamodb, config.table_name),
        instruments=InstrumentStore(dynamodb, config.table_name),
        exports=ObjectStore(s3_client(), config.export_bucket) if config.export_bucket else None,
        batch_queue=MessageQueue(sqs_client(), config.batch_queue_url) if config.batch_queue_url else None,
    )
