"""A program's scheduled runs (admin keys): what ran, when, what it changed, and each shard's
progress. The group is the calling key's; a cursor carries only a position in its program's list."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BeforeValidator, Field

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.handlers.rest import caller_of, responses
from loyalty_engine.kernel.types import SLUG_PATTERN, plain_int
from loyalty_engine.points.job_names import JobName
from loyalty_engine.tiers.run_views import RUN_ID_PATTERN, RunDetail, RunPage

ProgramId = Annotated[str, Path(pattern=SLUG_PATTERN, description="Program slug")]
Limit = Annotated[int, Field(ge=1, le=200), BeforeValidator(plain_int), Query()]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


def add_jobs_routes(app: APIGatewayRestResolver) -> None:
    @app.get("/v1/programs/<program_id>/jobs", responses=responses(200), tags=["programs"])
    def list_job_runs(
        program_id: ProgramId,
        job: Annotated[JobName | None, Query(description="Only this job's runs")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> RunPage:
        """The program's scheduled runs (and operators' runs by hand), newest scheduled first: one
        Query per job. A dry run writes nothing, so it is never listed."""
        from loyalty_engine.tiers.run_queries import list_runs  # off the cold path, as its store

        return list_runs(default_context(), caller_of(app), program_id, job, limit, cursor)

    @app.get("/v1/programs/<program_id>/jobs/<run_id>", responses=responses(200), tags=["programs"])
    def get_job_run(
        program_id: ProgramId,
        run_id: Annotated[
            str,
            Path(pattern=RUN_ID_PATTERN, description="`<job>@<scheduled time, UTC>`, as the list gives it"),
        ],
    ) -> RunDetail:
        """One run with the progress of each of its member shards."""
        from loyalty_engine.tiers.run_queries import get_run  # off the cold path, as its store

        return get_run(default_context(), caller_of(app), program_id, run_id)
