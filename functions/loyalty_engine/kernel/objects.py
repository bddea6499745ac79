"""S3 access for import files and reports, and the import queue (continuations)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import IO, Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel.dynamo import error_code
from loyalty_engine.kernel.errors import ServiceUnavailable

READ_CHUNK = 1 << 20
_MISSING = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion"})


def _config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 6}, connect_timeout=3, read_timeout=30)


@cache
def s3_client() -> Any:
    import botocore.session

    return botocore.session.get_session().create_client("s3", config=_config())


@cache
def s3_presign_client() -> Any:
    """The client that signs URLs for others: SigV4 (which signs the headers too, such as an
    upload's Content-Length) on the bucket's regional name (a URL on the global name may be
    redirected, and a redirect breaks the signature). A local endpoint keeps its own address."""
    import os

    import botocore.session
    from botocore.config import Config

    style = "path" if os.environ.get("AWS_ENDPOINT_URL") else "virtual"
    config = _config().merge(Config(signature_version="s3v4", s3={"addressing_style": style}))
    return botocore.session.get_session().create_client("s3", config=config)


@cache
def sqs_client() -> Any:
    import botocore.session

    return botocore.session.get_session().create_client("sqs", config=_config())


@dataclass(frozen=True)
class StoredObject:
    key: str
    etag: str
    version_id: str | None
    size: int
    uploaded_at: datetime | None = None  # S3's LastModified: when the partner's upload ended

    @property
    def version(self) -> str:
        """What identifies this upload of the key: the version id, else the ETag."""
        return self.version_id or self.etag


class ObjectStore:
    def __init__(self, client: Any, bucket: str, presigner: Any = None):
        self._client = client
        self._presigner = presigner or client
        self.bucket = bucket

    def keys_under(self, prefix: str) -> list[str]:
        keys: list[str] = []
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            response = self._call("list_objects_v2", **params)
            keys.extend(entry["Key"] for entry in response.get("Contents", []))
            if not response.get("IsTruncated"):
                return keys
            params["ContinuationToken"] = response["NextContinuationToken"]

    def newest_upload_time(self, prefix: str) -> float | None:
        """When the newest object under `prefix` was written (epoch seconds), None if none."""
        newest = None
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            response = self._call("list_objects_v2", **params)
            for entry in response.get("Contents", []):
                written = entry["LastModified"].timestamp()
                newest = written if newest is None else max(newest, written)
            if not response.get("IsTruncated"):
                return newest
            params["ContinuationToken"] = response["NextContinuationToken"]

    def head(self, key: str) -> StoredObject | None:
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error_code(error) in _MISSING:
                return None
            raise ServiceUnavailable(f"S3 head_object failed: {error_code(error)}") from error
        return StoredObject(
            key=key,
            etag=str(response.get("ETag", "")).strip('"'),
            version_id=response.get("VersionId") if response.get("VersionId") not in (None, "null") else None,
            size=int(response.get("ContentLength", 0)),
            uploaded_at=response.get("LastModified"),
        )

    def oldest_upload(self, key: str) -> StoredObject | None:
        """The key's oldest upload still in the bucket (in an unversioned bucket: the object).

        Uploads of one name are applied in the order they came, so that a re-upload (a
        partner's correction) applies after the upload it corrects; the importer deletes each
        version it applied. Versions older than the key's last delete marker were withdrawn
        and are passed over (S3 lists times to the second: a version of the same second stays).
        """
        versions: list[dict[str, Any]] = []  # newest first, as S3 lists them
        deleted_at = None
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": key}
        while True:
            response = self._call("list_object_versions", **params)
            versions += [v for v in response.get("Versions", []) if v["Key"] == key]
            for marker in response.get("DeleteMarkers", []):
                if marker["Key"] == key and (deleted_at is None or marker["LastModified"] > deleted_at):
                    deleted_at = marker["LastModified"]
            if not response.get("IsTruncated"):
                break
            params.update(
                KeyMarker=response["NextKeyMarker"], VersionIdMarker=response["NextVersionIdMarker"]
            )
        live = [v for v in versions if deleted_at is None or v["LastModified"] >= deleted_at]
        if not live:
            return None
        oldest = live[-1]
        version_id = oldest.get("VersionId")
        return StoredObject(
            key=key,
            etag=str(oldest.get("ETag", "")).strip('"'),
            version_id=version_id if version_id not in (None, "null") else None,
            size=int(oldest.get("Size", 0)),
            uploaded_at=oldest.get("LastModified"),
        )

    def chunks(self, stored: StoredObject, offset: int = 0) -> Iterator[bytes]:
        """The object's bytes from `offset`, streamed (never the whole file in memory)."""
        if offset >= stored.size:
            return
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": stored.key, "Range": f"bytes={offset}-"}
        if stored.version_id:
            params["VersionId"] = stored.version_id
        else:
            params["IfMatch"] = f'"{stored.etag}"'
        response = self._call("get_object", **params)
        body = response["Body"]
        try:
            yield from body.iter_chunks(READ_CHUNK)
        finally:
            body.close()

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        self._call("put_object", Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def put_json(self, key: str, value: Any) -> None:
        self.put_bytes(key, json.dumps(value, indent=2, default=str).encode(), "application/json")

    def put_stream(self, key: str, stream: IO[bytes], content_type: str) -> None:
        self._call("put_object", Bucket=self.bucket, Key=key, Body=stream, ContentType=content_type)

    def move(self, stored: StoredObject, destination: str) -> None:
        """Copy the upload to `destination`, then delete exactly that upload (a newer one stays)."""
        source: dict[str, str] = {"Bucket": self.bucket, "Key": stored.key}
        if stored.version_id:
            source["VersionId"] = stored.version_id
        try:
            self._client.copy_object(Bucket=self.bucket, Key=destination, CopySource=source)
        except ClientError as error:
            if error_code(error) in _MISSING:
                return  # moved already by an earlier delivery
            raise ServiceUnavailable(f"S3 copy_object failed: {error_code(error)}") from error
        if stored.version_id:
            self._call("delete_object", Bucket=self.bucket, Key=stored.key, VersionId=stored.version_id)
            return
        current = self.head(stored.key)
        if current is not None and current.etag == stored.etag:
            self._call("delete_object", Bucket=self.bucket, Key=stored.key)

    def presigned_put(self, key: str, size: int, expires_s: int) -> str:
        """A URL that PUTs exactly `size` bytes to `key` until it expires.

        Content-Length is one of the signed headers: S3 refuses a body of another length
        (SignatureDoesNotMatch), which caps the size as a presigned POST's content-length-range
        would, while the partner keeps a plain `curl -T file URL`."""
        return str(
            self._presigner.generate_presigned_url(
                "put_object",
                Params={"Bucket": self.bucket, "Key": key, "ContentLength": size},
                ExpiresIn=expires_s,
            )
        )

    def presigned_get(self, key: str, expires_s: int) -> str:
        return str(
            self._presigner.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
            )
        )

    def _call(self, operation: str, **params: Any) -> Any:
        try:
            return getattr(self._client, operation)(**params)
        except ClientError as error:
            raise ServiceUnavailable(f"S3 {operation} failed: {error_code(error)}") from error


class MessageQueue:
    def __init__(self, client: Any, url: str):
        self._client = client
        self._url = url

    def send(self, body: dict[str, Any], delay_s: int = 0) -> None:
        try:
            self._client.send_message(QueueUrl=self._url, MessageBody=json.dumps(body), DelaySeconds=delay_s)
        except ClientError as error:
            raise ServiceUnavailable(f"SQS send_message failed: {error_code(error)}") from error

    def send_all(self, bodies: list[dict[str, Any]]) -> None:
        """Send every body, 10 per request, retrying the entries SQS reports as failed."""
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(n), "MessageBody": json.dumps(body)}
                for n, body in enumerate(bodies[start : start + 10])
            ]
            for _ in range(5):
                try:
                    response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
                except ClientError as error:
                    raise ServiceUnavailable(f"SQS send_message_batch failed: {error_code(error)}") from error
                failed = {entry["Id"] for entry in response.get("Failed", [])}
                entries = [entry for entry in entries if entry["Id"] in failed]
                if not entries:
                    break
            else:
                raise ServiceUnavailable("SQS refused some messages five times")
