"""The scheduled jobs' names (a module of its own: the API's cold path needs only these)."""

from __future__ import annotations

from typing import Literal

JobName = Literal["tier-upgrade", "tier-downgrade", "expire-points", "reconcile"]
JOB_NAMES: tuple[JobName, ...] = ("tier-upgrade", "tier-downgrade", "expire-points", "reconcile")
TIER_JOBS: tuple[JobName, ...] = ("tier-upgrade", "tier-downgrade")
