"""The local gateway's HTTP server: 127.0.0.1:<port>, a thread per connection, HTTP/1.1
keep-alive, in front of a `Gateway`.

It reads the body (Content-Length or chunked, at most `MAX_BODY_BYTES`: past that a 413,
and past `DRAIN_LIMIT_BYTES` the connection is closed unread), hands the request to the
gateway, and writes its answer. A malformed request (bad request line, header too long,
invalid Content-Length or chunked encoding) is a 400 bad_request in JSON, like every other
answer of the gateway, and closes the connection.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local_stack.aws import HOST
from local_stack.gateway import MAX_BODY_BYTES, Gateway
from local_stack.gateway_http import (
    GatewayError,
    HttpRequest,
    HttpResponse,
    error_response,
    payload_too_large,
)

DRAIN_LIMIT_BYTES = 16 * 1024 * 1024  # past this, a too-large body is not read: the connection is closed


class _BadRequest(Exception):
    pass


class _TooLarge(Exception):
    pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # answers to unparsable request lines get a status line
    server_version = "local-apigateway"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after this
    server: _HttpServer

    def version_string(self) -> str:
        return self.server_version

    def __getattr__(self, name: str) -> Any:
        # Every method, known or not, goes through the gateway (404 where no route has it).
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
        except _TooLarge:
            response = error_response(payload_too_large(MAX_BODY_BYTES), str(uuid.uuid4()))
        except _BadRequest as problem:
            self.close_connection = True
            response = error_response(GatewayError(400, "bad_request", str(problem)), str(uuid.uuid4()))
        else:
            request = HttpRequest(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
            )
            response = self.server.gateway.handle(request)
        self._write(response)
        if self.server.access_log:
            elapsed = (time.monotonic() - started) * 1000
            sys.stderr.write(f"{self.command} {self.path} {response.status} {elapsed:.0f} ms\n")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            raise _BadRequest("invalid Content-Length") from None
        if length < 0:
            raise _BadRequest("invalid Content-Length")
        if length > MAX_BODY_BYTES:
            if length <= DRAIN_LIMIT_BYTES:
                self._discard(length)
            else:
                self.close_connection = True
            raise _TooLarge()
        body = self.rfile.read(length)
        if len(body) < length:
            raise _BadRequest("the body is shorter than Content-Length")
        return body

    def _discard(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest("invalid chunked encoding") from None
            if size < 0:
                raise _BadRequest("invalid chunked encoding")
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                self.close_connection = True
                raise _TooLarge()
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _BadRequest("truncated chunk")
            body.extend(chunk)
            self.rfile.readline(16)

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed requests (bad request line, header too long...): JSON like every other answer.
        self.close_connection = True
        try:
            phrase = message or HTTPStatus(code).phrase
        except ValueError:
            phrase = str(code)
        body = json.dumps(
            {"code": "bad_request" if code < 500 else "internal_error", "message": phrase}
        ).encode()
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the access log above is enough


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # A burst of simultaneous connections waits in the listen queue instead of being reset
    # (socketserver's default is 5); the kernel caps it at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], gateway: Gateway, access_log: bool):
        self.gateway = gateway
        self.access_log = access_log
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class GatewayServer:
    """The gateway on 127.0.0.1:<port> (0 = any free port), served by a thread per connection."""

    def __init__(self, gateway: Gateway, port: int = 0, access_log: bool = False):
        self.gateway = gateway
        self._server = _HttpServer((HOST, port), gateway, access_log)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="gateway", daemon=True
        )

    def start(self) -> GatewayServer:
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
