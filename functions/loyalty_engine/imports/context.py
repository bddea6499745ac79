"""What the Importer needs, built once per container."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from time import time

from loyalty_engine.access.store import GroupStore
from loyalty_engine.imports.jobs import ImportJob, Scope
from loyalty_engine.imports.store import ImportStore
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.objects import MessageQueue, ObjectStore, s3_client, sqs_client
from loyalty_engine.kernel.settings import CATALOG_WCU_S, IMPORT_IO_THREADS, ImporterSettings, load
from loyalty_engine.kernel.timeutil import utcnow
from loyalty_engine.points.member_store import MemberStore
from loyalty_engine.points.program_store import ProgramStore
from loyalty_engine.rewards.store import RewardStore

TIME_MARGIN_MS = 60_000  # stop starting chunks with less than this left; a continuation resumes
# A member or vip line is one transaction, as an API call (~25 ms on DynamoDB, 40-100 ms on moto),
# and a burnreward line one conditional UpdateItem, not a share of a BatchWriteItem: their chunks
# are cut to the margin's worth of lines at this cost, so that a chunk started with the margin
# left ends before the Lambda's timeout (`ImportServices.lines_per_chunk`).
LINE_TRANSACTION_MS = 120


@dataclass
class ImportServices:
    groups: GroupStore
    programs: ProgramStore
    rewards: RewardStore
    jobs: ImportStore
    members: MemberStore  # member and vip files change members as the API does
    objects: ObjectStore
    queue: MessageQueue | None
    clock: Callable[[], datetime] = utcnow
    # A group's files wait until none arrived for this long (the group's setting wins); measured
    # against S3's LastModified with the wall clock (epoch seconds), not the job clock.
    quiet_period_s: int = 120
    wall_clock: Callable[[], float] = time
    # With the checkpoint riding in its first write request, a chunk of valid lines writes
    # 4,999 + 1 items: exactly 200 full BatchWriteItem requests.
    chunk_lines: int = 4_999
    time_margin_ms: int = TIME_MARGIN_MS
    # write units per second into a group's reward catalog (one partition): see kernel/pacing.py
    catalog_wcu_s: int = CATALOG_WCU_S
    # a chunk's batch requests in flight at once (each request's keys are distinct from the others')
    io_threads: int = IMPORT_IO_THREADS
    # tests: called with (job, chunk number) before a chunk's writes, to simulate a crash
    before_chunk: Callable[[ImportJob, int], None] | None = None
    # the handler's metrics: called with each job that ends (completed or rejected)
    on_finished: Callable[[ImportJob], None] | None = None
    # the handler's metrics: called with the key of an upload naming a group that does not exist
    on_unknown_group: Callable[[str], None] | None = None

    def lines_per_chunk(self, scope: Scope) -> int:
        """`chunk_lines`, or fewer for lines of one request each (LINE_TRANSACTION_MS)."""
        if scope in (Scope.MEMBER, Scope.VIP, Scope.BURNREWARD):
            return max(1, min(self.chunk_lines, self.time_margin_ms // LINE_TRANSACTION_MS))
        return self.chunk_lines

    def units_per_chunk(self, scope: Scope) -> int | None:
        """A masterreward chunk's catalog write units (as `imports.apply.line_units` estimates
        them): what the pace lets through in half the time margin, so that a chunk of large
        rewards started with the margin left ends before the Lambda's timeout. None: no cap."""
        if scope != Scope.MASTERREWARD:
            return None
        return max(1, self.catalog_wcu_s * self.time_margin_ms // 2_000)


@cache
def import_services() -> ImportServices:
    config = load(ImporterSettings)
    dynamodb = client()
    return ImportServices(
        groups=GroupStore(dynamodb, config.table_name),
        programs=ProgramStore(dynamodb, config.table_name),
        rewards=RewardStore(dynamodb, config.table_name),
        jobs=ImportStore(dynamodb, config.table_name),
        members=MemberStore(dynamodb, config.table_name),
        objects=ObjectStore(s3_client(), config.import_bucket),
        queue=MessageQueue(sqs_client(), config.import_queue_url) if config.import_queue_url else None,
        quiet_period_s=config.import_quiet_period_s,
        catalog_wcu_s=config.import_catalog_wcu_s,
        io_threads=config.import_io_threads,
    )
