"""Which function serves which trigger.

The one wiring list: CDK (`infra/`) builds the functions, routes and grants from it,
and the local stack (`local_stack/`) dispatches requests and events to the same
handlers from it. Adding a route or a function here is the only change needed to
expose it in both places. The API functions' routes are in `wiring_routes` (re-exported here),
which is all an API function reads of the list at import.
"""

from __future__ import annotations

from loyalty_engine.kernel.table import MEMBER_SHARDS
from loyalty_engine.wiring_routes import (  # the API functions' routes, re-exported
    ADMIN as ADMIN,
)
from loyalty_engine.wiring_routes import (
    API_ROUTES as API_ROUTES,
)
from loyalty_engine.wiring_routes import (
    DOCS_PATH as DOCS_PATH,
)
from loyalty_engine.wiring_routes import (
    INSTRUMENT_ROUTES as INSTRUMENT_ROUTES,
)
from loyalty_engine.wiring_routes import (
    PARTNER_IMPORTS as PARTNER_IMPORTS,
)
from loyalty_engine.wiring_routes import (
    PUBLIC_ROUTES as PUBLIC_ROUTES,
)
from loyalty_engine.wiring_types import (  # the shapes, re-exported for infra/ and local_stack/
    ApiRoute as ApiRoute,
)
from loyalty_engine.wiring_types import (
    Bucket as Bucket,
)
from loyalty_engine.wiring_types import (
    BucketGrant as BucketGrant,
)
from loyalty_engine.wiring_types import (
    BusRule as BusRule,
)
from loyalty_engine.wiring_types import (
    Function as Function,
)
from loyalty_engine.wiring_types import (
    ProgramSchedules as ProgramSchedules,
)
from loyalty_engine.wiring_types import (
    Queue as Queue,
)
from loyalty_engine.wiring_types import (
    QueueTrigger as QueueTrigger,
)
from loyalty_engine.wiring_types import (
    S3Notification as S3Notification,
)
from loyalty_engine.wiring_types import (
    StreamTrigger as StreamTrigger,
)
from loyalty_engine.wiring_types import (
    TableAccess as TableAccess,
)

# API Gateway gives up on an integration after 29 s: a function serving routes must end before.
API_GATEWAY_TIMEOUT_S = 29
# The authorizer's answers are cached by API Gateway per identity source (the Authorization
# header's value) for this long; the local gateway caches them the same way.
AUTHORIZER_CACHE_TTL_S = 60
AUTHORIZATION_HEADER = "Authorization"

# Partner files: `incoming/<group>/<name>.csv` in, `reports/<group>/...` out, applied files
# moved to `processed/<group>/`. (Key layout in `loyalty_engine.imports.files`.)
IMPORT_BUCKET = Bucket(name="Imports", env="IMPORT_BUCKET")
IMPORT_QUEUE = Queue(
    name="Imports",
    env="IMPORT_QUEUE_URL",
    visibility_timeout_s=6 * 900,  # AWS's advice for a queue feeding a Lambda: 6 x its timeout
    # Files uploaded together are all in the bucket before the first is applied, so that
    # a burn file can rely on the earn file dropped with it (see docs/rewards-and-imports.md).
    delivery_delay_s=30,
    max_receive_count=5,
    source=S3Notification(bucket=IMPORT_BUCKET.name, prefix="incoming/"),
)
# Scheduled jobs: a program's schedules invoke the job starter, which queues one message
# per member shard; the job worker pages through its shard and queues its own continuation.
JOB_QUEUE = Queue(
    name="Jobs",
    env="JOB_QUEUE_URL",
    visibility_timeout_s=6 * 900,
    max_receive_count=5,
)
PROGRAM_SCHEDULES = ProgramSchedules(
    name="Programs",
    group_env="SCHEDULE_GROUP",
    role_env="SCHEDULER_ROLE_ARN",
    target_env="JOB_TARGET_ARN",
    dead_letter_env="SCHEDULE_DLQ_ARN",
)
# Pre-issue batches too large to issue during the API call; their CSV exports land in
# `exports/<group>/<series>/<batch>.csv` of the exports bucket.
EXPORT_BUCKET = Bucket(name="Exports", env="EXPORT_BUCKET")
BATCH_QUEUE = Queue(
    name="InstrumentBatches",
    env="BATCH_QUEUE_URL",
    visibility_timeout_s=6 * 900,
    max_receive_count=5,
)
# Webhooks (docs/webhooks.md): every domain event on the bus -> the dispatcher's queue -> one
# delivery message per subscription wanting it -> the delivery worker, which re-sends a failed
# delivery to its own queue with a delay (backoff) and gives it up to the dead-letter queue itself.
WEBHOOK_EVENT_QUEUE = Queue(
    name="WebhookEvents",
    env="WEBHOOK_EVENT_QUEUE_URL",
    visibility_timeout_s=6 * 30,
    max_receive_count=5,
    source=BusRule(source="loyalty-engine"),
)
WEBHOOK_QUEUE = Queue(
    name="WebhookDeliveries",
    env="WEBHOOK_QUEUE_URL",
    visibility_timeout_s=6 * 60,
    max_receive_count=5,
    dead_letter_env="WEBHOOK_DLQ_URL",
)
BUCKETS: tuple[Bucket, ...] = (IMPORT_BUCKET, EXPORT_BUCKET)
QUEUES: tuple[Queue, ...] = (IMPORT_QUEUE, JOB_QUEUE, BATCH_QUEUE, WEBHOOK_EVENT_QUEUE, WEBHOOK_QUEUE)

