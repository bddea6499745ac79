"""Tiers on a fast clock: a tiered program's schedules fire on the stack's virtual clock
(EventBridge Scheduler -> JobStarter -> Jobs queue -> JobWorker), then the downgrade run of a
year later, by hand (`make run-job`, the operators' `run-job` command): refused, since it is in
the future, and made as a dry run that says what it will do.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TextIO

from local_stack.demo_client import GROUP, DemoClient, ScenarioResult, Step, field, table
from loyalty_engine.wiring import JOB_QUEUE

if TYPE_CHECKING:
    from local_stack.schedules import Firing
    from local_stack.stack import LocalStack

GMT1 = timezone(timedelta(hours=1), "GMT+1")  # the programs' wall time
SPEED = 86_400.0  # one virtual day per real second
TIERS = [
    {"rank": 1, "name": "Blue", "entry_threshold": 0, "downgrade_threshold": 0},
    {"rank": 2, "name": "Silver", "entry_threshold": 500, "downgrade_threshold": 400},
    {"rank": 3, "name": "Gold", "entry_threshold": 2000, "downgrade_threshold": 1500},
]


def _gmt1(moment: datetime) -> str:
    return moment.astimezone(GMT1).strftime("%Y-%m-%d %H:%M GMT+1")


def _next_midnight(moment: datetime) -> datetime:
    """The first 00:00 GMT+1 after `moment`."""
    local = moment.astimezone(GMT1)
    return (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).astimezone(UTC)


def _tier(view: Any) -> str:
    tier = view.get("tier") if isinstance(view, dict) else None
    return str(tier.get("name")) if isinstance(tier, dict) else "-"


def run_tiers_scenario(stack: LocalStack, *, out: TextIO = sys.stdout, suffix: str = "") -> ScenarioResult:
    c = DemoClient(stack.api_url, stack.keys, out)
    program_id = f"tier-club{suffix}"
    now = datetime.now(UTC).replace(microsecond=0)
    out.write("\nTiers on a fast clock (Scheduler -> JobStarter -> Jobs queue -> JobWorker)\n")
    c.call(
        "a tiered program: Blue/Silver/Gold, upgrades daily at 00:00 GMT+1, downgrades yearly",
        "PUT",
        f"/v1/programs/{program_id}",
        body={
            "name": f"Tier club{suffix}",
            "kind": "tiered",
            "currency": "EUR",
            "starts_at": "2025-01-01T00:00:00+01:00",
            "card_codes": {"generation": "manual"},
            "nq_points": {"conversion_rate": "1", "validity": {"value": 1, "unit": "year"}},
            "q_points": {"conversion_rate": "1", "validity": {"value": 1, "unit": "year"}},
            "tier_settings": {
                "max_tier_downgrade": 1,
                "upgrade": {"first_run_at": "2025-01-01T00:00:00+01:00", "periodicity": "daily"},
                "downgrade": {
                    "mode": "calendar",
                    "first_run_at": "2026-01-01T00:00:00+01:00",
                    "periodicity": "yearly",
                },
                "tiers": TIERS,
            },
            "vip_tiers": [{"name": "ambassador", "nq_multiplier": "2"}],
        },
        expect=201,
        checks=(field("kind", "tiered"),),
    )
    scheduler = stack.client("scheduler")
    group = stack.schedules.group_name
    mine = []
    for summary in scheduler.list_schedules(GroupName=group).get("Schedules", []):
        schedule = scheduler.get_schedule(GroupName=group, Name=summary["Name"])
        if json.loads(schedule["Target"].get("Input", "{}")).get("program_id") == program_id:
            mine.append(schedule)
    out.write(f"  its schedules in the group {group}:\n")
    for schedule in sorted(mine, key=lambda s: s["Name"]):
        job = json.loads(schedule["Target"]["Input"])["job"]
        out.write(
            f"    {job:<15} {schedule['ScheduleExpression']:<24} {schedule['ScheduleExpressionTimezone']}"
            f"  from {_gmt1(schedule['StartDate'])}\n"
        )
    if len(mine) != 4:
        c.result.steps.append(
            Step("the program has 4 schedules", "GET", "scheduler", 4, len(mine), f"{len(mine)} found")
        )

    members = [
        (f"TIER-ANA{suffix}".upper(), "2100.00", "Gold"),
        (f"TIER-BEN{suffix}".upper(), "650.00", "Silver"),
        (f"TIER-CLO{suffix}".upper(), "120.00", "Blue"),
    ]
    for card, amount, _ in members:
        c.call(
            f"enrol {card}",
            "POST",
            f"/v1/programs/{program_id}/members",
            body={"card_code": card},
            key=(GROUP, "shop"),
            expect=201,
            checks=(field("tier.name", "Blue"),),
        )
        c.call(
            f"{card} buys for {amount} EUR",
            "POST",
            f"/v1/members/{card}/orders",
            body={
                "order_id": f"T-{card}",
                "amount": amount,
                "currency": "EUR",
                "ordered_at": (now - timedelta(hours=1)).isoformat(),
            },
            key=(GROUP, "shop"),
            expect=201,
        )

    until = _next_midnight(stack.schedules.clock.now()) + timedelta(minutes=1)
    worker = next(d for d in stack.deliveries if d.queue.spec.name == JOB_QUEUE.name)
    before = worker.invocations
    out.write(
        f"\n  the clock runs at one day per second: {_gmt1(stack.schedules.clock.now())} -> {_gmt1(until)}\n"
    )
    fired = stack.schedules.run_until(until, speed=SPEED)
    stack.wait_for_queues(timeout=120)
    _print_firings(out, fired)
    out.write(
        f"    {len(fired)} runs started, {worker.invocations - before} "
        "shard messages handled by the JobWorker\n"
    )
    if not any(
        f.event.get("program_id") == program_id and f.event.get("job") == "tier-upgrade" for f in fired
    ):
        c.result.steps.append(Step("the upgrade run fired", "-", "scheduler", 1, 0, "it did not fire"))

    views = {}
    for card, _, tier in members:
        views[card] = c.call(
            f"{card} is {tier} after the upgrade run",
            "GET",
            f"/v1/members/{card}",
            key=(GROUP, "shop"),
            expect=200,
            checks=(field("tier.name", tier),),
        )
    ana, _, _ = members[0]
    _history(c, out, ana)

    out.write("\n")
    clo = members[2][0]
    c.call(
        f"grant {clo} the VIP tier 'ambassador'",
        "PUT",
        f"/v1/members/{clo}/vip-tiers/ambassador",
        body={"reason": "brand ambassador"},
        expect=200,
        checks=(field("vip_tiers", ["ambassador"]),),
    )

    # A year on, the Q points earned today have expired: the yearly downgrade will drop each
    # member by one tier at most (max_tier_downgrade 1). A run by hand "as of" then is refused
    # (it would take away tiers still held today); its dry run says what it will do.
    local = now.astimezone(GMT1)
    at = datetime(local.year + 2, 1, 1, tzinfo=GMT1)  # a yearly downgrade occurrence, > a year away
    at_text = at.isoformat()
    out.write(
        f"\n  as of then: make run-job JOB=tier-downgrade PROGRAM={program_id} AT={at_text} GROUP={GROUP}\n"
    )
    refused = _run_job(c, program_id, "tier-downgrade", at_text, expect=(2, None))
    out.write(f"    refused: {refused.get('error', '?')}\n")
    out.write("  the same with DRY_RUN=1 (--dry-run)\n")
    summary = _run_job(c, program_id, "tier-downgrade", at_text, dry_run=True, expect=(0, "dry_run"))
    out.write(
        f"    dry run: {summary.get('members')} members read, {summary.get('changed')} would change "
        f"({', '.join(f'{move}: {n}' for move, n in (summary.get('moves') or {}).items()) or 'none'})\n"
    )
    outcomes = {item["card_code"]: item["outcome"] for item in summary.get("cards") or []}
    rows = []
    for (card, _, tier), after in zip(members, ("Silver", "Blue", "Blue"), strict=True):
        expected = f"{tier} -> {after}" if after != tier else None
        view = c.call(
            f"{card} stays {tier} today; the dry run says {expected or 'no change'}",
            "GET",
            f"/v1/members/{card}",
            key=(GROUP, "shop"),
            expect=200,
            checks=(field("tier.name", tier),),
        )
        if outcomes.get(card) != expected:
            c.result.steps.append(
                Step(
                    f"dry run outcome of {card}",
                    "CLI",
                    "run-job",
                    0,
                    0,
                    f"{outcomes.get(card)} != {expected}",
                )
            )
        rows.append(
            [
                card,
                str((views[card] or {}).get("balances", {}).get("q", {}).get("valid", "-")),
                _tier(view),
                after,
                ", ".join(view.get("vip_tiers", [])) if isinstance(view, dict) else "-",
            ]
        )
    out.write("\n")
    table(
        out,
        ["card code", "Q points today", "tier now", f"on {at.date()} (dry run)", "VIP"],
        rows,
        {1},
    )
    _history(c, out, ana)
    out.write("\n")
    _history(c, out, clo)
    return c.finish()


def _print_firings(out: TextIO, fired: list[Firing]) -> None:
    for firing in fired:
        event = firing.event if isinstance(firing.event, dict) else {}
        answer = firing.answer if isinstance(firing.answer, dict) else {}
        outcome = firing.error or answer.get("state")
        out.write(
            f"    fired {_gmt1(firing.at)}  {event.get('job', '?'):<14} {event.get('program_id', '?'):<22}"
            f" -> {firing.target}: {outcome}\n"
        )


def _history(c: DemoClient, out: TextIO, card: str) -> None:
    page = c.call(
        f"{card}'s tier history, newest first",
        "GET",
        f"/v1/members/{card}/tier-history",
        key=(GROUP, "shop"),
        expect=200,
    )
    changes = page.get("changes", []) if isinstance(page, dict) else []
    out.write(f"\n  Tier history of {card}\n")

    def name(ref: Any) -> str:
        return str(ref.get("name")) if isinstance(ref, dict) else "-"

    table(
        out,
        ["at (GMT+1)", "cause", "from", "to", "VIP", "Q points"],
        [
            [
                _gmt1(datetime.fromisoformat(change["at"].replace("Z", "+00:00"))),
                str(change.get("cause")),
                name(change.get("previous_tier")),
                name(change.get("new_tier")),
                ", ".join(change.get("vip_tiers") or []) or "-",
                str(change.get("q_points")),
            ]
            for change in changes
        ],
        {5},
    )


def _run_job(
    c: DemoClient,
    program_id: str,
    job: str,
    at: str,
    *,
    dry_run: bool = False,
    expect: tuple[int, str | None] = (0, "completed"),
) -> dict[str, Any]:
    """What `make run-job` runs, in this process (whose environment is the local stack's): the
    summary printed, or `{"error": <what it wrote on stderr>}` when it printed none."""
    from loyalty_engine.cli import main as admin

    printed, errors = io.StringIO(), io.StringIO()
    argv = ["run-job", "--group", GROUP, "--program", program_id, "--job", job, "--at", at]
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        code = admin([*argv, "--dry-run"] if dry_run else argv)
    try:
        summary: dict[str, Any] = json.loads(printed.getvalue())
    except ValueError:
        summary = {"error": errors.getvalue().strip()}
    problem = None if (code, summary.get("state")) == expect else f"exit {code}: {errors.getvalue()}"
    label = f"run-job {job} as of {at}{' --dry-run' if dry_run else ''}"
    c.result.steps.append(Step(label, "CLI", "run-job", expect[0], code, problem))
    return summary
