"""POST a webhook: resolve the host once, check every address (`urls.address_allowed`), connect
to the checked address (the TLS handshake still checks the certificate against the host name),
10 s timeout, and read no more than a short excerpt of the answer.

The standard library only (http.client, which urllib is built on: urllib cannot be told which
address to connect to, and a second resolution could answer a private address — DNS rebinding).
Redirects are not followed: a 3xx answer is a failed delivery.
"""

from __future__ import annotations

import http.client
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


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


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
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(
            host, port, address, timeout_s, tls or ssl.create_default_context()
        )
    else:
        connection = _PinnedHTTPConnection(host, port, address, timeout_s)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = started + timeout_s
    try:
        connection.request("POST", path, body=body, headers={**headers, "User-Agent": USER_AGENT})
        if connection.sock is not None:
            connection.sock.settimeout(max(0.01, deadline - time.monotonic()))
        response = connection.getresponse()
        text = response.read(READ_MAX).decode("utf-8", errors="replace")
        return done(response.status, None, text)
    except TimeoutError:
        return done(None, "timeout")
    except ssl.SSLError:
        return done(None, "tls_error")
    except (OSError, http.client.HTTPException):
        return done(None, "connection_error")
    finally:
        connection.close()
