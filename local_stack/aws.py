"""moto as the local AWS: one in-process server and the resources the wiring needs.

The server runs in a thread of this process. moto's backends are module globals, so
every server of a process shares the same state; AWS requests are served one at a
time (a lock around the WSGI app) so that DynamoDB transactions and conditional
writes are as atomic as they are on AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from loyalty_engine.table import create_table_params, enable_ttl_params

HOST = "127.0.0.1"
REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"  # noqa: S105 - moto's fake credentials


class _QuietHandler(MotoRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: botocore reuses its connections

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per DynamoDB call would drown the gateway's output


class _Serialized:
    """WSGI middleware: one AWS request at a time."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))


class MotoServer:
    """moto's server on 127.0.0.1 (port 0 = any free port), in a daemon thread."""

    def __init__(self, port: int = 0):
        self._requested_port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> MotoServer:
        app = _Serialized(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            HOST, self._requested_port, app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="moto", daemon=True
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the moto server is not started")
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None


def client(service: str, endpoint_url: str) -> Any:
    """A client of the local AWS, whatever the environment says."""
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(retries={"mode": "standard", "max_attempts": 2}),
    )


def create_resources(endpoint_url: str, table_name: str) -> None:
    """The table, built from `loyalty_engine.table` exactly as CDK declares it.

    Buckets and queues named by the wiring list are to be created here as well once it
    declares any, so that every handler finds what it finds on AWS.
    """
    dynamodb = client("dynamodb", endpoint_url)
    try:
        dynamodb.create_table(**create_table_params(table_name))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
        # Left over by an earlier stack of this process (moto's state is per process): start empty.
        dynamodb.delete_table(TableName=table_name)
        dynamodb.create_table(**create_table_params(table_name))
    dynamodb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.1})
    dynamodb.update_time_to_live(**enable_ttl_params(table_name))


def delete_resources(endpoint_url: str, table_name: str) -> None:
    """Free moto's memory: its state outlives the server in this process."""
    dynamodb = client("dynamodb", endpoint_url)
    try:
        dynamodb.delete_table(TableName=table_name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
