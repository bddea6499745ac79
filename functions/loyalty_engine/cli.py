"""Operator commands: create an API key (the key is printed once), run a scheduled job now,
bring the program schedules in line with the table.

    loyalty-admin create-key --group demo --scope admin|shop|partner [--merchant store-1] [--name "web shop"]
    loyalty-admin run-job --group demo --program club --job tier-upgrade --at 2027-01-01T00:00:00+01:00 [--dry-run]
    loyalty-admin sync-schedules

`run-job` runs every member shard in this process "as of" the given instant, once per
(program, job, instant): running it again reports the first run. The instant may be in the
past, not in the future: that run would take away what is still valid now, so it is refused
(exit code 2) and nothing is written. `--dry-run`, at any instant, says what the run would
change and writes nothing.

Exit codes of `run-job`: 0 the run completed (or the dry run was made), 1 the run does not
apply (program not found or not running, job not for this program), 2 bad arguments or an
instant in the future.

`sync-schedules` does what the stack does after every deploy: every program's schedules as its
settings say, and no other schedule in the group (`tiers.schedule_use_cases`); it prints the
report and exits 1 if a program could not be synced. It needs the schedules' settings
(SCHEDULE_GROUP, SCHEDULER_ROLE_ARN, JOB_TARGET_ARN, SCHEDULE_DLQ_ARN) as the API gets them:
`make sync-schedules [STAGE=dev]` sets them from the local stack or the deployed stack's outputs.

Uses the table named by TABLE_NAME and the usual AWS credentials/endpoint
(AWS_ENDPOINT_URL points it at the local stack).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from loyalty_engine.access.models import SCOPES
from loyalty_engine.access.store import GroupStore
from loyalty_engine.access.use_cases import create_api_key
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.settings import Settings, load
from loyalty_engine.tiers.jobs import JOB_NAMES


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loyalty-admin", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key (and its loyalty group if new)")
    create.add_argument("--group", required=True, help="loyalty group slug")
    create.add_argument("--scope", action="append", choices=list(SCOPES), required=True)
    create.add_argument("--merchant", default=None, help="bind the key to one merchant")
    create.add_argument("--name", default="", help="a label for the key")
    run = commands.add_parser("run-job", help="run a program's scheduled job as of an instant, here and now")
    run.add_argument("--group", required=True, help="loyalty group slug")
    run.add_argument("--program", required=True, help="program id")
    run.add_argument("--job", required=True, choices=JOB_NAMES)
    run.add_argument(
        "--at",
        required=True,
        help="ISO 8601 instant with its offset, e.g. 2027-01-01T00:00:00+01:00; not in the future",
    )
    run.add_argument(
        "--dry-run", action="store_true", help="say what the run would change, write nothing (any instant)"
    )
    commands.add_parser(
        "sync-schedules", help="bring every program's schedules in line with the table, delete the others"
    )
    args = parser.parse_args(argv)
    if args.command == "run-job":
        return _run_job(args.group, args.program, args.job, args.at, dry_run=args.dry_run)
    if args.command == "sync-schedules":
        return _sync_schedules()
    store = GroupStore(client(), load(Settings).table_name)
    token = create_api_key(store, args.group, args.scope, name=args.name, merchant_id=args.merchant)
    sys.stdout.write(token + "\n")
    sys.stderr.write("Store this key now: it is not shown again (only its hash is kept).\n")
    return 0


def _run_job(group: str, program_id: str, job: str, at: str, *, dry_run: bool = False) -> int:
    from pydantic import ValidationError

    from loyalty_engine.kernel.errors import DomainError
    from loyalty_engine.tiers.context import job_services
    from loyalty_engine.tiers.jobs import JobRequest, RunSummary
    from loyalty_engine.tiers.previews import RunPreview, preview_run
    from loyalty_engine.tiers.run_use_cases import run_now

    try:
        request = JobRequest(group=group, program_id=program_id, job=job, scheduled_at=at)  # type: ignore[arg-type]
    except ValidationError as error:
        for problem in error.errors(include_url=False):
            sys.stderr.write(f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}\n")
        return 2
    summary: RunSummary | RunPreview
    try:
        summary = preview_run(job_services(), request) if dry_run else run_now(job_services(), request)
    except DomainError as refused:
        sys.stderr.write(f"run-job refused ({refused.code}): {refused.message}\n")
        return 2
    if dry_run and summary.state == "dry_run":
        sys.stderr.write("run-job: dry run, nothing was written\n")
    sys.stdout.write(summary.model_dump_json(indent=2) + "\n")
    return 0 if summary.state != "skipped" else 1


def _sync_schedules() -> int:
    from loyalty_engine.kernel.settings import SettingsError
    from loyalty_engine.tiers.schedule_use_cases import schedule_sync_services, sync_all_schedules
    from loyalty_engine.wiring import PROGRAM_SCHEDULES

    try:
        services = schedule_sync_services(
            retry_attempts=PROGRAM_SCHEDULES.retry_attempts, max_event_age_s=PROGRAM_SCHEDULES.max_event_age_s
        )
    except SettingsError as error:
        sys.stderr.write(
            f"{error}\n(make sync-schedules sets them from the local stack or STAGE's outputs)\n"
        )
        return 2
    report = sync_all_schedules(services)
    sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    sys.stderr.write(f"sync-schedules: {report.summary()}\n")
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
