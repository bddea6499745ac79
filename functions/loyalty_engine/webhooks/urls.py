"""What a webhook may be sent to: no server-side request forgery.

- At create and update time (`check_url`): an absolute `https://` URL with a host name, no user
  name or password, no fragment; plain `http://` only where the stage allows it (the local
  stack). A literal IP address or a name such as `localhost` that can only mean a forbidden
  address is refused at once.
- At delivery time (`address_allowed`), after resolution, every address the name resolves to
  must be public: not private, loopback, link-local, IPv6 site-local (fec0::/10, deprecated but
  still routed inside some networks), reserved, multicast, unspecified, shared (100.64/10) nor
  a cloud metadata address (169.254.169.254, fd00:ec2::254), nor an IPv6 address
  carrying such an IPv4 address (IPv4-mapped, 6to4); the connection is
  then made to the checked address (see `webhooks.http`), never to a second resolution.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from loyalty_engine.kernel.errors import InvalidRequest

URL_MAX = 2048
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_SHORTHAND = re.compile(r"[0-9a-fx.]+")  # all a legacy IPv4 form can hold (`inet_aton` decides)


def address_allowed(address: IPAddress | str, *, allow_private: bool = False) -> bool:
    """Whether a resolved address may be connected to. `allow_private` (the local stack only)
    admits loopback and private addresses; never the metadata addresses."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    elif isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour is not None:
        return address_allowed(ip.sixtofour, allow_private=allow_private)  # 6to4: the IPv4 it carries
    if ip in METADATA_ADDRESSES:
        return False
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return False  # fec0::/10: Python counts it neither private nor reserved
    if allow_private and (ip.is_loopback or ip.is_private):
        return True
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local)


def _literal_address(host: str) -> IPAddress | None:
    """The address a host names literally: IPv4 and IPv6 as written, and the IPv4 shorthands
    that resolvers take as addresses too (`127.1`, `0177.0.0.1`, `0x7f.0.0.1`, `2130706433`)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _SHORTHAND.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _ascii_host(hostname: str) -> str:
    """The host as a resolver reads it: a name in other scripts is first made ASCII as the
    delivery's resolution makes it (IDNA: full-width digits and full stops, circled digits and
    the ideographic full stop can spell 127.0.0.1, full-width letters localhost), so that it is
    judged as what it will reach."""
    host = hostname
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise _refused("invalid_webhook_url", "the URL's host is not a valid host name") from None
    return host.rstrip(".").lower()


def _refused(reason: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, code=reason, details=[{"in": "body", "field": "url", "reason": reason}])


def check_url(url: str, *, allow_http: bool = False, allow_private: bool = False) -> str:
    """The URL if a subscription may use it; 422 (`invalid_webhook_url`, `webhook_url_not_https`
    or `webhook_url_forbidden`) otherwise."""
    if len(url) > URL_MAX or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise _refused("invalid_webhook_url", "the URL is too long or holds spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise _refused("invalid_webhook_url", f"the URL is not valid: {error}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _refused("invalid_webhook_url", "an absolute https:// URL with a host name is required")
    if not (parts.path + parts.query).isascii():  # a request line is ASCII: percent-encode them
        raise _refused("invalid_webhook_url", "the URL's path and query are ASCII only (percent-encoded)")
    if parts.scheme == "http" and not allow_http:
        raise _refused("webhook_url_not_https", "webhooks are sent over HTTPS only on this stage")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise _refused("invalid_webhook_url", "the URL may hold neither credentials nor a fragment")
    if port == 0:
        raise _refused("invalid_webhook_url", "port 0 is not a port")
    host = _ascii_host(parts.hostname)
    literal = _literal_address(host)
    if literal is not None and not address_allowed(literal, allow_private=allow_private):
        raise _refused("webhook_url_forbidden", "the URL's address is private, local or reserved")
    if literal is None and not allow_private and (host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES)):
        raise _refused("webhook_url_forbidden", "the URL's host is a local name")
    if literal is None and "." not in host and not allow_private:
        raise _refused("webhook_url_forbidden", "the URL's host is not a fully qualified name")
    return url
