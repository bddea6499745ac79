"""What the scheduled-job functions need (the JobStarter and the JobWorker), built once per container."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.objects import MessageQueue, sqs_client
from loyalty_engine.kernel.settings import JobSettings, load
from loyalty_engine.kernel.timeutil import utcnow
from loyalty_engine.points.member_store import MemberStore
from loyalty_engine.points.program_store import ProgramStore
from loyalty_engine.tiers.job_store import JobStore
from loyalty_engine.tiers.jobs import RunSummary


@dataclass
class JobServices:
    programs: ProgramStore
    members: MemberStore
    jobs: JobStore
    queue: MessageQueue | None  # None: shards run inline, one after the other (operator runs, tests)
    clock: Callable[[], datetime] = utcnow
    on_finished: Callable[[RunSummary], None] | None = None


@cache
def job_services() -> JobServices:
    config = load(JobSettings)
    dynamodb = client()
    return JobServices(
        programs=ProgramStore(dynamodb, config.table_name),
        members=MemberStore(dynamodb, config.table_name),
        jobs=JobStore(dynamodb, config.table_name),
        queue=MessageQueue(sqs_client(), config.job_queue_url) if config.job_queue_url else None,
    )
