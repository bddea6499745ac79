"""Checks of a ledger read through the API (entries oldest first)."""

from __future__ import annotations

from typing import Any


def assert_running_balances(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Each entry's balances are the running sums of the signed changes, never negative; returns the sums."""
    running = {"nq": 0, "q": 0}
    for entry in entries:
        running["nq"] += entry["nq"]
        running["q"] += entry["q"]
        assert (entry["nq_balance"], entry["q_balance"]) == (running["nq"], running["q"]), entry
        assert entry["nq_balance"] >= 0 and entry["q_balance"] >= 0, entry
    return running
