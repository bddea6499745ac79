"""What the points API's use cases get: one Context, built once per container.

It provides the ports of the capabilities the API serves (`points.context.PointsContext`, and
the rewards, tiers and import-status ports that extend or sit beside it) from their stores, and
wires a saved program to its schedules. The instrument API has its own services
(`instruments.context`), so that neither API function loads the other's stores and models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from loyalty_engine.access.store import GroupStore
from loyalty_engine.imports.store import ImportStore
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.settings import ApiSettings, load
from loyalty_engine.kernel.timeutil import utcnow
from loyalty_engine.points.context import ProgramCache
from loyalty_engine.points.member_store import MemberStore
from loyalty_engine.points.program_store import ProgramStore
from loyalty_engine.points.programs import Program
from loyalty_engine.rewards.store import RewardStore

if TYPE_CHECKING:
    from loyalty_engine.kernel.objects import ObjectStore
    from loyalty_engine.tiers.job_store import JobStore
    from loyalty_engine.tiers.run_store import RunStore
    from loyalty_engine.tiers.schedule_store import ScheduleStore


@cache
def _import_objects() -> ObjectStore | None:
    """The import bucket, for presigned uploads and report links; None on a stage without one."""
    config = load(ApiSettings)
    if not config.import_bucket:
        return None
    from loyalty_engine.kernel.objects import ObjectStore, s3_client, s3_presign_client

    return ObjectStore(s3_client(), config.import_bucket, s3_presign_client())


@cache
def _schedule_store() -> ScheduleStore | None:
    """The program schedules' store; None where they are not managed (no schedule group set)."""
    config = load(ApiSettings)
    if not config.schedule_group:
        return None
    from loyalty_engine.tiers.schedule_store import ScheduleStore, scheduler_client
    from loyalty_engine.wiring import PROGRAM_SCHEDULES

    assert config.scheduler_role_arn and config.job_target_arn  # the settings check them together
    return ScheduleStore(
        scheduler_client(),
        group_name=config.schedule_group,
        role_arn=config.scheduler_role_arn,
        target_arn=config.job_target_arn,
        dead_letter_arn=config.schedule_dlq_arn or "",
        retry_attempts=PROGRAM_SCHEDULES.retry_attempts,
        max_event_age_s=PROGRAM_SCHEDULES.max_event_age_s,
    )


@dataclass
class Context:
    programs: ProgramStore
    members: MemberStore
    rewards: RewardStore
    imports: ImportStore
    groups: GroupStore
    dynamodb: Any
    table_name: str
    clock: Callable[[], datetime] = utcnow
    schedules: Callable[[], ScheduleStore | None] = field(default=lambda: _schedule_store())
    import_objects: Callable[[], ObjectStore | None] = field(default=lambda: _import_objects())
    presigned_url_seconds: int = 600
    program_cache_seconds: float = 30.0
    _cache: ProgramCache = field(init=False)

    def __post_init__(self) -> None:
        self._cache = ProgramCache(self.programs, self.program_cache_seconds)

    @cached_property
    def jobs(self) -> JobStore:
        """Members, tier history and VIP writes as the runs see them (the VIP and tier-history
        routes): built on first use, so that the API's cold import leaves the store off."""
        from loyalty_engine.tiers.job_store import JobStore

        return JobStore(self.dynamodb, self.table_name)

    @cached_property
    def runs(self) -> RunStore:
        """The runs' summaries and checkpoints (`GET .../jobs`): built on first use."""
        from loyalty_engine.tiers.run_store import RunStore

        return RunStore(self.dynamodb, self.table_name)

    def program(self, group: str, program_id: str) -> Program:
        return self._cache.get(group, program_id)

    def forget_program(self, group: str, program_id: str) -> None:
        self._cache.forget(group, program_id)

    def program_saved(self, group: str, program: Program) -> None:
        store = self.schedules()
        if store is not None:
            store.sync_program(group, program, self.clock())


@cache
def default_context() -> Context:
    config = load(ApiSettings)
    dynamodb = client()
    return Context(
        programs=ProgramStore(dynamodb, config.table_name),
        members=MemberStore(dynamodb, config.table_name),
        rewards=RewardStore(dynamodb, config.table_name),
        imports=ImportStore(dynamodb, config.table_name),
        groups=GroupStore(dynamodb, config.table_name),
        dynamodb=dynamodb,
        table_name=config.table_name,
        program_cache_seconds=config.program_cache_seconds,
        presigned_url_seconds=config.presigned_url_seconds,
    )
