"""Running the Lambda handlers in this process, as Lambda runs them.

- The environment the functions get on AWS (table name, bucket names, queue URLs,
  powertools settings) plus the local AWS endpoint and fake credentials, applied to this
  process for the stack's life and restored afterwards; the handlers' cached settings and
  clients are reset both times.
- A Lambda context object with what powertools reads.
- Invocation: a JSON copy of the event in, a JSON copy of the answer out, one event at a
  time in the process (see `_INVOCATION_LOCK`). A test may give a function another
  handler (`FunctionRuntime(spec, handler=...)`, `LocalStack.start(handlers=...)`).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local_stack.aws import ACCESS_KEY_ID, ACCOUNT_ID, REGION, SECRET_ACCESS_KEY
from loyalty_engine.wiring import FUNCTIONS, Function

Handler = Callable[[dict[str, Any], Any], Any]

SERVICE_NAME = "loyalty-engine"
METRICS_NAMESPACE = "LoyaltyEngine"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's synchronous response limit
# Variables that would send the handlers' AWS calls elsewhere than the local endpoint.
_CLEARED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_SECURITY_TOKEN")


def function_environment(
    endpoint_url: str, table_name: str, resources: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`resources`: `Bucket.env` / `Queue.env` -> bucket name / queue URL (`resources.Resources.environment`).

    All functions share this process, hence one environment: each gets every bucket and
    queue variable, where on AWS it gets those of its grants only.
    """
    env = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "TABLE_NAME": table_name,
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",  # no EMF lines on stdout
        # The functions log at INFO on AWS; locally only warnings, unless asked for more.
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        # Webhooks to receivers on this machine (http://127.0.0.1:...): the local stack only;
        # deployed stages send over HTTPS to public addresses (docs/webhooks.md).
        "WEBHOOKS_ALLOW_HTTP": "true",
        "WEBHOOKS_ALLOW_PRIVATE": "true",
        # A webhook made a moment ago is sent the next event (deployed: within 10 s).
        "WEBHOOK_SUBSCRIPTION_CACHE_S": "0",
        **(resources or {}),
    }
    for function in FUNCTIONS:
        for name, value in function.environment.items():
            if env.get(name, value) != value:
                sys.stderr.write(
                    f"local stack: {function.name} sets {name}={value!r} but the process has "
                    f"{name}={env[name]!r}: all functions share one environment here, {value!r} is ignored\n"
                )
            env.setdefault(name, value)
    return env


def reset_handler_caches() -> None:
    """Forget settings, clients and contexts built from the previous environment.

    Every `functools.cache` / `lru_cache` function defined at module level in a loaded
    `loyalty_engine` module is cleared (settings, the DynamoDB client, the default context,
    and whatever clients the other functions cache), so a stack started after another
    never reaches the previous one's endpoint.
    """
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "loyalty_engine" or name.startswith("loyalty_engine.")):
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and getattr(value, "__module__", None) == name:
                clear()


class Environment:
    """Applies the functions' environment to this process; `restore` puts the old one back."""

    def __init__(self, values: Mapping[str, str]):
        self._values = dict(values)
        self._saved: dict[str, str | None] = {}

    def apply(self) -> None:
        for name in (*self._values, *_CLEARED):
            self._saved.setdefault(name, os.environ.get(name))
        for name in _CLEARED:
            os.environ.pop(name, None)
        os.environ.update(self._values)
        reset_handler_caches()

    def extend(self, values: Mapping[str, str]) -> None:
        """Add variables to the applied environment (known once resources exist)."""
        for name in values:
            self._saved.setdefault(name, os.environ.get(name))
        self._values.update(values)
        os.environ.update(values)
        reset_handler_caches()

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()
        reset_handler_caches()


@dataclass
class LambdaContext:
    """What Lambda passes as `context` (the attributes powertools and handlers read)."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[{self.function_version}]local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InvocationError(Exception):
    """The function failed (raised, or answered something Lambda could not return)."""


# One event at a time in this process, whatever the function: a Lambda sandbox runs one
# event at a time, and the handlers rely on it. powertools' resolver keeps the current
# event on the *class* `BaseRouter` (shared by every resolver of the process), so two
# concurrent invocations read each other's event and caller: with 8 threads calling the
# API handler directly, a `demo-b` key read a `demo` member. The gateway still accepts
# and reads requests concurrently; only the handlers' execution is serialized.
_INVOCATION_LOCK = threading.Lock()


def load_handler(dotted: str) -> Handler:
    """The handler named `module.attribute`, imported as Lambda imports it."""
    module_name, _, attribute = dotted.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise TypeError(f"{dotted} is not callable")
    return handler  # type: ignore[no-any-return]


class FunctionRuntime:
    """One function of the wiring, invoked in-process as Lambda would invoke it."""

    def __init__(self, spec: Function, handler: Handler | None = None):
        """`handler` replaces the wiring's `spec.handler` (tests substitute a stub)."""
        self.spec = spec
        self._handler: Handler | None = handler

    def warm(self) -> None:
        """Import the handler now: import errors show at start, and the first request is fast."""
        if self._handler is None:
            self._handler = load_handler(self.spec.handler)

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler with a copy of the event; the result as Lambda would return it (JSON)."""
        if self._handler is None:
            self.warm()
        assert self._handler is not None
        payload = json.loads(json.dumps(event))  # Lambda hands over a fresh, JSON-decoded event
        with _INVOCATION_LOCK:
            context = LambdaContext(self.spec.name, self.spec.memory_mb, self.spec.timeout_s)
            started = time.monotonic()
            try:
                result = self._handler(payload, context)
            finally:
                _discard_metrics()
            elapsed = time.monotonic() - started
        if elapsed > self.spec.timeout_s:
            sys.stderr.write(
                f"local stack: {self.spec.name} took {elapsed:.1f} s, more than its {self.spec.timeout_s} s "
                "timeout (Lambda would have stopped it)\n"
            )
        try:
            text = json.dumps(result)
        except (TypeError, ValueError) as error:
            raise InvocationError(f"{self.spec.name} returned a value that is not JSON: {error}") from error
        if len(text.encode()) > MAX_RESPONSE_BYTES:
            raise InvocationError(f"{self.spec.name} returned more than Lambda's 6 MB")
        return json.loads(text)


def _discard_metrics() -> None:
    # With metrics disabled, powertools keeps the metric set between invocations and still
    # prints it once it holds 100 values; clearing it after each event keeps stdout clean.
    from aws_lambda_powertools import Metrics

    Metrics().clear_metrics()
