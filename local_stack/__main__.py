"""python -m local_stack serve | demo | env

serve: the stack in the foreground until Ctrl-C (`make local`). Ports from LOCAL_API_PORT
(default 3000) and LOCAL_AWS_PORT (default 0, any free port); 0 means any free port.
LOCAL_QUEUE_DELAY_S: the queues' delivery delay in seconds (default 0: an upload is
handled at once), or `wiring` for the deployed delays.
LOCAL_CLOCK_SPEED: how fast the program schedules' clock runs (default 1: real time;
86400: a day per second), from LOCAL_CLOCK_START (an ISO 8601 instant; default now).
The URLs, keys, bucket and queue are written to .local/stack.json (LOCAL_STATE_FILE) while it runs.
demo: scenarios through the HTTP API on a fresh stack (`make demo`); exit code 1 if
any answer is not the expected one.
env: `export` lines that point the AWS SDK and the operators' commands (`loyalty_engine.cli`)
at the running stack of the state file (`make run-job`); exit code 3 if there is none.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from local_stack import aws
from local_stack.stack import LocalStack
from local_stack.virtual_clock import iso_z
from loyalty_engine.wiring import S3Notification

DEFAULT_API_PORT = 3000
DEFAULT_STATE_FILE = ".local/stack.json"
NO_STACK = 3  # `env`: no state file


def _port(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "")
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"{variable}={raw!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise SystemExit(f"{variable}={raw!r} is not a port number")
    return port


def _delay(variable: str) -> int | None:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return 0
    if raw == "wiring":
        return None
    if not raw.isdigit() or int(raw) > 900:
        raise SystemExit(f"{variable}={raw!r} is not 0..900 seconds nor 'wiring'")
    return int(raw)


def _speed(variable: str) -> float:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return 1.0
    try:
        speed = float(raw)
    except ValueError:
        raise SystemExit(
            f"{variable}={raw!r} is not a number (1: real time, 86400: a day per second)"
        ) from None
    if not 0 < speed <= 1e9:
        raise SystemExit(f"{variable}={raw!r} must be above 0 (and at most 1e9)")
    return speed


def _instant(variable: str) -> datetime | None:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"{variable}={raw!r} is not an ISO 8601 instant") from None
    if moment.tzinfo is None:
        raise SystemExit(f"{variable}={raw!r} needs its offset, e.g. 2027-01-01T00:00:00+01:00")
    return moment.astimezone(UTC)


def banner(stack: LocalStack, state_file: Path | None) -> str:
    admin = stack.keys["demo"]["admin"]
    lines = [
        "Loyalty engine: local stack",
        "",
        f"  API         {stack.api_url}   (API Gateway stage {stack.stage!r}: the wiring's routes, in-process)",
        f"  AWS (moto)  {stack.aws_endpoint_url}   table {stack.table_name}, region {stack.region}",
    ]
    for name, bucket in stack.resources.buckets.items():
        lines.append(f"  Bucket      {bucket}   ({name})")
    for name, queue in stack.resources.queues.items():
        function = (
            ", ".join(d.runtime.spec.name for d in stack.deliveries if d.queue is queue) or "no function"
        )
        lines.append(
            f"  Queue       {queue.url}   ({name} -> {function}, delay {queue.delivery_delay_s} s, DLQ after "
            f"{queue.spec.max_receive_count} receives)"
        )
    schedules = stack.resources.schedules
    if schedules is not None:
        clock = stack.schedules.clock
        lines.append(
            f"  Schedules   {schedules.group_name}   (EventBridge Scheduler -> {schedules.target.name}; "
            f"clock at {iso_z(clock.now())}, x{clock.speed:g})"
        )
    if state_file is not None:
        lines.append(f"  State       {state_file}   (URLs and keys, removed on exit)")
    lines += ["", "  API keys"]
    for group, keys in stack.keys.items():
        for role, token in keys.items():
            lines.append(f"    {group:<7} {role:<6} {token}")
    lines += [
        "",
        "  Try",
        f'    curl -s -X PUT {stack.api_url}/v1/programs/coffee -H "Authorization: Bearer {admin}" \\',
        "      -H 'Content-Type: application/json' \\",
        """      -d '{"name": "Coffee club", "currency": "EUR", "starts_at": "2025-01-01T00:00:00+01:00"}'""",
        f'    curl -s {stack.api_url}/v1/programs/coffee -H "Authorization: Bearer {admin}"',
        f"    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws --endpoint-url {stack.aws_endpoint_url} \\",
        f"      --region {stack.region} dynamodb scan --table-name {stack.table_name}",
    ]
    for delivery in stack.deliveries:
        queue = delivery.queue
        source = queue.spec.source
        if not isinstance(source, S3Notification) or source.bucket not in stack.resources.buckets:
            continue
        bucket = stack.resources.buckets[source.bucket]
        lines += [
            f"    # a partner file of the group demo, handled by {delivery.runtime.spec.name} (see docs/local-stack.md)",
            f"    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws --endpoint-url {stack.aws_endpoint_url} \\",
            f"      --region {stack.region} s3 cp file.csv s3://{bucket}/{source.prefix}demo/file.csv",
        ]
    lines += [
        "    # a till key bound to a merchant: point-of-sale routes (sell, pay, refund) act as that store",
        "    # (the merchant must exist first)",
        f'    curl -s -X PUT {stack.api_url}/v1/merchants/store-1 -H "Authorization: Bearer {admin}" \\',
        """      -H 'Content-Type: application/json' -d '{"name": "Store 1", "store_id": "store-1"}'""",
        '    eval "$(.venv/bin/python -m local_stack env)"; .venv/bin/loyalty-admin create-key --group demo \\',
        "      --scope shop --merchant store-1 --name 'till 1'",
    ]
    if schedules is not None:
        lines += [
            "    # a tier run as of an instant up to now (DRY_RUN=1: any instant, nothing written)",
            "    make run-job JOB=tier-upgrade PROGRAM=club AT=2026-01-02T03:00:00+01:00 [DRY_RUN=1]",
        ]
    lines += [
        "",
        "  Ctrl-C to stop.",
    ]
    return "\n".join(lines) + "\n"


def serve() -> int:
    api_port = _port("LOCAL_API_PORT", DEFAULT_API_PORT)
    aws_port = _port("LOCAL_AWS_PORT", 0)
    state_file = Path(os.environ.get("LOCAL_STATE_FILE") or DEFAULT_STATE_FILE)
    try:
        stack = LocalStack.start(
            api_port=api_port,
            aws_port=aws_port,
            state_file=state_file,
            access_log=True,
            delivery_delay_s=_delay("LOCAL_QUEUE_DELAY_S"),
            clock_start=_instant("LOCAL_CLOCK_START"),
            clock_speed=_speed("LOCAL_CLOCK_SPEED"),
        )
    except OSError as error:
        sys.stderr.write(
            f"cannot start the local stack: {error}\n"
            "(is a port in use? LOCAL_API_PORT=0 / LOCAL_AWS_PORT=0 pick free ones)\n"
        )
        return 1
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sys.stdout.write(banner(stack, state_file))
        sys.stdout.flush()
        while not stopping.wait(0.5):
            pass
        sys.stdout.write("\nstopping the local stack\n")
    finally:
        # The handlers stay until the stack is down: a second signal (`timeout` and some
        # shells send two) must not interrupt the clean-up and leave the state file behind.
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def environment(state: dict[str, object]) -> dict[str, str]:
    """What a process needs to reach the stack described by `state` (stack.json) as the
    functions do: the endpoint, fake credentials, the region and the functions' variables."""
    env = {
        "AWS_ENDPOINT_URL": str(state["aws_endpoint_url"]),
        "AWS_ACCESS_KEY_ID": aws.ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": aws.SECRET_ACCESS_KEY,
        "AWS_REGION": str(state["region"]),
        "AWS_DEFAULT_REGION": str(state["region"]),
        "TABLE_NAME": str(state["table_name"]),
    }
    # import_bucket, job_queue_url, schedule_group, ...: the functions' variables, upper-cased.
    for name, value in state.items():
        if isinstance(value, str) and name not in ("aws_endpoint_url", "api_url", "region", "table_name"):
            env[name.upper()] = value
    return env


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or aws.HOST, parts.port or 80), timeout=2):
            return True
    except OSError:
        return False


def env(state_file: Path) -> int:
    if not state_file.exists():
        sys.stderr.write(f"no local stack: {state_file} does not exist (`make local` writes it)\n")
        return NO_STACK
    try:
        state = json.loads(state_file.read_text())
        values = environment(state)
    except (ValueError, KeyError, TypeError) as error:
        sys.stderr.write(f"{state_file} is not a local stack's state file: {error}\n")
        return 2
    if not _answers(values["AWS_ENDPOINT_URL"]):
        sys.stderr.write(
            f"{state_file} is stale: nothing answers at {values['AWS_ENDPOINT_URL']} "
            "(start `make local`, or remove the file to use AWS)\n"
        )
        return 2
    sys.stdout.write("unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN\n")
    for name, value in sorted(values.items()):
        sys.stdout.write(f"export {name}={shlex.quote(value)}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["serve", "demo", "env"])
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve()
    if args.command == "env":
        return env(Path(os.environ.get("LOCAL_STATE_FILE") or DEFAULT_STATE_FILE))
    from local_stack.demo import main as demo

    return demo()


if __name__ == "__main__":
    raise SystemExit(main())
