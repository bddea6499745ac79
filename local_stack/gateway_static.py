"""The operator console's static files (`console/`), served by the local gateway under `/console/`.

Same origin as the API, so the console calls `/v1/...` without CORS. Only GET and HEAD of a
file inside `console/` (no listing, no path outside it, no dot-file); anything else under
`/console` is a 404 in the gateway's JSON shape. The answers carry the security headers the
CloudFront distribution adds on AWS (`infra/console.py`): a content security policy that
allows scripts and styles from the origin only, no framing, no sniffing, no referrer.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from local_stack.gateway_http import GatewayError, HttpResponse

PREFIX = "/console"
ROOT = Path(__file__).resolve().parent.parent / "console"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
# connect-src: the API (same origin) and the presigned S3 URLs of uploads and reports
# (another origin: moto locally, S3 on AWS).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' http://127.0.0.1:* http://localhost:* https:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = [
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-cache"),
]


def is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def console_response(method: str, path: str, root: Path = ROOT) -> HttpResponse:
    """The answer to METHOD `path` (a path under /console), or GatewayError 404."""
    if path == PREFIX:
        return HttpResponse(301, [("Location", PREFIX + "/"), *SECURITY_HEADERS], b"")
    if method not in ("GET", "HEAD"):
        raise GatewayError(404, "route_not_found", f"no route for {method} {path}")
    relative = unquote(path[len(PREFIX) + 1 :]) or "index.html"
    file = _file(root, relative)
    if file is None:
        raise GatewayError(404, "route_not_found", f"no route for {path}")
    content_type = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
    return HttpResponse(200, [("Content-Type", content_type), *SECURITY_HEADERS], file.read_bytes())


def _file(root: Path, relative: str) -> Path | None:
    parts = relative.split("/")
    if any(
        part in ("", ".", "..") or part.startswith(".") or "\\" in part or "\x00" in part for part in parts
    ):
        return None
    base = root.resolve()
    file = (base / relative).resolve()
    if base not in file.parents or not file.is_file():
        return None
    return file
