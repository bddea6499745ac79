"""kernel.batch with several requests in flight: every item written or read once, the last item
of a key wins, leftovers retried per request, a failure raised after every request ended."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from loyalty_engine.kernel.batch import batch_get, batch_put


class FakeDynamo:
    """An in-memory table answering BatchWriteItem/BatchGetItem; the first answer to each
    request leaves its last item unprocessed; records how many requests overlapped."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.fail_on = fail_on
        self.seen: set[str] = set()

    def _enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self._enter()
        try:
            time.sleep(0.01)
            ((table, requests),) = RequestItems.items()
            first = requests[0]["PutRequest"]["Item"]["sk"]["S"]
            if first == self.fail_on:
                raise RuntimeError("refused")
            leftover = []
            if first not in self.seen and len(requests) > 1:
                self.seen.add(first)
                requests, leftover = requests[:-1], requests[-1:]
            with self.lock:
                for request in requests:
                    item = request["PutRequest"]["Item"]
                    self.items[(item["pk"]["S"], item["sk"]["S"])] = item
            return {"UnprocessedItems": {table: leftover} if leftover else {}}
        finally:
            self._leave()

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self._enter()
        try:
            time.sleep(0.01)
            ((table, request),) = RequestItems.items()
            keys = [(k["pk"]["S"], k["sk"]["S"]) for k in request["Keys"]]
            found = [self.items[k] for k in keys if k in self.items]
            return {"Responses": {table: found}}
        finally:
            self._leave()


def _items(n: int) -> list[dict[str, Any]]:
    return [{"pk": "P", "sk": f"S{i:04d}", "n": i} for i in range(n)]


@pytest.mark.parametrize("threads", [1, 4])
def test_every_item_is_written_and_read_back_once(threads):
    fake = FakeDynamo()
    items = [*_items(230), {"pk": "P", "sk": "S0000", "n": 999}]  # a key twice: the last wins
    requests = batch_put(fake, "t", items, threads=threads)
    assert len(fake.items) == 230
    assert fake.items[("P", "S0000")]["n"] == {"N": "999"}
    assert requests == 10 + 10  # 230 distinct items in 10 requests, each once retried for its leftover
    found = batch_get(fake, "t", [("P", f"S{i:04d}") for i in range(250)], threads=threads)
    assert sorted(found) == [("P", f"S{i:04d}") for i in range(230)]
    assert (fake.most_in_flight > 1) == (threads > 1)


def test_a_failed_request_is_raised_once_every_request_has_ended():
    fake = FakeDynamo(fail_on="S0025")  # the second request
    with pytest.raises(RuntimeError, match="refused"):
        batch_put(fake, "t", _items(200), threads=4)
    assert fake.in_flight == 0
    assert len(fake.items) == 200 - 25  # the others were all written
