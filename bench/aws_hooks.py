"""botocore hooks that make a moto-backed run say what AWS would do (`bench/aws_model.py`).

- `Latency`: every call takes at least its operation's p50 (`aws_model.call_ms`; a Query's
  per-item part once its item count is known; S3 and SQS calls S3_REQUEST_MS): when the call
  ends it sleeps what is left of its p50 after what moto (and the meter, if any) took. So
  the wall time of code that overlaps its calls is what AWS would give it, as long as moto is
  faster than the p50. Where moto (or the meter) took longer than the p50, the excess is
  "taken out" of the wall time afterwards, but only for a call that overlapped no other call
  (from its start to its end, sleep included): serial code is measured exactly; an
  overlapped excess stays in the wall time (moto serves one request at a time, so overlapped
  calls queue behind each other there, and the figure errs on the slow side).
- `WriteMeter`: the write units of every write the client makes (PutItem, UpdateItem,
  DeleteItem, BatchWriteItem, TransactWriteItems), per operation, per item type and per
  partition key (the table's and gsi1's), from the item before and after the write, read
  with a client of its own (not counted, not delayed; its time counts as part of the call it
  meters, like moto's).

- `FrozenClock` (with `bench/moto_backend.py`'s frozen client): the client process is stopped
  while moto serves a request, and its clock less the time it stood still is the one `Latency`
  waits on. moto then answers at once in that clock, however many calls are in flight: calls
  that overlap each take their p50 as they would on AWS (none waits for moto's time nor for
  the calls queued before it), and the client's own work between them is measured as it runs.
  `Latency.taken_out_s` is then the whole time stood still.

`aws_seconds(wall, ...)`: a run's wall time as it would be on AWS: the measured wall time
(injected latency included) minus the excess taken out, plus the extra CPU time of a Lambda
function's vCPU share (counted in full even where threads overlap it: on the slow side too).
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile
import threading
import time
from collections import Counter, defaultdict
from typing import Any

from bench.aws_model import (
    S3_REQUEST_MS,
    IndexShape,
    call_ms,
    hottest,
    write_cost,
)

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


def indexes() -> list[IndexShape]:
    """The table's global secondary indexes, from the one definition (kernel/table.py)."""
    from loyalty_engine.kernel.table import GLOBAL_SECONDARY_INDEXES

    return [
        IndexShape(name=i.name, partition_key=i.partition_key, sort_key=i.sort_key, projection=i.projection)
        for i in GLOBAL_SECONDARY_INDEXES
    ]


class FrozenClock:
    """This process's clock less the time moto's server held it stopped (see the module's
    docstring). Registers itself with the server at `endpoint`; `close()` ends it."""

    def __init__(self, endpoint: str) -> None:
        from urllib.parse import quote

        self._endpoint = endpoint.rstrip("/")
        descriptor, self._path = tempfile.mkstemp(prefix="bench-frozen-")
        os.write(descriptor, bytes(8))
        self._map = mmap.mmap(descriptor, 8)
        os.close(descriptor)
        self._ask(f"pid={os.getpid()}&file={quote(self._path)}")

    def _ask(self, query: str) -> None:
        from urllib.request import urlopen

        with urlopen(f"{self._endpoint}/__bench__/freeze?{query}", timeout=10) as answer:
            answer.read()

    def frozen_s(self) -> float:
        """Seconds this process stood still so far."""
        return float(struct.unpack_from("d", self._map, 0)[0])

    def now(self) -> float:
        return time.perf_counter() - self.frozen_s()

    def sleep(self, seconds: float) -> None:
        """`seconds` of this clock (a stop during the sleep lengthens it in wall time)."""
        deadline = self.now() + seconds
        while (left := deadline - self.now()) > 0:
            time.sleep(left)

    def close(self) -> None:
        self._ask("pid=0")
        self._map.close()
        os.unlink(self._path)


class _Call:
    __slots__ = ("attempts", "overlapped", "sent", "wire_s")

    def __init__(self) -> None:
        self.attempts = 0
        self.overlapped = False
        self.sent: float | None = None
        self.wire_s = 0.0


