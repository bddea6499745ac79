"""Faster client creation in tests: every botocore session shares one data loader.

Each test builds fresh clients (moto starts a new boto3 session, and the code under test
makes its clients from new botocore sessions), and each new session parses the service
JSON models again: about a second per import world. Sharing the loader (and with it its
per-instance cache of parsed models) is what a single long-lived session does anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import botocore.loaders
import botocore.session


@contextmanager
def shared_botocore_loader() -> Iterator[None]:
    original = botocore.session.create_loader
    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)
    try:
        yield
    finally:
        botocore.session.create_loader = original