AUTHORIZER = Function(
    name="Authorizer",
    settings="AuthorizerSettings",
    handler="loyalty_engine.handlers.authorizer.handler",
    description="Resolves an API key to its loyalty group, merchant and scopes",
    table_access="use_keys",
    is_authorizer=True,
    memory_mb=256,
    timeout_s=5,
)

API = Function(
    name="Api",
    settings="ApiSettings",
    handler="loyalty_engine.handlers.api.handler",
    description="REST API: programs, members, points, rewards, VIP tiers, import status",
    indexes=("gsi1",),
    table_access="read_write",
    routes=API_ROUTES,
    manages_schedules=True,  # a program's schedules follow its settings
    # Presigned URLs of partner uploads (PUT of one incoming/ key) and of import reports (GET):
    # a URL can do no more than the role that signed it.
    buckets=(BucketGrant(bucket=IMPORT_BUCKET.name, read=("reports/",), write=("incoming/",)),),
    sends_to=(WEBHOOK_QUEUE.name,),  # an admin's redelivery of one webhook event
)

IMPORTER = Function(
    name="Importer",
    settings="ImporterSettings",
    handler="loyalty_engine.handlers.imports.handler",
    description="Applies partner CSV files (member, vip, masterreward, rewardcode, earnreward, burnreward) in order",
    table_access="read_write",
    # A whole vCPU: with its batch requests overlapped the importer is bound by its CPU, so a
    # file takes about 1,024/1,769 of the time at 1,024 MB and the same GB-seconds.
    memory_mb=1769,
    timeout_s=900,
    # A group's files are applied one drain at a time (the drain lock), so more concurrent
    # importers than groups importing at once would only wait for locks: 5 groups at a time.
    queue_trigger=QueueTrigger(queue=IMPORT_QUEUE.name, batch_size=10, max_concurrency=5),
    buckets=(
        BucketGrant(
            bucket=IMPORT_BUCKET.name,
            read=("incoming/",),
            write=("reports/", "processed/"),
            delete=("incoming/",),
            list=("incoming/",),
        ),
    ),
    sends_to=(IMPORT_QUEUE.name,),  # a drain that runs out of time queues its own continuation
)

JOB_STARTER = Function(
    name="JobStarter",
    settings="JobSettings",
    handler="loyalty_engine.handlers.jobs.start",
    description="Starts a program's scheduled run (tier upgrade/downgrade, points expiry, reconciliation)",
    table_access="read_write",
    memory_mb=256,
    timeout_s=30,
    schedule_target=True,
    # Every program's expiry fires at 00:00 and its reconciliation at 03:00 (GMT+1): with many
    # programs, a burst of starts. Each takes well under a second (a PutItem and two
    # SendMessageBatch calls), so 10 at a time start hundreds of runs a minute; the starts it
    # throttles are retried by Lambda's asynchronous queue.
    reserved_concurrency=10,
    sends_to=(JOB_QUEUE.name,),
)

JOB_WORKER = Function(
    name="JobWorker",
    settings="JobSettings",
    handler="loyalty_engine.handlers.jobs.work",
    description="Runs one member shard of a scheduled run, with a checkpoint per page",
    table_access="read_write",
    indexes=("gsi1",),
    # A whole vCPU: deciding a page's 500 members is CPU work (its writes overlap, 16 at once:
    # tiers.run_use_cases.MEMBER_WRITERS); at 1,024 MB a run took 1.7 x the CPU time.
    memory_mb=1769,
    timeout_s=900,
    # One run's 16 member shards at once; the shards of runs starting together wait their turn.
    queue_trigger=QueueTrigger(queue=JOB_QUEUE.name, batch_size=1, max_concurrency=MEMBER_SHARDS),
    sends_to=(JOB_QUEUE.name,),  # a shard running out of time queues its own continuation
)