class Latency:
    """Injected p50 latency on any number of clients (see the module's docstring)."""

    def __init__(self, meter: WriteMeter | None = None, clock: FrozenClock | None = None) -> None:
        self.meter = meter
        self.clock = clock
        self._now = clock.now if clock is not None else time.perf_counter
        self._sleep = clock.sleep if clock is not None else time.sleep
        if meter is not None:
            meter.clock = self._now
        self._frozen_at = clock.frozen_s() if clock is not None else 0.0
        self.injected_s = 0.0
        self.wire_s = 0.0  # moto's time on the wire, every call (frozen time excepted)
        self._taken_out_s = 0.0  # excess over the p50 of calls that overlapped no other
        self.kept_s = 0.0  # excess over the p50 of overlapped calls (left in the wall time)
        self.overlapped_calls = 0
        self.attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._in_flight: set[_Call] = set()

    @property
    def taken_out_s(self) -> float:
        """The time taken out of the wall time: the excess of calls that overlapped no other, and
        with a frozen clock the whole time the process stood still."""
        frozen = self.clock.frozen_s() - self._frozen_at if self.clock is not None else 0.0
        return self._taken_out_s + frozen

    def reset(self) -> None:
        with self._lock:
            self.injected_s = self.wire_s = self._taken_out_s = self.kept_s = 0.0
            self._frozen_at = self.clock.frozen_s() if self.clock is not None else 0.0
            self.overlapped_calls = 0
            self.attempts.clear()

    def install(self, *clients: Any) -> Latency:
        for client in clients:
            service = client.meta.service_model.service_id.hyphenize()
            events = client.meta.events
            events.register_first(f"before-parameter-build.{service}", self._start)
            events.register(f"before-send.{service}", self._send)
            events.register(f"before-parse.{service}", self._received)
            events.register_last(f"after-call.{service}", self._end)
            events.register_last(f"after-call-error.{service}", self._failed)
        return self

    def _failed(self, **_: Any) -> None:
        """A call that got no answer (a connection error): no longer in flight."""
        call = getattr(self._local, "call", None)
        self._local.call = None
        with self._lock:
            self._in_flight.discard(call)  # type: ignore[arg-type]

    def _start(self, **_: Any) -> None:
        call = _Call()
        self._local.call = call
        if self.meter is not None:
            self.meter.start_call()
        with self._lock:
            if self._in_flight:
                call.overlapped = True
                for other in self._in_flight:
                    other.overlapped = True
            self._in_flight.add(call)

    def _send(self, event_name: str, **_: Any) -> None:
        call = getattr(self._local, "call", None)
        if call is not None:
            call.attempts += 1
            call.sent = self._now()

    def _received(self, **_: Any) -> None:
        call = getattr(self._local, "call", None)
        if call is not None and call.sent is not None:
            call.wire_s += self._now() - call.sent
            call.sent = None

    def _end(self, event_name: str, parsed: Any = None, **_: Any) -> None:
        call = getattr(self._local, "call", None)
        if call is None:
            return
        self._local.call = None
        service, operation = event_name.split(".", 2)[1:]
        if service == "dynamodb":
            items = len(parsed.get("Items", [])) if operation == "Query" and isinstance(parsed, dict) else 0
            target = call_ms(operation, items) / 1000
        else:
            target = S3_REQUEST_MS / 1000
        target *= max(call.attempts, 1)
        taken = call.wire_s + (self.meter.call_seconds() if self.meter is not None else 0.0)
        if taken < target:
            self._sleep(target - taken)
        with self._lock:
            self._in_flight.discard(call)
            self.attempts[f"{service}.{operation}"] += max(call.attempts, 1)
            self.injected_s += max(0.0, target - taken)
            self.wire_s += call.wire_s
            excess = max(0.0, taken - target)
            if call.overlapped:
                self.kept_s += excess
                self.overlapped_calls += 1
            else:
                self._taken_out_s += excess

    def figures(self) -> dict[str, Any]:
        return {
            "injected_s": round(self.injected_s, 2),
            "moto_wire_s": round(self.wire_s, 2),
            "taken_out_s": round(self.taken_out_s, 2),
            "frozen_s": round(self.clock.frozen_s() - self._frozen_at, 2) if self.clock is not None else None,
            "overlapped_excess_kept_s": round(self.kept_s, 2),
            "overlapped_calls": self.overlapped_calls,
            "attempts": dict(sorted(self.attempts.items())),
        }


