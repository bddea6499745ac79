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
- `WriteMeter` (`bench/aws_meter.py`, imported from here too): the write units of every write
  the client makes, per operation, per item type and per partition key.

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
from collections import Counter
from typing import Any

from bench.aws_meter import WriteMeter
from bench.aws_model import (
    S3_REQUEST_MS,
    call_ms,
)


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


def aws_seconds(
    wall_s: float, cpu_s: float, taken_out_s: float, meter_cpu_s: float, vcpu_share: float
) -> float:
    """The wall time on AWS: the excess of moto's (and the meter's) time over the injected p50s
    taken out (`Latency.taken_out_s`), and the client's own CPU time (the meter's excepted)
    stretched to the function's vCPU share."""
    return wall_s - taken_out_s + (cpu_s - meter_cpu_s) * (1 / vcpu_share - 1)
