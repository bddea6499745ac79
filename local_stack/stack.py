"""The local stack: moto, the table, buckets and queues, seed keys, the API gateway, the
queue deliveries and the program schedules on a virtual clock, in this process, all from
`loyalty_engine.wiring`.

    with LocalStack.start() as stack:
        requests.get(f"{stack.api_url}/v1/members/123", headers={"Authorization": f"Bearer {stack.keys['demo']['admin']}"})
        stack.client("s3").put_object(Bucket=stack.bucket_name("Imports"), Key="incoming/demo/x.csv", Body=b"...")
        stack.wait_for_queues()  # the Importer has handled the file (or it is in the DLQ)
        stack.advance_clock(datetime(2027, 1, 1, tzinfo=UTC))  # the schedules due until then have
        # fired (schedule -> JobStarter -> Jobs queue -> JobWorker) and the queues are drained

The functions' environment is applied to this process while the stack runs (so one
stack per process at a time) and restored by `stop()`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from local_stack import aws
from local_stack.gateway import Gateway
from local_stack.gateway_events import STAGE
from local_stack.gateway_quotas import LOCAL_DEFAULT_LIMITS, UsagePlans
from local_stack.gateway_server import GatewayServer
from local_stack.moto_server import MotoServer
from local_stack.queues import QueueDelivery, wait_until_drained
from local_stack.resources import LocalQueue, Resources, create_resources, delete_resources
from local_stack.runtime import Environment, FunctionRuntime, Handler, function_environment
from local_stack.schedules import Firing, ScheduleRunner
from local_stack.seed import seed
from local_stack.streams import StreamDelivery
from local_stack.virtual_clock import VirtualClock
from loyalty_engine.access.quota_use_cases import LOCAL_NAMESPACE
from loyalty_engine.access.quotas import QuotaLimits, default_usage_key
from loyalty_engine.access.store import GroupStore
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.wiring import FUNCTIONS

DEFAULT_TABLE_NAME = "loyalty-engine-local"

_running_lock = threading.Lock()
_running: LocalStack | None = None


class LocalStack:
    def __init__(self) -> None:
        self.table_name = DEFAULT_TABLE_NAME
        self.region = aws.REGION
        self.stage = STAGE
        self.keys: dict[str, dict[str, str]] = {}
        self.state_file: Path | None = None
        self._moto: MotoServer | None = None
        self._environment: Environment | None = None
        self._gateway: GatewayServer | None = None
        self._resources: Resources | None = None
        self._deliveries: dict[str, QueueDelivery] = {}  # by function name
        self._runtimes: dict[str, FunctionRuntime] = {}  # by function name
        self._schedules: ScheduleRunner | None = None
        self._streams: dict[str, StreamDelivery] = {}  # by function name

    @classmethod
    def start(
        cls,
        *,
        api_port: int = 0,
        aws_port: int = 0,
        table_name: str = DEFAULT_TABLE_NAME,
        state_file: str | Path | None = None,
        access_log: bool = False,
        handlers: Mapping[str, Handler] | None = None,
        delivery_delay_s: int | None = 0,
        retry_delay_s: int = 1,
        clock_start: datetime | None = None,
        clock_speed: float | None = None,
        default_limits: QuotaLimits = LOCAL_DEFAULT_LIMITS,
    ) -> LocalStack:
        """Start everything (port 0 = any free port); `state_file` gets `info()` as JSON.

        - `handlers`: wiring function name -> a handler used instead of the function's own
          (a test's stub, e.g. `{"Importer": fake}`); the others run the real handlers.
        - `delivery_delay_s`: every queue's `DelaySeconds`. 0 by default, so that an upload
          is handled at once; None keeps the wiring's delays (`Queue.delivery_delay_s`, as
          deployed: the imports queue waits 30 s).
        - `retry_delay_s`: how soon a message whose delivery failed is received again (set
          as its visibility); AWS waits for the queue's visibility timeout (`Queue.visibility_timeout_s`).
        - `clock_start`, `clock_speed`: the schedules' virtual clock (`stack.schedules`) starts at
          `clock_start` (default: now) and runs at `clock_speed` (1: real time, 86400: a day per
          second). None (the default) leaves it standing until moved (`advance_clock`, tests).
        - `default_limits`: the local gateway's default usage plan (groups without limits of
          their own; `gateway_quotas.LOCAL_DEFAULT_LIMITS` unless a test asks for the deployed
          stages' `access.quotas.DEFAULT_LIMITS`).
        """
        global _running
        with _running_lock:
            if _running is not None:
                raise RuntimeError("a local stack is already running in this process (stop it first)")
            stack = cls()
            _running = stack
        try:
            stack._start(
                api_port,
                aws_port,
                table_name,
                state_file,
                access_log,
                handlers or {},
                delivery_delay_s,
                retry_delay_s,
                clock_start,
                clock_speed,
                default_limits,
            )
        except BaseException:
            stack.stop()
            raise
        return stack

    def _start(
        self,
        api_port: int,
        aws_port: int,
        table_name: str,
        state_file: str | Path | None,
        access_log: bool,
        handlers: Mapping[str, Handler],
        delivery_delay_s: int | None,
        retry_delay_s: int,
        clock_start: datetime | None,
        clock_speed: float | None,
        default_limits: QuotaLimits,
    ) -> None:
        unknown = sorted(set(handlers) - {function.name for function in FUNCTIONS})
        if unknown:
            raise ValueError(f"handlers for functions not in the wiring: {unknown}")
        self.table_name = table_name
        self._moto = MotoServer(aws_port).start()
        endpoint = self._moto.endpoint_url
        self._environment = Environment(function_environment(endpoint, table_name))
        self._environment.apply()
        self._resources = create_resources(endpoint, table_name, delivery_delay_s=delivery_delay_s)
        # Bucket names and queue URLs, known now (a queue's URL is moto's answer).
        # A stack whose queues deliver at once applies files at once too (no quiet period); one
        # with the wiring's delays keeps the importer's default quiet period, as deployed.
        quiet = {} if delivery_delay_s is None else {"IMPORT_QUIET_PERIOD_S": str(delivery_delay_s)}
        # The stage's default usage plan key (the authorizer returns it for groups without limits).
        usage = {"DEFAULT_USAGE_KEY": default_usage_key(LOCAL_NAMESPACE)}
        self._environment.extend({**self._resources.environment(), **quiet, **usage})
        self.keys = seed(table_name)
        runtimes = self._runtimes = {
            function.name: FunctionRuntime(function, handlers.get(function.name)) for function in FUNCTIONS
        }
        for runtime in runtimes.values():
            runtime.warm()
        usage_plans = UsagePlans(GroupStore(client(), table_name).get_quota, default_limits=default_limits)
        self._gateway = GatewayServer(
            Gateway(runtimes, usage_plans=usage_plans), api_port, access_log=access_log
        ).start()
        for function in FUNCTIONS:
            if function.queue_trigger is not None:
                queue = self._resources.queues[function.queue_trigger.queue]
                delivery = QueueDelivery(
                    runtimes[function.name], queue, endpoint, retry_delay_s=retry_delay_s
                )
                self._deliveries[function.name] = delivery.start()
            if function.stream_trigger is not None and self._resources.stream_arn is not None:
                self._streams[function.name] = StreamDelivery(
                    aws.client("dynamodbstreams", endpoint),
                    self._resources.stream_arn,
                    runtimes[function.name].invoke,
                    batch_size=function.stream_trigger.batch_size,
                    retry_attempts=function.stream_trigger.retry_attempts,
                    region=aws.REGION,
                ).start()
        schedules = self._resources.schedules
        if schedules is not None:
            clock = VirtualClock(
                clock_start or datetime.now(UTC).replace(microsecond=0),
                clock_speed if clock_speed is not None else 1.0,  # a speed <= 0 is refused
                running=clock_speed is not None,
            )
            targets = {aws.function_arn(function): runtimes[function.name] for function in FUNCTIONS}
            self._schedules = ScheduleRunner(
                endpoint,
                schedules.group_name,
                targets,
                clock,
                dlq_url=schedules.dlq_url,
                out=sys.stderr if access_log else None,
            ).start()
        if schedules is not None:
            # As after every deploy: the program schedules in line with the table (the stack's
            # custom resource on AWS; on a fresh stack there is nothing to do).
            for function in FUNCTIONS:
                if function.syncs_schedules:
                    runtimes[function.name].invoke({})
        if state_file is not None:
            self.state_file = Path(state_file)
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            # The keys are in it: readable by the owner only.
            descriptor = os.open(self.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                json.dump(self.info(), handle, indent=2)
                handle.write("\n")

    @property
    def aws_endpoint_url(self) -> str:
        if self._moto is None:
            raise RuntimeError("the local stack is not running")
        return self._moto.endpoint_url

    @property
    def api_url(self) -> str:
        if self._gateway is None:
            raise RuntimeError("the local stack is not running")
        return self._gateway.url

    @property
    def gateway(self) -> Gateway:
        if self._gateway is None:
            raise RuntimeError("the local stack is not running")
        return self._gateway.gateway

    @property
    def resources(self) -> Resources:
        if self._resources is None:
            raise RuntimeError("the local stack is not running")
        return self._resources

    def bucket_name(self, bucket: str) -> str:
        """The local name of the wiring bucket named `bucket` (`Bucket.name`, e.g. "Imports")."""
        return self.resources.buckets[bucket]

    def queue(self, queue: str) -> LocalQueue:
        """The wiring queue named `queue` (`Queue.name`): `.url`, `.arn`, `.dlq_url`, `.dlq_arn`."""
        return self.resources.queues[queue]

    def delivery(self, function: str) -> QueueDelivery:
        """The delivery loop feeding the wiring function named `function` from its queue."""
        return self._deliveries[function]

    def stream(self, function: str) -> StreamDelivery:
        """The loop feeding the wiring function named `function` from the table's stream."""
        return self._streams[function]

    @property
    def deliveries(self) -> list[QueueDelivery]:
        return list(self._deliveries.values())

    @property
    def schedules(self) -> ScheduleRunner:
        """The program schedules' runner: `.clock`, `.advance_to(instant)`, `.firings`, ..."""
        if self._schedules is None:
            raise RuntimeError("the local stack is not running (or the wiring has no program schedules)")
        return self._schedules

    def advance_clock(self, instant: datetime, timeout: float = 60.0) -> list[Firing]:
        """Move the schedules' clock to `instant`, fire every schedule due up to it, and wait
        until the queues are drained (the runs the firings started are done); the firings."""
        fired = self.schedules.advance_to(instant)
        self.wait_for_queues(timeout)
        return fired

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Invoke a function as `lambda:Invoke` does (RequestResponse): by wiring name or by the
        ARN the stack gives it (`JOB_TARGET_ARN`, ...): its answer (the handler's error is raised)."""
        by_arn = {aws.function_arn(runtime.spec): runtime for runtime in self._runtimes.values()}
        runtime = self._runtimes.get(function) or by_arn.get(function)
        if runtime is None:
            raise KeyError(f"no function {function!r} in this stack")
        return runtime.invoke(event)

    def client(self, service: str) -> Any:
        """A boto3 client of the local AWS (fake credentials, the stack's region)."""
        return aws.client(service, self.aws_endpoint_url)

    def wait_for_queues(self, timeout: float = 30.0) -> None:
        """Return once every queue feeding a function is drained: nothing visible, in flight or
        delayed, and no batch being handled (failed messages are retried until they succeed or
        reach the dead-letter queue). TimeoutError after `timeout` seconds."""
        wait_until_drained(self._deliveries.values(), timeout)

    def wait_for_events(self, timeout: float = 30.0) -> None:
        """Return once the table's stream has been delivered to the publisher (up to now)."""
        deadline = time.monotonic() + timeout
        while not all(stream.idle() for stream in self._streams.values()):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the table's stream is not delivered after {timeout} s")
            time.sleep(0.05)

    wait_for_imports = wait_for_queues  # its first name, when the imports queue was the only one

    def info(self) -> dict[str, Any]:
        """What `.local/stack.json` holds: plus one entry per bucket, queue and schedules setting,
        named after its environment variable (`import_bucket`, `import_queue_url`, `schedule_group`, ...)."""
        return {
            "aws_endpoint_url": self.aws_endpoint_url,
            "api_url": self.api_url,
            "table_name": self.table_name,
            "region": self.region,
            "keys": self.keys,
            **{name.lower(): value for name, value in self.resources.environment().items()},
        }

    def stop(self) -> None:
        """Stop and clean up whatever was started; safe to call twice."""
        global _running
        try:
            if self._schedules is not None:
                self._schedules.stop()
                self._schedules = None
            for delivery in self._deliveries.values():
                delivery.stop()
            self._deliveries = {}
            for stream in self._streams.values():
                stream.stop()
            self._streams = {}
            if self._gateway is not None:
                self._gateway.stop()
                self._gateway = None
            if self._moto is not None:
                if self._resources is not None:
                    try:
                        delete_resources(self._moto.endpoint_url, self._resources)
                    finally:
                        self._resources = None
                self._moto.stop()
                self._moto = None
        finally:
            if self._environment is not None:
                self._environment.restore()
                self._environment = None
            if self.state_file is not None:
                self.state_file.unlink(missing_ok=True)  # its URLs and keys are dead now
                self.state_file = None
            with _running_lock:
                if _running is self:
                    _running = None

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