INSTRUMENT_API = Function(
    name="InstrumentApi",
    settings="InstrumentSettings",
    handler="loyalty_engine.handlers.instrument_api.handler",
    description="REST API: merchants, series and batches, gift cards, store credit, coupons, customers",
    table_access="read_write",
    routes=INSTRUMENT_ROUTES,
    # A small batch is issued during the call, handing over to the queue API_MARGIN_MS before
    # the function's timeout, which is below API Gateway's 29 s (API_GATEWAY_TIMEOUT_S): the
    # function answers before the gateway gives up on it.
    timeout_s=28,
    buckets=(BucketGrant(bucket=EXPORT_BUCKET.name, write=("exports/",)),),
    sends_to=(BATCH_QUEUE.name,),
)

BATCH_ISSUER = Function(
    name="BatchIssuer",
    settings="InstrumentSettings",
    handler="loyalty_engine.handlers.instrument_batches.handler",
    description="Pre-issues a batch of gift cards or coupons, with a checkpoint per 1,000, then its CSV export",
    table_access="read_write",
    memory_mb=1024,
    timeout_s=900,
    # Pre-issue batches are rare, operator-made, and each is worked one chunk after the
    # other: SQS's minimum of 2 at a time.
    queue_trigger=QueueTrigger(queue=BATCH_QUEUE.name, batch_size=1, max_concurrency=2),
    buckets=(BucketGrant(bucket=EXPORT_BUCKET.name, write=("exports/",)),),
    sends_to=(BATCH_QUEUE.name,),  # a batch running out of time queues its own continuation
)

SCHEDULE_SYNC = Function(
    name="ScheduleSync",
    settings="ScheduleSyncSettings",
    handler="loyalty_engine.handlers.schedule_sync.handler",
    description="Brings every program's schedules in line with the table (after every deploy)",
    table_access="read",  # every program, from gsi1's list of them
    indexes=("gsi1",),
    memory_mb=256,
    timeout_s=900,  # a few Scheduler calls per program
    manages_schedules=True,
    syncs_schedules=True,
    reserved_concurrency=1,  # one sync at a time
)

EVENTS_PUBLISHER = Function(
    "EventsPublisher",
    "loyalty_engine.handlers.events_publisher.handler",
    "Publishes the domain events of the table's stream to the stage's event bus",
    "stream",
    settings="PublisherSettings",
    memory_mb=256,
    timeout_s=60,
    stream_trigger=StreamTrigger(),  # and it puts events on the domain event bus (infra/domain_events.py)
)

WEBHOOK_DISPATCHER = Function(
    "WebhookDispatcher",
    "loyalty_engine.handlers.webhooks.dispatch",
    "Queues one webhook delivery per subscription wanting each domain event",
    "read_write",  # reads the group's subscriptions, keeps each event for its deliveries
    settings="WebhookSettings",
    memory_mb=256,
    timeout_s=30,
    # One Query, a PutItem per subscription and one SendMessageBatch per event: SQS's minimum of 2.
    queue_trigger=QueueTrigger(queue=WEBHOOK_EVENT_QUEUE.name, batch_size=10, max_concurrency=2),
    sends_to=(WEBHOOK_QUEUE.name,),
)

WEBHOOK_DELIVERY = Function(
    "WebhookDelivery",
    "loyalty_engine.handlers.webhooks.deliver",
    "POSTs signed webhook deliveries (10 s timeout), queues retries with backoff, gives up after 24 h",
    "read_write",
    settings="WebhookDeliverySettings",
    memory_mb=256,
    # 5 deliveries of at most 10 s each, one after the other, and their bookkeeping
    timeout_s=60,
    # Endpoints outside AWS set the pace: 10 batches in flight at most, whatever the backlog
    # (the workers together keep within 5% of the account's concurrency).
    queue_trigger=QueueTrigger(queue=WEBHOOK_QUEUE.name, batch_size=5, max_concurrency=10),
    sends_to=(WEBHOOK_QUEUE.name,),  # its retries (and, by dead_letter_env, its given-up events)
)

FUNCTIONS: tuple[Function, ...] = (
    AUTHORIZER,
    API,
    IMPORTER,
    JOB_STARTER,
    JOB_WORKER,
    INSTRUMENT_API,
    BATCH_ISSUER,
    SCHEDULE_SYNC,
    EVENTS_PUBLISHER,
    WEBHOOK_DISPATCHER,
    WEBHOOK_DELIVERY,
)
