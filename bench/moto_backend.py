"""moto's server in a process of its own, for the import benchmarks (`bench/imports.py`).

Usage: `python bench/moto_backend.py` prints the port it listens on (127.0.0.1), then serves
until terminated. Its own process: the backend's memory (hundreds of thousands of items)
never counts in the RSS of the process under measurement, and its CPU is not the importer's.

As `local_stack` does: HTTP/1.1 keep-alive (botocore reuses its connections), no request
log, and one AWS request at a time (conditional writes as atomic as on AWS).

Two changes to moto, for speed only, both removing a cost quadratic in the attribute count
of an item that DynamoDB does not have:
- moto checks the 400 KB item limit after every attribute it sets on an item, summing the
  sizes of all the attributes so far (about half of the server's time on a 25-item
  BatchWriteItem). Here an item is built whole and its size checked once, same limit.
- a ProjectionExpression deep-copies the whole item once per projected attribute. Here
  once per item.
The figures are then closer to what the client side costs. moto's response serializer
stays slow for large responses (BatchGetItem of 100 items): reads cost more here, relative
to writes, than on DynamoDB.

The frozen client (`GET /__bench__/freeze?pid=<pid>&file=<path>`, `pid=0` to end): while
moto serves a request, the process `pid` is stopped (SIGSTOP, SIGCONT once the answer is
ready; the request's body is read whole first) and the time it stood still is added to the
8-byte float at the start of `file`. In the client's clock less that time, moto answers
at once: however many requests were in flight, none waited for moto nor for the others
queued in front of it (`bench/aws_hooks.py`'s `FrozenClock`).
"""

from __future__ import annotations

import io
import mmap
import os
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any


def _faster_items() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    def init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        values = {key: dynamo_type.DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in values.items()) > 405_000:
            raise ItemSizeTooLarge  # moto's own limit (DynamoDB's 400 KB, as measured by moto)
        self.attrs = dynamo_type.LimitedSizeDict()
        dict.update(self.attrs, values)

    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        whole = self.to_regular_json()  # a deep copy, once
        result: dict[str, Any] = {}
        for expression in projection_expressions:
            dynamo_type.merge_dicts(result, dynamo_type.find_nested_key(expression, whole))
        attrs = dynamo_type.serializer.serialize(result)["M"]
        return dynamo_type.Item(hash_key=self.hash_key, range_key=self.range_key, attrs=attrs)

    dynamo_type.Item.__init__ = init
    dynamo_type.Item.project = project


def main() -> None:
    _faster_items()
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class Handler(MotoRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()
    frozen: dict[str, Any] = {"pid": 0, "map": None}

    def freeze(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from urllib.parse import parse_qs

        query = parse_qs(environ.get("QUERY_STRING", ""))
        with lock:
            if frozen["map"] is not None:
                frozen["map"].close()
            frozen.update(pid=int(query["pid"][0]), map=None)
            if frozen["pid"]:
                with open(query["file"][0], "r+b") as shared:
                    frozen["map"] = mmap.mmap(shared.fileno(), 8)
        start_response("204 No Content", [])
        return []

    def serialized(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/__bench__/freeze":
            return freeze(environ, start_response)
        with lock:
            pid, shared = frozen["pid"], frozen["map"]
            if not pid:
                return list(app(environ, start_response))
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""  # all sent before the stop
            environ["wsgi.input"] = io.BytesIO(body)
            started = time.perf_counter()
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:  # the client ended without saying so
                frozen.update(pid=0, map=None)
                return list(app(environ, start_response))
            try:
                return list(app(environ, start_response))
            finally:
                (total,) = struct.unpack_from("d", shared, 0)
                struct.pack_into("d", shared, 0, total + time.perf_counter() - started)
                os.kill(pid, signal.SIGCONT)

    server = make_server("127.0.0.1", 0, serialized, threaded=True, request_handler=Handler)
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