def _key_of(item: dict[str, Any]) -> tuple[str, str]:
    return (item["pk"]["S"], item["sk"]["S"])


class WriteMeter:
    """Write units of every write made through `client` (see the module's docstring)."""

    def __init__(self, client: Any, *, keep_items: bool = False) -> None:
        import botocore.session

        self.indexes = indexes()
        self._reader = botocore.session.get_session().create_client(
            "dynamodb", endpoint_url=client.meta.endpoint_url, region_name=client.meta.region_name
        )
        self.meter_s = 0.0
        self.meter_cpu_s = 0.0
        self.clock: Any = time.perf_counter  # a Latency with a frozen clock sets its own
        self.by_operation: dict[str, Counter[str]] = defaultdict(Counter)
        self.by_type: dict[str, Counter[str]] = defaultdict(Counter)
        self.partitions: Counter[str] = Counter()
        self.items: list[dict[str, Any]] = []  # one row per item written, if keep_items
        self.keep_items = keep_items
        self._lock = threading.Lock()
        self._local = threading.local()
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def start_call(self) -> None:
        """A call of this thread starts: its metering time counts from zero (`call_seconds`)."""
        self._local.call_s = 0.0

    def call_seconds(self) -> float:
        """The time the meter took in this thread's current call (its reads before and after)."""
        return float(getattr(self._local, "call_s", 0.0))

    def _took(self, started: float, cpu: float) -> None:
        took = self.clock() - started
        self._local.call_s = self.call_seconds() + took
        with self._lock:
            self.meter_s += took
            self.meter_cpu_s += time.thread_time() - cpu

    # -- reading the items before and after, with the meter's own client --

    def _read(self, table: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                table: {
                    "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in wanted[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while request:
                answer = self._reader.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(table, []):
                    found[_key_of(item)] = item
                request = answer.get("UnprocessedKeys") or {}
        return found

    @staticmethod
    def _writes(operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """(table, key, new item or None when read after the write, kind) of each item written."""
        out: list[dict[str, Any]] = []
        if operation == "PutItem":
            out.append({"table": params["TableName"], "key": _key_of(params["Item"]), "new": params["Item"]})
        elif operation in ("UpdateItem", "DeleteItem"):
            out.append({"table": params["TableName"], "key": _key_of(params["Key"]), "kind": operation})
        elif operation == "BatchWriteItem":
            for table, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        out.append({"table": table, "key": _key_of(item), "new": item})
                    else:
                        key = _key_of(request["DeleteRequest"]["Key"])
                        out.append({"table": table, "key": key, "kind": "DeleteItem"})
        elif operation == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                ((kind, body),) = entry.items()
                if kind == "Put":
                    out.append(
                        {"table": body["TableName"], "key": _key_of(body["Item"]), "new": body["Item"]}
                    )
                else:
                    kind = {"Update": "UpdateItem", "Delete": "DeleteItem"}.get(kind, kind)
                    out.append({"table": body["TableName"], "key": _key_of(body["Key"]), "kind": kind})
        return out

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """On the API parameters (before-parameter-build: before-call sees the serialized request)."""
        if model.name not in WRITES:
            return
        started, cpu = self.clock(), time.thread_time()
        writes = self._writes(model.name, params)
        for table in {w["table"] for w in writes}:
            old = self._read(table, [w["key"] for w in writes if w["table"] == table])
            for w in writes:
                if w["table"] == table:
                    w["old"] = old.get(w["key"])
        context["bench_writes"] = writes
        self._took(started, cpu)

    def _after(
        self, model: Any, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        writes = context.pop("bench_writes", None)
        if writes is None or getattr(http_response, "status_code", 500) != 200:
            return  # nothing written (a failed condition, a cancelled transaction)
        started, cpu = self.clock(), time.thread_time()
        unprocessed = {
            _key_of(r.get("PutRequest", {}).get("Item") or r["DeleteRequest"]["Key"])
            for requests in parsed.get("UnprocessedItems", {}).values()
            for r in requests
        }
        writes = [w for w in writes if w["key"] not in unprocessed]
        for table in {w["table"] for w in writes if w.get("kind") == "UpdateItem"}:
            new = self._read(
                table, [w["key"] for w in writes if w["table"] == table and w.get("kind") == "UpdateItem"]
            )
            for w in writes:
                if w["table"] == table and w.get("kind") == "UpdateItem":
                    w["new"] = new.get(w["key"])
        transactional = model.name == "TransactWriteItems"
        with self._lock:
            for w in writes:
                new = w.get("new") if w.get("kind") != "ConditionCheck" else w.get("old")
                cost = write_cost(w.get("old"), new, indexes=self.indexes, transactional=transactional)
                if w.get("kind") == "ConditionCheck":  # checked, not written: no index copy
                    cost.index_units.clear()
                    cost.partitions = {k: v for k, v in cost.partitions.items() if ":" not in k}
                standard = cost.table_units // (2 if transactional else 1)
                index_units = sum(cost.index_units.values())
                item_type = ((new or w.get("old") or {}).get("type") or {}).get("S", "?")
                for counter in (self.by_operation[model.name], self.by_type[item_type]):
                    counter["items"] += 1
                    counter["units"] += cost.total
                    counter["units_if_not_transactional"] += standard + index_units
                    counter["index_units"] += index_units
                    counter["max_item_bytes"] = max(counter["max_item_bytes"], cost.item_bytes)
                self.partitions.update(cost.partitions)
                if self.keep_items:
                    self.items.append(
                        {
                            "operation": model.name,
                            "type": item_type,
                            "sk": w["key"][1],
                            "kind": w.get("kind", "Put"),
                            "bytes_before": _size(w.get("old")),
                            "bytes_after": _size(new),
                            "table_units": cost.table_units,
                            "index_units": index_units,
                            "units": cost.total,
                        }
                    )
            self.by_operation[model.name]["calls"] += 1
        self._took(started, cpu)

    def total_units(self) -> int:
        return sum(c["units"] for c in self.by_operation.values())

    def reset(self) -> None:
        with self._lock:
            self.meter_s = 0.0
            self.meter_cpu_s = 0.0
            self.by_operation.clear()
            self.by_type.clear()
            self.partitions.clear()
            self.items.clear()

    def figures(self, seconds: float) -> dict[str, Any]:
        """Units per operation and item type, and the hottest partition keys over `seconds`."""
        top = self.partitions.most_common(3)
        return {
            "write_units": self.total_units(),
            "by_operation": {op: dict(c) for op, c in sorted(self.by_operation.items())},
            "by_item_type": {t: dict(c) for t, c in sorted(self.by_type.items())},
            "hottest_partition": hottest(dict(self.partitions), seconds),
            "top_partitions_units": dict(top),
            "meter_s": round(self.meter_s, 2),
            "meter_cpu_s": round(self.meter_cpu_s, 2),
        }


def _size(item: dict[str, Any] | None) -> int:
    from bench.aws_model import item_size

    return item_size(item)


def aws_seconds(
    wall_s: float, cpu_s: float, taken_out_s: float, meter_cpu_s: float, vcpu_share: float
) -> float:
    """The wall time on AWS: the excess of moto's (and the meter's) time over the injected p50s
    taken out (`Latency.taken_out_s`), and the client's own CPU time (the meter's excepted)
    stretched to the function's vCPU share."""
    return wall_s - taken_out_s + (cpu_s - meter_cpu_s) * (1 / vcpu_share - 1)
