"""The local AWS's fixed names, its clients, and the local names of the wiring's resources.

The local AWS is moto (`moto_server.py`), on 127.0.0.1, with one region, one account and
fake credentials; `resources.py` makes the wiring's resources there, under the names
given here (`<prefix>-<wiring name, lowercased>-local`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from loyalty_engine.wiring import FUNCTIONS, Bucket, Function, ProgramSchedules, Queue

HOST = "127.0.0.1"
REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"  # noqa: S105 - moto's fake credentials
RESOURCE_PREFIX = "loyalty-engine"  # local names: <prefix>-<wiring name, lowercased>-local


_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()
_session: boto3.session.Session | None = None


def client(service: str, endpoint_url: str) -> Any:
    """A client of the local AWS, whatever the environment says.

    Clients are kept per service and endpoint, from one session: a new session loads
    botocore's endpoint and model files again (a quarter of a second per client).
    """
    global _session
    with _clients_lock:
        found = _clients.get((service, endpoint_url))
        if found is None:
            if _session is None:
                _session = boto3.session.Session()
            found = _session.client(
                service,
                endpoint_url=endpoint_url,
                region_name=REGION,
                aws_access_key_id=ACCESS_KEY_ID,
                aws_secret_access_key=SECRET_ACCESS_KEY,
                config=Config(retries={"mode": "standard", "max_attempts": 2}),
            )
            _clients[(service, endpoint_url)] = found
        return found


def bucket_name(bucket: Bucket) -> str:
    """The local name of a wiring bucket (the functions get it from `bucket.env`)."""
    return f"{RESOURCE_PREFIX}-{bucket.name.lower()}-local"


def queue_name(queue: Queue, *, dead_letter: bool = False) -> str:
    suffix = "-dlq" if dead_letter else ""
    return f"{RESOURCE_PREFIX}-{queue.name.lower()}{suffix}-local"


def function_name(function: Function) -> str:
    """The local name of a wiring function (the last part of its fake Lambda ARN)."""
    return f"{RESOURCE_PREFIX}-{function.name.lower()}-local"


def function_arn(function: Function) -> str:
    """A Lambda ARN naming the wiring function: what a schedule's target names locally."""
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name(function)}"


def schedule_group_name(schedules: ProgramSchedules) -> str:
    return f"{RESOURCE_PREFIX}-{schedules.name.lower()}-local"


def schedule_target(functions: Sequence[Function] = FUNCTIONS) -> Function:
    """The one wiring function the program schedules invoke (`schedule_target=True`)."""
    targets = [function for function in functions if function.schedule_target]
    if len(targets) != 1:
        raise ValueError(
            f"the wiring must have exactly one schedule target, found {[f.name for f in targets]}"
        )
    return targets[0]


def error_code(error: ClientError) -> str:
    """The AWS error code of a botocore ClientError ("" if it has none)."""
    return str(error.response.get("Error", {}).get("Code", ""))
