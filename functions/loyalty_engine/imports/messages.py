"""The importer's queue messages: S3 notifications of uploads (read with powertools' S3 event
data class), S3's test event, and the continuations of a drain that ran out of time."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import S3Event

from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.drain import drain, job_for
from loyalty_engine.imports.files import (
    INCOMING,
    FileRejected,
    parse_file_name,
    processed_key,
    split_incoming_key,
)
from loyalty_engine.imports.finish import reject
from loyalty_engine.kernel.types import SLUG_PATTERN

logger = Logger(service="loyalty-engine", child=True)
_SLUG = re.compile(SLUG_PATTERN)


def handle_message(svc: ImportServices, body: dict[str, Any], remaining_ms: Callable[[], float]) -> None:
    """One queue message: an S3 notification, S3's test event, or a drain continuation."""
    if body.get("Event") == "s3:TestEvent":
        return
    if "drain" in body:
        drain(svc, str(body["drain"]["group"]), remaining_ms)
        return
    if not isinstance(body.get("Records"), list):
        logger.error("unrecognised import message; ignored", extra={"body_keys": sorted(body)})
        return
    for record in S3Event(body).records:
        if record.event_name.startswith("ObjectCreated"):
            # Keys arrive URL-encoded (a space as "+"); the data class hands them over as sent.
            _object_created(svc, unquote_plus(record.s3.get_object.key), remaining_ms)


def _object_created(svc: ImportServices, key: str, remaining_ms: Callable[[], float]) -> None:
    located = split_incoming_key(key)
    if located is None:
        parts = key[len(INCOMING) :].split("/", 1) if key.startswith(INCOMING) else []
        if len(parts) == 2 and parts[0]:
            located = parts[0], parts[1]  # a nested name: rejected below as an invalid file name
        else:
            logger.error(
                "object outside incoming/<group>/ ignored: no group to report to", extra={"key": key}
            )
            return
    group, name = located
    if not _SLUG.fullmatch(group) or svc.groups.get_group(group) is None:
        # No group: nobody to report to, and no key space of its own to write a job or a report
        # in. Nothing is written anywhere; the object stays where it was uploaded.
        logger.warning("upload for a loyalty group that does not exist ignored", extra={"key": key})
        if svc.on_unknown_group:
            svc.on_unknown_group(key)
        return
    stored = svc.objects.head(key)
    if stored is None:
        logger.info("object gone (handled by an earlier delivery)", extra={"key": key})
        return
    if key.endswith("/") and stored.size == 0:
        # a folder (the S3 console's "Create folder"), not a file: no name to apply or report under
        logger.info("empty folder object under incoming/ ignored", extra={"key": key})
        return
    try:
        parse_file_name(name, group)  # a well-named file is applied in its turn among the group's
    except FileRejected as rejection:
        job = job_for(svc, group, name, stored)
        if not job.done:
            reject(svc, group, job, rejection)
        svc.objects.move(stored, processed_key(group, name.replace("/", "_"), job.import_id))
        return
    drain(svc, group, remaining_ms)
