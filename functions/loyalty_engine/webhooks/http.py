"""POST a webhook: resolve the host once, check every address (`urls.address_allowed`), connect
to the checked address (the TLS handshake still checks the certificate against the host name),
and read no more than a short excerpt of the answer, all within one 10 s deadline: the connection
is opened with the time left, and every read of the answer (status line, headers, body) first
checks the time left and waits no longer than that, so a receiver that trickles its answer a byte
at a time cannot hold a delivery past the deadline (an overrun is a `timeout`).

The standard library only (http.client, which urllib is built on: urllib cannot be told which
address to connect to, and a second resolution could answer a private address — DNS rebinding).
Redirects are not followed: a 3xx answer is a failed delivery.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from loyalty_engine.webhooks.models import EXCERPT_MAX
from loyalty_engine.webhooks.urls import address_allowed

TIMEOUT_S = 10.0
READ_MAX = 4096
USER_AGENT = "loyalty-engine-webhooks/1"


@dataclass(frozen=True)
class Answer:
    status_code: int | None  # None: no answer (see `error`)
    error: str | None  # timeout, connection_error, forbidden_address, unresolvable, tls_error
    latency_ms: int
    excerpt: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _left(deadline: float) -> float:
    """The time left before `deadline`; a `TimeoutError` once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the delivery deadline has passed")
    return left


class _DeadlineSocketReader(io.RawIOBase):
    """The answer's bytes, each read waiting at most the time left before the deadline (a
    socket's own timeout bounds each read, and restarts with every byte that arrives)."""

    def __init__(self, sock: socket.socket, deadline: float):
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        self._sock.settimeout(_left(self._deadline))
        return self._sock.recv_into(buffer)


def _deadline_response(deadline: float) -> type[http.client.HTTPResponse]:
    class DeadlineResponse(http.client.HTTPResponse):
        def __init__(self, sock: socket.socket, *args: object, **kwargs: object):
            super().__init__(sock, *args, **kwargs)  # type: ignore[arg-type]
            # The base class's reader (nothing read from it) stays open until the answer is
            # closed: it holds the socket's file descriptor when the connection lets go of it.
            self._holder = self.fp
            self.fp = io.BufferedReader(_DeadlineSocketReader(sock, deadline))

        def close(self) -> None:
            super().close()
            self._holder.close()

    return DeadlineResponse


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, deadline: float):
        super().__init__(host, port, timeout=_left(deadline))
        self._address = address
        self._deadline = deadline
        self.response_class = _deadline_response(deadline)

    def connect(self) -> None:
        # sendall's timeout bounds the whole send (Python >= 3.5), so the time left at connection
        # bounds connecting and sending the request.
        self.sock = socket.create_connection((self._address, self.port), _left(self._deadline))


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, deadline: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=_left(deadline), context=context)
        self._address = address
        self._deadline = deadline
        self._tls = context
        self.response_class = _deadline_response(deadline)

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), _left(self._deadline))
        raw.settimeout(_left(self._deadline))
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        self.sock.settimeout(_left(self._deadline))


def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (a literal address is itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool = False,
    timeout_s: float = TIMEOUT_S,
    resolver: Callable[[str, int], list[str]] | None = None,
    tls: ssl.SSLContext | None = None,
) -> Answer:
    """POST `body` to `url`; never raises for what the endpoint or the network does. `tls`: the
    context verifying the endpoint's certificate (default: the system's trusted authorities)."""
    started = time.monotonic()

    def done(status: int | None, error: str | None, excerpt: str = "") -> Answer:
        return Answer(status, error, int((time.monotonic() - started) * 1000), excerpt[:EXCERPT_MAX])

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = (resolver or resolve)(host, port)
    except (OSError, UnicodeError):
        return done(None, "unresolvable")
    if not addresses:
        return done(None, "unresolvable")
    # Every address must be allowed: a name that also resolves to a private one is refused.
    if not all(address_allowed(address, allow_private=allow_private) for address in addresses):
        return done(None, "forbidden_address")
    address = addresses[0]
    deadline = started + timeout_s
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection | None = None
    try:
        if parts.scheme == "https":
            connection = _PinnedHTTPSConnection(
                host, port, address, deadline, tls or ssl.create_default_context()
            )
        else:
            connection = _PinnedHTTPConnection(host, port, address, deadline)
        connection.request("POST", path, body=body, headers={**headers, "User-Agent": USER_AGENT})
        response = connection.getresponse()
        try:
            text = response.read(READ_MAX).decode("utf-8", errors="replace")
        finally:
            response.close()
        return done(response.status, None, text)
    except TimeoutError:
        return done(None, "timeout")
    except ssl.SSLError:
        return done(None, "tls_error")
    except (OSError, http.client.HTTPException, UnicodeError):  # UnicodeError: a non-ASCII path
        return done(None, "connection_error")
    finally:
        if connection is not None:
            connection.close()
