"""Finding the browser the console's tests drive: the distribution's Chromium (Playwright's own
browser download is not reachable from the project's machines, and is not needed)."""

from __future__ import annotations

import os
import shutil

CHROMIUM_VARIABLE = "CHROMIUM_PATH"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
HOW_TO_GET_ONE = (
    "The console's browser tests need Chromium and found none. Install the distribution's package "
    "(`apt-get install -y chromium` on Debian/Ubuntu; `make test` does it when apt-get is available "
    f"as root), or point {CHROMIUM_VARIABLE} at a Chromium or Chrome binary."
)


class NoBrowser(RuntimeError):
    pass


def chromium_path(environ: dict[str, str] | None = None) -> str:
    """The Chromium to launch: CHROMIUM_PATH if set (it must exist), else the first on PATH."""
    environ = dict(os.environ if environ is None else environ)
    named = environ.get(CHROMIUM_VARIABLE, "").strip()
    if named:
        if os.path.isfile(named) and os.access(named, os.X_OK):
            return named
        raise NoBrowser(f"{CHROMIUM_VARIABLE}={named} is not an executable file. {HOW_TO_GET_ONE}")
    for name in CANDIDATES:
        found = shutil.which(name, path=environ.get("PATH"))
        if found:
            return found
    raise NoBrowser(HOW_TO_GET_ONE)


def launch_arguments() -> list[str]:
    # Chromium's sandbox refuses to run as root (CI and these machines run as root).
    return ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
