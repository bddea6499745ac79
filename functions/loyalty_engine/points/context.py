"""What the points use cases need from their caller (a port), and the per-container program cache.

The API's context (`handlers.api_context.Context`) provides it; the rewards and tiers use cases
need the same plus their own stores (their ports extend this one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from loyalty_engine.kernel.errors import program_not_found
from loyalty_engine.points.member_store import MemberStore
from loyalty_engine.points.program_store import ProgramStore
from loyalty_engine.points.programs import Program


class PointsContext(Protocol):
    @property
    def programs(self) -> ProgramStore: ...
    @property
    def members(self) -> MemberStore: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...

    def program(self, group: str, program_id: str) -> Program:
        """A program, read through the container's short-lived cache; 404 if there is none."""
        ...

    def forget_program(self, group: str, program_id: str) -> None: ...

    def program_saved(self, group: str, program: Program) -> None:
        """Called after a program is created or replaced (its job schedules follow it)."""
        ...


class ProgramCache:
    """Programs cached per container for a short while: earn and burn stay at two round trips."""

    def __init__(self, store: ProgramStore, seconds: float):
        self._store = store
        self._seconds = seconds
        self._programs: dict[tuple[str, str], tuple[float, Program]] = {}

    def get(self, group: str, program_id: str) -> Program:
        cached = self._programs.get((group, program_id))
        if cached and cached[0] > time.monotonic():
            return cached[1]
        program = self._store.get_program(group, program_id)
        if program is None:
            raise program_not_found(program_id)
        self._programs[(group, program_id)] = (time.monotonic() + self._seconds, program)
        return program

    def forget(self, group: str, program_id: str) -> None:
        self._programs.pop((group, program_id), None)
