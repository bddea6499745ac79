"""EventBridge Scheduler, locally: the schedules moto stores, fired on a virtual clock.

moto keeps the schedules (the API creates them when a program is saved) but never fires
them. `ScheduleRunner` does: on every tick of a background thread it reads what is due
(`schedule_reader.py`: the group's enabled schedules, and every firing of each one's
expression in (last tick, clock now], within [StartDate, EndDate)) and invokes the
function named by the target's ARN through its runtime (as the queue delivery does), with
the target's `Input` in which `<aws.scheduler.scheduled-time>` is the firing's time
(`YYYY-MM-DDTHH:MM:SSZ`, UTC). The firings of one tick go out oldest first, one at a time.

The clock (`virtual_clock.py`) starts at an instant and runs at a speed (86400: a day per
real second), or stands still until moved (`advance_to`, for tests: everything due up to
the instant is fired before it returns). A tick fires at most `max_firings_per_tick` per
schedule, the latest ones; the older ones are skipped (and counted) so that a very fast
clock cannot hold the loop. Unlike Scheduler:

- the handlers' own clock is the real one: only the firings' times are virtual;
- a target that raises is invoked again at once, up to `TARGET_ATTEMPTS` times in all
  (Lambda retries an asynchronous invocation twice), then the firing is counted as failed;
- a target that cannot be invoked (its ARN names no wiring function, the input is not
  JSON) sends the input to the schedule's dead-letter queue, with ERROR_CODE and
  ERROR_MESSAGE message attributes, as Scheduler does once it gives up;
- `FlexibleTimeWindow` is ignored (every firing is at its minute), as are rate() schedules.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from local_stack import aws
from local_stack.runtime import FunctionRuntime
from local_stack.schedule_reader import ScheduleReader
from local_stack.virtual_clock import VirtualClock, iso_z, utc

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
TICK_S = 0.25
MAX_FIRINGS_PER_TICK = 24  # per schedule
ADVANCE_LIMIT = 10_000  # firings of one advance_to, all schedules together
TARGET_ATTEMPTS = 3
HISTORY = 1000  # firings kept in `ScheduleRunner.firings`


@dataclass(frozen=True)
class Firing:
    """One invocation of a schedule's target."""

    schedule: str  # the schedule's name
    description: str
    at: datetime  # the scheduled time (UTC)
    target: str  # the wiring function invoked (its name), or the target ARN if none has it
    event: Any  # what the function was given (None if the input was not JSON)
    answer: Any = None
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> str:
        outcome = f"failed: {self.error}" if self.error else _summary(self.answer)
        return f"{iso_z(self.at)} {self.description or self.schedule} -> {self.target}: {outcome}"


def _summary(answer: Any) -> str:
    if isinstance(answer, dict) and "state" in answer:
        reason = f" ({answer['reason']})" if answer.get("reason") else ""
        return f"{answer['state']}{reason}"
    text = json.dumps(answer)
    return text if len(text) <= 80 else text[:77] + "..."


