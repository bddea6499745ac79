"""moto as the local AWS: one in-process server, in a thread of this process.

moto's backends are module globals, so every server of a process shares the same state;
AWS requests are served one at a time (a lock around the WSGI app) so that DynamoDB
transactions and conditional writes are as atomic as they are on AWS. (Hence no SQS long
polling here: moto waits inside the request, so a long poll would hold every other AWS
call; see `queues.py`.) TransactWriteItems rolls back the items it names instead of copying
whole tables (`moto_transactions.py`): the same answers, without a cost growing with the table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local_stack.aws import HOST
from local_stack.moto_queues import retention_without_queue_scan
from local_stack.moto_transactions import item_rollback_transactions


class _QuietHandler(MotoRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: botocore reuses its connections
    # The status line and headers, then the body, go out in two writes: with Nagle's algorithm
    # the second waits for the client's delayed ACK of the first, 40 ms per AWS call.
    disable_nagle_algorithm = True

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
        item_rollback_transactions()
        retention_without_queue_scan()
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
