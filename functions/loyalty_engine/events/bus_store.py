"""The stage's EventBridge bus: PutEvents in chunks of 10 entries, failed entries retried.

PutEvents may accept a request and still refuse some of its entries (`FailedEntryCount`, an
`ErrorCode` per refused entry, e.g. throttling or an internal error): those entries alone are
sent again, with backoff, a few times; the ones still refused are reported to the caller, which
fails their stream records (Lambda delivers them again, with the same event ids).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from loyalty_engine.events.models import SOURCE, DomainEvent
from loyalty_engine.kernel.retry import Backoff, attempts

MAX_ENTRIES = 10  # PutEvents' limit per request
ATTEMPTS = 4  # the first try and three retries of the refused entries
REFUSED = Backoff(base_s=0.05, cap_s=1.0)


@cache
def client() -> Any:
    """One client per container (botocore directly, as the table's client)."""
    import botocore.session
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=2, read_timeout=5)
    return botocore.session.get_session().create_client("events", config=config)


def entry(event: DomainEvent, bus_name: str) -> dict[str, Any]:
    return {
        "Source": SOURCE,
        "DetailType": event.kind,
        "Detail": event.model_dump_json(),
        "EventBusName": bus_name,
    }


class EventBus:
    def __init__(self, client: Any, bus_name: str):
        self._client = client
        self.bus_name = bus_name
        self.requests = 0  # PutEvents calls made (the bench counts them)

    def put(self, events: Sequence[DomainEvent]) -> set[int]:
        """Put the events; the positions (in `events`) of those still refused after the retries."""
        refused: set[int] = set()
        for start in range(0, len(events), MAX_ENTRIES):
            chunk = list(range(start, min(start + MAX_ENTRIES, len(events))))
            refused |= self._put_chunk(events, chunk)
        return refused

    def _put_chunk(self, events: Sequence[DomainEvent], positions: list[int]) -> set[int]:
        pending = positions
        for _ in attempts(ATTEMPTS, REFUSED):
            self.requests += 1
            try:
                answer = self._client.put_events(
                    Entries=[entry(events[position], self.bus_name) for position in pending]
                )
            except (ClientError, BotoCoreError):
                continue  # botocore retried already; try the whole chunk again
            if not answer.get("FailedEntryCount"):
                return set()
            results = answer.get("Entries", [])
            pending = [
                position
                for position, result in zip(pending, results, strict=False)
                if result.get("ErrorCode") or not result.get("EventId")
            ] + pending[len(results) :]
            if not pending:
                return set()
        return set(pending)


def detail_of(entry_: dict[str, Any]) -> dict[str, Any]:
    """The detail of an entry put on the bus (tests, the bench)."""
    return dict(json.loads(entry_["Detail"]))