class ScheduleRunner:
    """Fires the schedules of one group on a virtual clock, in a background thread."""

    def __init__(
        self,
        endpoint_url: str,
        group_name: str,
        targets: Mapping[str, FunctionRuntime],
        clock: VirtualClock,
        *,
        dlq_url: str | None = None,
        tick_s: float = TICK_S,
        max_firings_per_tick: int = MAX_FIRINGS_PER_TICK,
        out: TextIO | None = None,
    ):
        """`targets`: Lambda ARN -> the runtime of the function it names (`aws.function_arn`).
        `out`: where to write a line per firing (None: nowhere; `firings` keeps them)."""
        if max_firings_per_tick < 1:
            raise ValueError("max_firings_per_tick must be at least 1")
        self.group_name = group_name
        self.clock = clock
        self.dlq_url = dlq_url
        self.tick_s = tick_s
        self.max_firings_per_tick = max_firings_per_tick
        self.out = out
        self.watermark = clock.now()  # every firing up to this instant has been handled
        self.fired = 0  # firings handed to a target (including failed ones)
        self.failed = 0
        self.skipped = 0  # firings a tick left out (more than max_firings_per_tick)
        self.firings: deque[Firing] = deque(maxlen=HISTORY)
        self._targets = dict(targets)
        self._sqs = aws.client("sqs", endpoint_url)
        self._reader = ScheduleReader(aws.client("scheduler", endpoint_url), group_name)
        self._lock = threading.RLock()  # one tick or advance at a time
        self._progress = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"scheduler-{group_name}", daemon=True)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> ScheduleRunner:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.wait(self.tick_s):
            try:
                self.tick()
            except (ClientError, BotoCoreError) as error:
                if self._stopping.is_set():
                    return
                sys.stderr.write(f"local stack: reading the schedules of {self.group_name} failed: {error}\n")
            except Exception:  # a bug here must not stop the clock for the rest of the session
                sys.stderr.write("local stack: the schedule loop failed on a tick\n")
                traceback.print_exc(file=sys.stderr)

    # ------------------------------------------------------------ moving the clock

    def tick(self) -> list[Firing]:
        """Fire what is due in (watermark, clock now], at most `max_firings_per_tick` per schedule."""
        with self._lock:
            now = self.clock.now()
            if now <= self.watermark:
                return []
            fired = self._fire_window(self.watermark, now, per_schedule=self.max_firings_per_tick)
            self.watermark = now
            self._progress.notify_all()
            return fired

    def advance_to(self, instant: datetime, *, limit: int = ADVANCE_LIMIT) -> list[Firing]:
        """Move the clock to `instant` (if it is behind) and fire everything due up to it, here
        and now; nothing if `instant` is not after what was already handled. ValueError, with
        nothing fired, if more than `limit` firings are due (all schedules together)."""
        instant = utc(instant)
        with self._lock:
            if instant <= self.watermark:
                return []
            due, _ = self.due(self.watermark, instant, limit=limit)
            if self.clock.now() < instant:
                self.clock.set(instant)
            fired = [self.fire(schedule, at) for at, schedule in due]
            self.watermark = instant
            self._progress.notify_all()
            return fired

    def advance(self, delta: timedelta, *, limit: int = ADVANCE_LIMIT) -> list[Firing]:
        """`advance_to(watermark + delta)`."""
        with self._lock:
            return self.advance_to(self.watermark + delta, limit=limit)

    def run_until(self, until: datetime, *, speed: float, timeout: float = 60.0) -> list[Firing]:
        """Let the clock run at `speed` up to `until` (the background loop fires on the way),
        then pause it there; the firings made meanwhile (up to `HISTORY`)."""
        until = utc(until)
        with self._lock:
            first = self.fired
            if until <= self.watermark:
                return []
            self.clock.run(speed, until=until)
            deadline = time.monotonic() + timeout
            while self.watermark < until:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    self.clock.pause()
                    raise TimeoutError(f"the clock did not reach {iso_z(until)} in {timeout} s")
                self._progress.wait(min(left, 1.0))
            self.clock.pause()
            count = self.fired - first
            return list(self.firings)[-count:] if count else []

    # ------------------------------------------------------------ what is due

    def schedules(self) -> list[dict[str, Any]]:
        """The group's enabled schedules, as GetSchedule answers (re-read only when modified)."""
        with self._lock:
            return self._reader.schedules()

    def due(
        self,
        after: datetime,
        until: datetime,
        *,
        per_schedule: int | None = None,
        limit: int | None = None,
    ) -> tuple[list[tuple[datetime, dict[str, Any]]], int]:
        """(scheduled time, schedule) of every firing in (after, until], oldest first, and how
        many were left out by `per_schedule` (the latest ones are kept)."""
        return self._reader.due(self.schedules(), after, until, per_schedule=per_schedule, limit=limit)

    # ------------------------------------------------------------ firing

    def _fire_window(
        self, after: datetime, until: datetime, *, per_schedule: int | None = None, limit: int | None = None
    ) -> list[Firing]:
        due, left_out = self.due(after, until, per_schedule=per_schedule, limit=limit)
        self.skipped += left_out
        return [self.fire(schedule, at) for at, schedule in due]

    def fire(self, schedule: dict[str, Any], at: datetime) -> Firing:
        """Invoke the schedule's target as of `at` (what a firing does), and record it."""
        target = schedule.get("Target", {})
        arn = str(target.get("Arn", ""))
        execution_id = str(uuid.uuid4())
        text = (
            str(target.get("Input") or "{}")
            .replace(SCHEDULED_TIME, iso_z(at))
            .replace("<aws.scheduler.schedule-arn>", str(schedule.get("Arn", "")))
            .replace("<aws.scheduler.execution-id>", execution_id)
            .replace("<aws.scheduler.attempt-number>", "1")
        )
        runtime = self._targets.get(arn)
        base = Firing(
            schedule=str(schedule.get("Name")),
            description=str(schedule.get("Description") or ""),
            at=at,
            target=runtime.spec.name if runtime is not None else arn,
            event=None,
        )
        try:
            event = json.loads(text)
        except ValueError as error:
            problem = f"the input is not JSON: {error}"
            self._dead_letter(schedule, text, "InvalidInput", problem, execution_id)
            return self._record(replace(base, error=problem))
        if runtime is None:
            problem = "no function of the wiring has this ARN"
            self._dead_letter(schedule, text, "ResourceNotFoundException", problem, execution_id)
            return self._record(replace(base, event=event, error=problem))
        problem = ""
        for attempt in range(1, TARGET_ATTEMPTS + 1):
            try:
                answer = runtime.invoke(event)
            except Exception as error:
                problem = f"{type(error).__name__}: {error}"
                sys.stderr.write(
                    f"local stack: {runtime.spec.name} raised on schedule {base.schedule} at "
                    f"{iso_z(at)} (attempt {attempt} of {TARGET_ATTEMPTS})\n"
                )
                traceback.print_exc(file=sys.stderr)
                continue
            return self._record(replace(base, event=event, answer=answer, attempts=attempt))
        return self._record(replace(base, event=event, error=problem, attempts=TARGET_ATTEMPTS))

    def _record(self, firing: Firing) -> Firing:
        self.fired += 1
        self.failed += 0 if firing.ok else 1
        self.firings.append(firing)
        if self.out is not None:
            self.out.write(f"schedule {firing.line()}\n")
            self.out.flush()
        return firing

    def _dead_letter(
        self, schedule: dict[str, Any], body: str, code: str, message: str, execution: str
    ) -> None:
        if not self.dlq_url:
            return
        attributes = {
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message,
            "EXECUTION_ID": execution,
            "SCHEDULE_ARN": str(schedule.get("Arn", "")),
            "TARGET_ARN": str(schedule.get("Target", {}).get("Arn", "")),
        }
        self._sqs.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=body or "{}",
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value or "-"}
                for name, value in attributes.items()
            },
        )
