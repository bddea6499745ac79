"""The processes of the benchmarks that measure against a moto server (`bench/imports.py`,
`bench/jobs.py`): the backend in a process of its own, and fresh child processes, each
running one step of a bench script and handing back its figures as JSON.

Importing this module puts `functions/` and the repository root on `sys.path` (a bench script
run as `python bench/<name>.py` needs the root there first to import it: see their heads).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# A benchmark's own process: fake credentials, the bench table, powertools quiet.
BENCH_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "TABLE_NAME": "loyalty-bench",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "functions"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
MOTO_BACKEND = (sys.executable, str(ROOT / "bench" / "moto_backend.py"))


class Backend:
    """A moto server in a subprocess (`command` prints its port, then serves until terminated);
    the endpoint URL while inside `with`."""

    def __init__(self, command: Sequence[str] = MOTO_BACKEND) -> None:
        self.command = list(command)

    def __enter__(self) -> str:
        self._process = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._process.stdout is not None
        port = self._process.stdout.readline().strip()
        if not port.isdigit():
            self._process.kill()
            raise RuntimeError("the moto backend did not start")
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *_: object) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def backend_client(service: str, endpoint: str) -> Any:
    """A boto3 client of the backend, for the parent's setup (the children's credentials)."""
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


def child_env(endpoint: str, table: str, *, drop: tuple[str, ...] = (), **extra: str) -> dict[str, str]:
    """This environment without the variables starting with AWS_, POWERTOOLS_, PYTHON or any of
    `drop`, pointed at the backend and `table`, with the `extra` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "PYTHON", *drop))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT / "functions"), str(ROOT)]),
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
        AWS_DEFAULT_REGION=REGION,
        TABLE_NAME=table,
        **extra,
        POWERTOOLS_TRACE_DISABLED="1",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    return env


def run_child(script: str | Path, out: Path, mode: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    """`python <script> <mode> --out <out> <args>` in `env`: the JSON it wrote to `out`. Its
    stdout (EMF metrics lines) is dropped; if it fails, its stderr is written to ours."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, str(Path(script).resolve()), mode, "--out", str(out), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"bench child {mode} {' '.join(args)} failed")
    return dict(json.loads(out.read_text()))


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child
    of a large parent (`make bench` after its in-process moto) would report the parent's size."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS
