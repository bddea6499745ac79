"""Operator commands: a group's API keys (create, list, rotate, revoke; a secret is printed
once), run a scheduled job now, bring the program schedules in line with the table, write the
member search's and the imports list's items for older data, set a group's request limits.

    loyalty-admin create-key --group demo --scope admin|shop|partner [--merchant store-1] [--name "web shop"]
        [--expires-at 2027-06-30T00:00:00+02:00]
    loyalty-admin list-keys --group demo
    loyalty-admin rotate-key --group demo --key-id <id> --grace-seconds 3600
    loyalty-admin revoke-key --group demo --key-id <id>
    loyalty-admin run-job --group demo --program club --job tier-upgrade --at 2027-01-01T00:00:00+01:00 [--dry-run]
    loyalty-admin sync-schedules
    loyalty-admin backfill-search --group demo
    loyalty-admin backfill-imports --group demo
    loyalty-admin quotas set --group demo --rate 20 --burst 40 [--quota 100000] | --default
    loyalty-admin quotas show --group demo
    loyalty-admin quotas sync [--group demo]

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

`quotas set` gives a group its own request limits (rate per second, burst, optional requests
per UTC day), or puts it back on the stage's default plan; on a deployed stage
(REST_API_ID, DEFAULT_USAGE_PLAN_ID, STAGE_NAME from the stack's outputs) it brings the group's
API Gateway key and usage plan in line too (docs/quotas.md). Exit code 2: bad arguments or no
such group. Every group has its own usage key (its own bucket, even on the default plan):
`create-key` gives one to a group that has none (exit code 1 if API Gateway refused: the key
made is valid, run `quotas sync`); `quotas sync` gives one to every group that has none
(groups made before; a keys-only scan of the table, or the `--group`s named), prints the
report and exits 1 if a group failed; running it again gives none.

`backfill-search` writes the member search's lookup items of the cards and customers saved
before the search existed (`search.backfill`: puts only, erased subjects skipped; safe to run
again) and prints what it wrote. `backfill-imports` puts the imports list's pointers of the
jobs received before `GET /v1/imports` listed them, found through the imports bucket
(IMPORT_BUCKET; `imports.backfill`: puts only, safe to run again).

Uses the table named by TABLE_NAME and the usual AWS credentials/endpoint
(AWS_ENDPOINT_URL points it at the local stack).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from loyalty_engine.access.models import SCOPES
from loyalty_engine.access.store import GroupStore
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.settings import Settings, load
from loyalty_engine.tiers.jobs import JOB_NAMES


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="loyalty-admin", description=" ".join(__doc__.split("\n\n")[0].split())
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key (and its loyalty group if new)")
    create.add_argument("--group", required=True, help="loyalty group slug")
    create.add_argument("--scope", action="append", choices=list(SCOPES), required=True)
    create.add_argument("--merchant", default=None, help="bind the key to one merchant")
    create.add_argument("--name", default="", help="a label for the key")
    create.add_argument(
        "--expires-at", default=None, help="ISO 8601 instant with its offset: refused from then"
    )
    listing = commands.add_parser("list-keys", help="list a group's API keys (never a secret)")
    listing.add_argument("--group", required=True, help="loyalty group slug")
    rotate = commands.add_parser(
        "rotate-key", help="give a key a new secret; the old one works for the grace"
    )
    rotate.add_argument("--group", required=True, help="loyalty group slug")
    rotate.add_argument("--key-id", required=True)
    rotate.add_argument("--grace-seconds", type=int, required=True, help="0 to 604800 (7 days)")
    revoke = commands.add_parser(
        "revoke-key", help="revoke a key: the authorizer refuses it within AUTHORIZER_CACHE_TTL_S (60 s)"
    )
    revoke.add_argument("--group", required=True, help="loyalty group slug")
    revoke.add_argument("--key-id", required=True)
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
    backfill = commands.add_parser("backfill-search", help="write the member search's lookups of older data")
    backfill.add_argument("--group", required=True, help="loyalty group slug")
    imports = commands.add_parser(
        "backfill-imports", help="list a group's imports received before GET /v1/imports listed them"
    )
    imports.add_argument("--group", required=True, help="loyalty group slug (reads IMPORT_BUCKET)")
    _add_quota_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "backfill-search":
        from loyalty_engine.search.backfill import SearchBackfill

        report = SearchBackfill(client(), load(Settings).table_name).run(args.group)
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return 0
    if args.command == "backfill-imports":
        from loyalty_engine.imports.backfill import ImportsBackfill
        from loyalty_engine.kernel.objects import ObjectStore, s3_client
        from loyalty_engine.kernel.settings import ImporterSettings

        config = load(ImporterSettings)
        backfill_imports = ImportsBackfill(
            client(), config.table_name, ObjectStore(s3_client(), config.import_bucket)
        )
        sys.stdout.write(backfill_imports.run(args.group).model_dump_json(indent=2) + "\n")
        return 0
    if args.command == "quotas":
        return _quotas(args)
    if args.command == "run-job":
        return _run_job(args.group, args.program, args.job, args.at, dry_run=args.dry_run)
    if args.command == "sync-schedules":
        return _sync_schedules()
    return _key_command(args)


def _key_command(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from loyalty_engine.access import key_use_cases as api_keys
    from loyalty_engine.access.key_rules import CreateKeyRequest, RotateKeyRequest
    from loyalty_engine.kernel.errors import DomainError
    from loyalty_engine.kernel.ids import new_id
    from loyalty_engine.kernel.timeutil import utcnow

    dynamodb, table = client(), load(Settings).table_name
    store, now = GroupStore(dynamodb, table), utcnow()
    try:
        if args.command == "list-keys":
            found, cursor = api_keys.list_keys(store, args.group, 200, None, now)
            while cursor:
                more, cursor = api_keys.list_keys(store, args.group, 200, cursor, now)
                found += more
            sys.stdout.write(json.dumps([key.model_dump(mode="json") for key in found], indent=2) + "\n")
            return 0
        if args.command == "revoke-key":
            view = api_keys.revoke_key(store, args.group, args.key_id, now)
            sys.stdout.write(view.model_dump_json(indent=2) + "\n")
            return 0
        if args.command == "rotate-key":
            rotation = RotateKeyRequest(grace_seconds=args.grace_seconds)
            _, made = api_keys.rotate_key(store, args.group, args.key_id, rotation, now, f"cli-{new_id()}")
        else:
            request = CreateKeyRequest(
                name=args.name or f"{'+'.join(args.scope)} key",
                scopes=args.scope,
                merchant_id=args.merchant,
                expires_at=args.expires_at,
            )
            _, made = api_keys.create_key(
                store, args.group, request, now, _merchant_exists(dynamodb, table), None
            )
    except ValidationError as error:
        for problem in error.errors(include_url=False):
            sys.stderr.write(f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}\n")
        return 2
    except DomainError as refused:
        sys.stderr.write(f"{args.command} refused ({refused.code}): {refused.message}\n")
        return 2
    sys.stdout.write(f"{made.api_key}\n")
    sys.stderr.write("Store this key now: it is not shown again (only its hash is kept).\n")
    return _own_usage_key(store, args.group) if args.command == "create-key" else 0


def _own_usage_key(store: GroupStore, group: str) -> int:
    """A group made (or found) by create-key gets its own usage key if it has none (docs/quotas.md);
    on failure the key just made is still valid, and exit code 1 says to run `quotas sync`."""
    from loyalty_engine.access.quota_use_cases import ensure_own_usage_key
    from loyalty_engine.kernel.errors import DomainError
    from loyalty_engine.kernel.settings import UsagePlanSettings
    from loyalty_engine.kernel.timeutil import utcnow

    try:
        quota, given = ensure_own_usage_key(store, _usage_plans(load(UsagePlanSettings)), group, utcnow())
    except Exception as failed:  # the key is made and printed: say what is left to do
        reason = f"{failed.code}: {failed.message}" if isinstance(failed, DomainError) else repr(failed)
        sys.stderr.write(
            f"create-key: the group has no usage key of its own yet ({reason});"
            f" its calls share the default plan's bucket until `loyalty-admin quotas sync --group {group}`\n"
        )
        return 1
    if given:
        sys.stderr.write(
            f"create-key: group {group} got its own usage key ({quota.usage_key_id or 'local'})\n"
        )
    return 0


def _add_quota_commands(commands: Any) -> None:
    quotas = commands.add_parser("quotas", help="a group's request limits (API Gateway usage plans)")
    actions = quotas.add_subparsers(dest="action", required=True)
    put = actions.add_parser("set", help="set a group's limits, or --default for the stage's default plan")
    put.add_argument("--group", required=True, help="loyalty group slug")
    put.add_argument("--rate", type=int, help="steady requests per second")
    put.add_argument("--burst", type=int, help="requests at once")
    put.add_argument("--quota", type=int, default=None, help="requests per UTC day (default: none)")
    put.add_argument("--default", action="store_true", help="back to the stage's default plan")
    show = actions.add_parser("show", help="a group's limits in force")
    show.add_argument("--group", required=True, help="loyalty group slug")
    sync = actions.add_parser("sync", help="give every group (or --group) without one its own usage key")
    sync.add_argument("--group", action="append", default=None, help="only this group (repeatable)")


def _quotas(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from loyalty_engine.access.quota_use_cases import describe, group_quota, set_group_quota
    from loyalty_engine.access.quotas import QuotaLimits
    from loyalty_engine.kernel.errors import DomainError
    from loyalty_engine.kernel.settings import UsagePlanSettings
    from loyalty_engine.kernel.timeutil import utcnow

    store = GroupStore(client(), load(Settings).table_name)
    if args.action == "sync":
        from loyalty_engine.access.quota_use_cases import sync_usage_keys

        plans = _usage_plans(load(UsagePlanSettings))
        report = sync_usage_keys(store, plans, args.group or store.group_ids(), utcnow())
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return 1 if report.failed else 0
    try:
        if args.action == "show":
            quota = group_quota(store, args.group)
        else:
            if args.default == (args.rate is not None or args.burst is not None or args.quota is not None):
                sys.stderr.write("quotas set: give --rate and --burst (and --quota), or --default\n")
                return 2
            limits = None
            if not args.default:
                limits = QuotaLimits(rate_per_second=args.rate, burst=args.burst, daily_quota=args.quota)
            quota = set_group_quota(
                store, _usage_plans(load(UsagePlanSettings)), args.group, limits, utcnow()
            )
    except ValidationError as error:
        for problem in error.errors(include_url=False):
            sys.stderr.write(f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}\n")
        return 2
    except DomainError as refused:
        sys.stderr.write(f"quotas {args.action} refused ({refused.code}): {refused.message}\n")
        return 2
    sys.stdout.write(json.dumps(describe(quota), indent=2) + "\n")
    return 0


def _usage_plans(settings: Any) -> Any:
    """The stage's usage plans, or None where no API Gateway is configured (the local stack)."""
    if not settings.rest_api_id:
        sys.stderr.write(
            "quotas: no REST_API_ID, the limits are stored only (the local gateway enforces them)\n"
        )
        return None
    import botocore.session

    from loyalty_engine.access.usage_plan_store import UsagePlanStore

    return UsagePlanStore(
        botocore.session.get_session().create_client("apigateway"),
        rest_api_id=settings.rest_api_id,
        stage=settings.api_stage,
        stage_name=settings.stage_name,
        default_plan_id=settings.default_usage_plan_id,
    )


def _merchant_exists(dynamodb: Any, table: str) -> Callable[[str, str], bool]:
    from loyalty_engine.instruments.merchant_store import MerchantStore

    merchants = MerchantStore(dynamodb, table)
    return lambda group, merchant_id: merchants.merchant(group, merchant_id) is not None


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
