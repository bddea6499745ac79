"""The console's static files as the local gateway serves them (`local_stack/gateway_static.py`):
files of console/ only, with their types and security headers; nothing outside it, no dot-file,
no write; and every file the page and its modules name exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local_stack.gateway_http import GatewayError
from local_stack.gateway_static import ROOT, console_response, is_console


def _headers(response) -> dict[str, str]:
    return dict(response.headers)


def test_the_page_is_served_with_its_type_and_security_headers() -> None:
    for path in ("/console/", "/console/index.html"):
        response = console_response("GET", path)
        assert response.status == 200
        headers = _headers(response)
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert b"Loyalty engine console" in response.body
    assert _headers(console_response("GET", "/console/js/app.js"))["Content-Type"].startswith(
        "text/javascript"
    )
    assert _headers(console_response("HEAD", "/console/style.css"))["Content-Type"].startswith("text/css")


def test_the_bare_prefix_redirects_to_the_folder() -> None:
    response = console_response("GET", "/console")
    assert (response.status, _headers(response)["Location"]) == (301, "/console/")


@pytest.mark.parametrize(
    "path",
    [
        "/console/../pyproject.toml",
        "/console/%2e%2e/pyproject.toml",
        "/console/js/../../Makefile",
        "/console//etc/passwd",
        "/console/.hidden",
        "/console/js/",
        "/console/nothing.html",
        "/console/%00",
        "/console/js%2f..%2f..%2fMakefile",
    ],
)
def test_nothing_outside_the_console_nor_a_dot_file_is_served(path: str) -> None:
    with pytest.raises(GatewayError) as refused:
        console_response("GET", path)
    assert (refused.value.status, refused.value.code) == (404, "route_not_found")


def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "console"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("no")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    (root / "ok.txt").write_text("yes")
    assert console_response("GET", "/console/ok.txt", root).body == b"yes"
    with pytest.raises(GatewayError):
        console_response("GET", "/console/link.txt", root)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_only_reads_are_answered(method: str) -> None:
    with pytest.raises(GatewayError) as refused:
        console_response(method, "/console/index.html")
    assert refused.value.status == 404


def test_only_the_console_prefix_is_static() -> None:
    assert is_console("/console") and is_console("/console/js/app.js")
    assert not is_console("/consoles") and not is_console("/v1/members/console")


def test_every_file_the_page_and_its_modules_name_exists() -> None:
    page = (ROOT / "index.html").read_text()
    named = re.findall(r'(?:src|href)="([^"#:]+)"', page)
    assert {"style.css", "js/app.js"} <= set(named)
    for name in named:
        assert (ROOT / name).is_file(), name
    for module in (ROOT / "js").glob("*.js"):
        for imported in re.findall(r'from "(\./[^"]+)"', module.read_text()):
            assert (module.parent / imported).resolve().is_file(), f"{module.name} imports {imported}"


def test_the_key_never_goes_into_a_url_or_local_storage() -> None:
    scripts = "\n".join(path.read_text() for path in (ROOT / "js").glob("*.js"))
    assert "localStorage" not in scripts
    assert "sessionStorage.setItem(STORAGE_KEY" in scripts
    # The key travels in the Authorization header only.
    assert re.search(r"Authorization: `Bearer \$\{apiKey\}`", scripts)
    assert not re.search(r"[?&](key|api_key|token)=", scripts)
