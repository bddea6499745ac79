"""The local stack: moto, the table, seed keys and the API gateway, in this process.

    with LocalStack.start() as stack:
        requests.get(f"{stack.api_url}/v1/members/123", headers={"Authorization": f"Bearer {stack.keys['demo']['admin']}"})

The functions' environment is applied to this process while the stack runs (so one
stack per process at a time) and restored by `stop()`.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from local_stack import aws
from local_stack.gateway import STAGE, Gateway, GatewayServer
from local_stack.runtime import Environment, FunctionRuntime, function_environment
from local_stack.seed import seed
from loyalty_engine.wiring import FUNCTIONS

DEFAULT_TABLE_NAME = "loyalty-engine-local"

_running_lock = threading.Lock()
_running: LocalStack | None = None


class LocalStack:
    def __init__(self) -> None:
        self.table_name = DEFAULT_TABLE_NAME
        self.region = aws.REGION
        self.stage = STAGE
        self.keys: dict[str, dict[str, str]] = {}
        self.state_file: Path | None = None
        self._moto: aws.MotoServer | None = None
        self._environment: Environment | None = None
        self._gateway: GatewayServer | None = None
        self._resources_created = False

    @classmethod
    def start(
        cls,
        *,
        api_port: int = 0,
        aws_port: int = 0,
        table_name: str = DEFAULT_TABLE_NAME,
        state_file: str | Path | None = None,
        access_log: bool = False,
    ) -> LocalStack:
        """Start everything (port 0 = any free port); `state_file` gets `info()` as JSON."""
        global _running
        with _running_lock:
            if _running is not None:
                raise RuntimeError("a local stack is already running in this process (stop it first)")
            stack = cls()
            _running = stack
        try:
            stack._start(api_port, aws_port, table_name, state_file, access_log)
        except BaseException:
            stack.stop()
            raise
        return stack

    def _start(
        self,
        api_port: int,
        aws_port: int,
        table_name: str,
        state_file: str | Path | None,
        access_log: bool,
    ) -> None:
        self.table_name = table_name
        self._moto = aws.MotoServer(aws_port).start()
        self._environment = Environment(function_environment(self._moto.endpoint_url, table_name))
        self._environment.apply()
        aws.create_resources(self._moto.endpoint_url, table_name)
        self._resources_created = True
        self.keys = seed(table_name)
        runtimes = {function.name: FunctionRuntime(function) for function in FUNCTIONS}
        for runtime in runtimes.values():
            runtime.warm()
        self._gateway = GatewayServer(Gateway(runtimes), api_port, access_log=access_log).start()
        if state_file is not None:
            self.state_file = Path(state_file)
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            # The keys are in it: readable by the owner only.
            descriptor = os.open(self.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                json.dump(self.info(), handle, indent=2)
                handle.write("\n")

    @property
    def aws_endpoint_url(self) -> str:
        if self._moto is None:
            raise RuntimeError("the local stack is not running")
        return self._moto.endpoint_url

    @property
    def api_url(self) -> str:
        if self._gateway is None:
            raise RuntimeError("the local stack is not running")
        return self._gateway.url

    @property
    def gateway(self) -> Gateway:
        if self._gateway is None:
            raise RuntimeError("the local stack is not running")
        return self._gateway.gateway

    def info(self) -> dict[str, Any]:
        """What `.local/stack.json` holds."""
        return {
            "aws_endpoint_url": self.aws_endpoint_url,
            "api_url": self.api_url,
            "table_name": self.table_name,
            "region": self.region,
            "keys": self.keys,
        }

    def stop(self) -> None:
        """Stop and clean up whatever was started; safe to call twice."""
        global _running
        try:
            if self._gateway is not None:
                self._gateway.stop()
                self._gateway = None
            if self._moto is not None:
                if self._resources_created:
                    try:
                        aws.delete_resources(self._moto.endpoint_url, self.table_name)
                    finally:
                        self._resources_created = False
                self._moto.stop()
                self._moto = None
        finally:
            if self._environment is not None:
                self._environment.restore()
                self._environment = None
            if self.state_file is not None:
                self.state_file.unlink(missing_ok=True)  # its URLs and keys are dead now
                self.state_file = None
            with _running_lock:
                if _running is self:
                    _running = None

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
