"""What the points side's use cases need: stores, a clock and id generation, built once per
container. The instrument side has its own (`logic.instrument_context`), so that neither API
function loads the other's stores and models."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from ulid import ULID

from loyalty_engine.dal.dynamo import client
from loyalty_engine.dal.group_store import GroupStore
from loyalty_engine.dal.import_store import ImportStore
from loyalty_engine.dal.job_store import JobStore
from loyalty_engine.dal.member_store import MemberStore
from loyalty_engine.dal.reward_store import RewardStore
from loyalty_engine.domain.errors import program_not_found
from loyalty_engine.domain.programs import Program
from loyalty_engine.domain.timeutil import utcnow
from loyalty_engine.settings import settings

if TYPE_CHECKING:
    from loyalty_engine.dal.schedules import ScheduleStore
    from loyalty_engine.logic.imports import ImportServices
    from loyalty_engine.logic.jobs import JobServices


def new_id() -> str:
    return str(ULID())


@cache
def _schedule_store() -> ScheduleStore | None:
    """The program schedules' store; None where they are not managed (no schedule group set)."""
    config = settings()
    if not config.schedule_group:
        return None
    from loyalty_engine.dal.schedules import ScheduleStore, scheduler_client
    from loyalty_engine.wiring import PROGRAM_SCHEDULES

    return ScheduleStore(
        scheduler_client(),
        group_name=config.schedule_group,
        role_arn=config.scheduler_role_arn,
        target_arn=config.job_target_arn,
        dead_letter_arn=config.schedule_dlq_arn,
        retry_attempts=PROGRAM_SCHEDULES.retry_attempts,
        max_event_age_s=PROGRAM_SCHEDULES.max_event_age_s,
    )


@dataclass
class Context:
    groups: GroupStore
    members: MemberStore
    rewards: RewardStore
    imports: ImportStore
    jobs: JobStore
    clock: Callable[[], datetime] = utcnow
    schedules: Callable[[], ScheduleStore | None] = field(default=lambda: _schedule_store())
    program_cache_seconds: float = 30.0
    _programs: dict[tuple[str, str], tuple[float, Program]] = field(default_factory=dict)

    def program(self, group: str, program_id: str) -> Program:
        """A program, cached per container for a short while: earn and burn stay at two round trips."""
        cached = self._programs.get((group, program_id))
        if cached and cached[0] > time.monotonic():
            return cached[1]
        program = self.groups.get_program(group, program_id)
        if program is None:
            raise program_not_found(program_id)
        self._programs[(group, program_id)] = (time.monotonic() + self.program_cache_seconds, program)
        return program

    def forget_program(self, group: str, program_id: str) -> None:
        self._programs.pop((group, program_id), None)


@cache
def default_context() -> Context:
    config = settings()
    dynamodb = client()
    return Context(
        groups=GroupStore(dynamodb, config.table_name),
        members=MemberStore(dynamodb, config.table_name),
        rewards=RewardStore(dynamodb, config.table_name),
        imports=ImportStore(dynamodb, config.table_name),
        jobs=JobStore(dynamodb, config.table_name),
        program_cache_seconds=config.program_cache_seconds,
    )


@cache
def import_services() -> ImportServices:
    """What the import function needs, built once per container."""
    from loyalty_engine.dal.objects import MessageQueue, ObjectStore, s3_client, sqs_client
    from loyalty_engine.logic.imports import ImportServices

    config = settings()
    ctx = default_context()
    return ImportServices(
        groups=ctx.groups,
        members=ctx.members,
        rewards=ctx.rewards,
        jobs=ctx.imports,
        objects=ObjectStore(s3_client(), config.import_bucket),
        queue=MessageQueue(sqs_client(), config.import_queue_url) if config.import_queue_url else None,
    )


@cache
def job_services() -> JobServices:
    """What the job functions need, built once per container."""
    from loyalty_engine.dal.objects import MessageQueue, sqs_client
    from loyalty_engine.logic.jobs import JobServices

    config = settings()
    ctx = default_context()
    return JobServices(
        groups=ctx.groups,
        members=ctx.members,
        jobs=ctx.jobs,
        queue=MessageQueue(sqs_client(), config.job_queue_url) if config.job_queue_url else None,
    )
