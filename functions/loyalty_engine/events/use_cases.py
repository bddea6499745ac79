"""A batch of stream records to the bus: map each record to its events, put them all (10 per
request), and tell which records failed (their events could not be mapped or put)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from loyalty_engine.events.models import DomainEvent
from loyalty_engine.events.rules import change_of, events_of


class Bus(Protocol):
    def put(self, events: list[DomainEvent]) -> set[int]: ...


@dataclass
class Published:
    events: list[DomainEvent] = field(default_factory=list)  # put on the bus
    failed: dict[str, str] = field(default_factory=dict)  # record's sequence number -> why


def sequence_number(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def publish(records: Iterable[dict[str, Any]], bus: Bus) -> Published:
    """Every record's events on the bus; a record fails if its events cannot all be put."""
    outcome = Published()
    events: list[DomainEvent] = []
    owners: list[str] = []
    for record in records:
        try:
            made = events_of(change_of(record))
        except (KeyError, TypeError, ValueError) as error:  # an item the rules cannot read
            outcome.failed[sequence_number(record)] = f"unreadable record: {error!r:.300}"
            continue
        events += made
        owners += [sequence_number(record)] * len(made)
    refused = bus.put(events) if events else set()
    for position in sorted(refused):
        outcome.failed.setdefault(owners[position], f"the bus refused event {events[position].event_id}")
    outcome.events = [event for position, event in enumerate(events) if position not in refused]
    return outcome
