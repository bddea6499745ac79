"""python -m local_stack serve | demo

serve: the stack in the foreground until Ctrl-C (`make local`). Ports from LOCAL_API_PORT
(default 3000) and LOCAL_AWS_PORT (default 0, any free port); 0 means any free port.
LOCAL_QUEUE_DELAY_S: the queues' delivery delay in seconds (default 0: an upload is
handled at once), or `wiring` for the deployed delays.
The URLs, keys, bucket and queue are written to .local/stack.json (LOCAL_STATE_FILE) while it runs.
demo: a scenario through the HTTP API on a fresh stack (`make demo`); exit code 1 if
any answer is not the expected one.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from local_stack.stack import LocalStack

DEFAULT_API_PORT = 3000
DEFAULT_STATE_FILE = ".local/stack.json"


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
        if queue.spec.source is None or queue.spec.source.bucket not in stack.resources.buckets:
            continue
        bucket = stack.resources.buckets[queue.spec.source.bucket]
        lines += [
            f"    # a partner file of the group demo, handled by {delivery.runtime.spec.name} (see README, local stack)",
            f"    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws --endpoint-url {stack.aws_endpoint_url} \\",
            f"      --region {stack.region} s3 cp file.csv s3://{bucket}/{queue.spec.source.prefix}demo/file.csv",
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["serve", "demo"])
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve()
    from local_stack.demo import main as demo

    return demo()


if __name__ == "__main__":
    raise SystemExit(main())
