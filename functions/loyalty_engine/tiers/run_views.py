"""What the API answers about a program's scheduled runs (`GET /v1/programs/{id}/jobs` and
`/jobs/{run_id}`): the run items as an operator reads them. Light imports only: the routes'
models are built at the API's cold start, the run machinery (`tiers.jobs`) is not."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.table import MEMBER_SHARDS
from loyalty_engine.points.job_names import JOB_NAMES, JobName

# A run's id: `<job>@<scheduled time, UTC>` (`tiers.jobs.JobRequest.run_id`).
RUN_ID_PATTERN = rf"^({'|'.join(JOB_NAMES)})@\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}Z$"
# A running run with no shard checkpoint (nor its start) this recent is `stalled`. A worker
# checkpoints after every page of 500 members (seconds), and a shard out of time queues its own
# continuation at once; 30 minutes without one means its messages keep failing (each retry waits
# the jobs queue's visibility timeout, 90 minutes; after 5 they go to its dead-letter queue) or
# wait behind other runs' shards.
STALL_AFTER = timedelta(minutes=30)
_COUNTS = ("shards_done", "members", "changed", "drift", "retried", "tiers", "vip_tiers")


class RunView(DeferredModel):
    run_id: str = Field(description="`<job>@<scheduled time, UTC>`: the run's id in `/jobs/{run_id}`")
    job: JobName
    scheduled_at: datetime = Field(description="The instant the run decides as of (UTC)")
    state: Literal["running", "completed"] = Field(
        description="`running` until its last shard is done (a shard that keeps failing leaves it running)"
    )
    started_at: datetime
    completed_at: datetime | None = Field(
        description="null while running (and for a run completed before the engine kept it)"
    )
    progress_at: datetime | None = Field(
        None,
        description="Running runs: the newest checkpoint of any shard (its start before the first); "
        "null once completed",
    )
    stalled: bool = Field(
        False,
        description="Running and no progress for 30 minutes (`progress_at`): a shard's messages keep "
        "failing (after 5 receives they wait in the jobs dead-letter queue, alarmed: redrive them to "
        "resume from the checkpoint) or wait behind other runs. It clears when a shard moves on",
    )
    shards: int = Field(MEMBER_SHARDS, description="The member shards the run works through")
    shards_done: int | None = Field(description="Totals from here on: null while the run is running")
    members: int | None = Field(description="Members read")
    changed: int | None = Field(description="Members written: tier changed, points expired")
    drift: int | None = Field(description="reconcile: members whose balance is not the sum of their ledger")
    retried: int | None = Field(description="Members decided again after a write lost a race")
    tiers: dict[str, int] | None = Field(description="reconcile: members by tier rank (`none`: no tier)")
    vip_tiers: dict[str, int] | None = Field(description="reconcile: members by VIP tier")


class ShardView(DeferredModel):
    shard: int
    state: Literal["not_started", "running", "done"]
    pages: int = Field(description="Pages of members read (500 a page)")
    members: int
    changed: int
    drift: int
    retried: int
    updated_at: datetime | None = Field(description="Its last checkpoint; null before its first")


class RunDetail(RunView):
    shard_progress: list[ShardView] = Field(description="Every shard, by number, as its checkpoint says")


class RunPage(DeferredModel):
    runs: list[RunView] = Field(description="Newest scheduled first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


def _run_fields(
    values: dict[str, Any], run_id: str, shards: dict[int, dict[str, Any]], now: datetime
) -> dict[str, Any]:
    running = values["state"] != "completed"
    progress_at = None
    if running:
        moments = [
            values["started_at"],
            *(shard["updated_at"] for shard in shards.values() if shard.get("updated_at")),
        ]
        progress_at = max(datetime.fromisoformat(str(moment)) for moment in moments)
    fields = {
        "run_id": run_id,
        "job": values["job"],
        "scheduled_at": values["scheduled_at"],
        "state": "running" if running else "completed",
        "started_at": values["started_at"],
        "completed_at": values.get("completed_at"),
        "progress_at": progress_at,
        "stalled": progress_at is not None and now - progress_at > STALL_AFTER,
    }
    return fields | {name: None if running else values.get(name) for name in _COUNTS}


def run_view(
    values: dict[str, Any], run_id: str, shards: dict[int, dict[str, Any]], now: datetime
) -> RunView:
    """A stored run summary (`tiers.jobs.RunSummary`, as JSON) as the API shows it at `now`; a
    running run's progress is read from its shards' checkpoints (`tiers.jobs.ShardProgress`)."""
    return RunView.model_validate(_run_fields(values, run_id, shards, now))


def run_detail(
    values: dict[str, Any], run_id: str, shards: dict[int, dict[str, Any]], now: datetime
) -> RunDetail:
    """The run and every shard at `now`, from their stored checkpoints (`tiers.jobs.ShardProgress`)."""
    progress = []
    for number in range(MEMBER_SHARDS):
        shard = shards.get(number, {})
        state = "not_started" if not shard else "done" if shard.get("done") else "running"
        progress.append(
            ShardView(
                shard=number,
                state=state,
                pages=shard.get("pages", 0),
                members=shard.get("members", 0),
                changed=shard.get("changed", 0),
                drift=shard.get("drift", 0),
                retried=shard.get("retried", 0),
                updated_at=shard.get("updated_at"),
            )
        )
    return RunDetail.model_validate(_run_fields(values, run_id, shards, now) | {"shard_progress": progress})
