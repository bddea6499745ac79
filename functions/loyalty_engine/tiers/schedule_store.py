"""EventBridge Scheduler: a program's schedules (one per job), created, updated or deleted to
follow its settings. Every call is an upsert or a delete, so a retried sync converges."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel.dynamo import error_code
from loyalty_engine.kernel.errors import ServiceUnavailable
from loyalty_engine.points.programs import Program
from loyalty_engine.tiers.jobs import ScheduleSpec, schedule_specs

_MISSING = "ResourceNotFoundException"


@cache
def scheduler_client() -> Any:
    import botocore.session
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)
    return botocore.session.get_session().create_client("scheduler", config=config)


class ScheduleStore:
    def __init__(
        self,
        client: Any,
        *,
        group_name: str,
        role_arn: str,
        target_arn: str,
        dead_letter_arn: str = "",
        retry_attempts: int = 10,
        max_event_age_s: int = 6 * 3600,
    ):
        self._client = client
        self._group = group_name
        self._target = {
            "Arn": target_arn,
            "RoleArn": role_arn,
            "RetryPolicy": {
                "MaximumRetryAttempts": retry_attempts,
                "MaximumEventAgeInSeconds": max_event_age_s,
            },
        }
        if dead_letter_arn:
            self._target["DeadLetterConfig"] = {"Arn": dead_letter_arn}

    @property
    def group_name(self) -> str:
        return self._group

    def schedule_names(self) -> list[str]:
        """The names of every schedule of the group (ListSchedules, all pages)."""
        names: list[str] = []
        params: dict[str, Any] = {"GroupName": self._group, "MaxResults": 100}
        while True:
            answer = self._call("list_schedules", set(), **params)
            names += [schedule["Name"] for schedule in answer.get("Schedules", [])]
            if not answer.get("NextToken"):
                return names
            params["NextToken"] = answer["NextToken"]

    def schedule_owner(self, name: str) -> tuple[str, str] | None:
        """(group, program id) a schedule of the group was made for, from its target's input;
        None if it is gone, or is not one of a program's schedules."""
        answer = self._call("get_schedule", {_MISSING}, Name=name, GroupName=self._group)
        if answer is None:
            return None
        try:
            values = json.loads(answer["Target"]["Input"])
            owner = (values["group"], values["program_id"])
        except (KeyError, TypeError, ValueError):
            return None
        return owner if all(isinstance(value, str) and value for value in owner) else None

    def delete_schedule(self, name: str) -> None:
        self._call("delete_schedule", {_MISSING}, Name=name, GroupName=self._group)

    def sync_program(self, group: str, program: Program, now: datetime) -> None:
        """The program's job schedules follow its settings (a failure is a 503: retry)."""
        self.sync(schedule_specs(group, program, now), now)

    def sync(self, specs: dict[str, ScheduleSpec | None], now: datetime) -> None:
        for name, spec in specs.items():
            if spec is None:
                self.delete_schedule(name)
            else:
                self._upsert(spec, now)

    def _upsert(self, spec: ScheduleSpec, now: datetime) -> None:
        params: dict[str, Any] = {
            "Name": spec.name,
            "GroupName": self._group,
            "ScheduleExpression": spec.expression,
            "ScheduleExpressionTimezone": spec.timezone,
            # A start in the past is the same schedule from now on (the calendar decides the rest).
            "StartDate": max(spec.start, now),
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": {**self._target, "Input": json.dumps(spec.input, sort_keys=True)},
            "Description": f"{spec.input['job']} of program {spec.input['program_id']} ({spec.input['group']})",
        }
        if spec.end is not None:
            if spec.end <= now:  # an ended program: nothing left to run
                self.delete_schedule(spec.name)
                return
            params["EndDate"] = spec.end
        if (
            self._call("update_schedule", {_MISSING}, **params) is None
            and self._call("create_schedule", {"ConflictException"}, **params) is None
        ):
            self._call("update_schedule", set(), **params)  # created concurrently: update it

    def _call(self, operation: str, tolerated: set[str], **params: Any) -> Any:
        """The answer, or None for a tolerated error code; any other failure is a 503 (retry)."""
        try:
            return getattr(self._client, operation)(**params)
        except ClientError as error:
            if error_code(error) in tolerated:
                return None
            raise ServiceUnavailable(f"Scheduler {operation} failed: {error_code(error)}") from error
