"""Which upload of an import file's name the importer takes next (ObjectStore.oldest_upload).

S3's listing is the input here (botocore's Stubber answers for S3); the choice is the code's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from loyalty_engine.kernel.objects import ObjectStore

KEY = "incoming/demo/demo_masterreward_silver_20180801.csv"


def at(second: int) -> datetime:
    return datetime(2026, 12, 3, 9, 0, second, tzinfo=UTC)


def version(version_id: str, second: int, size: int = 10, key: str = KEY) -> dict[str, Any]:
    return {
        "Key": key,
        "VersionId": version_id,
        "ETag": f'"etag-{version_id}"',
        "Size": size,
        "LastModified": at(second),
    }


def marker(second: int) -> dict[str, Any]:
    return {"Key": KEY, "VersionId": f"marker-{second}", "IsLatest": False, "LastModified": at(second)}


def oldest(*pages: dict[str, Any]) -> Any:
    client = botocore.session.get_session().create_client(
        "s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        params: dict[str, Any] = {"Bucket": "imports", "Prefix": KEY}
        for page in pages:
            stub.add_response("list_object_versions", page, dict(params))
            if page.get("IsTruncated"):
                params = params | {
                    "KeyMarker": page["NextKeyMarker"],
                    "VersionIdMarker": page["NextVersionIdMarker"],
                }
        found = ObjectStore(client, "imports").oldest_upload(KEY)
        stub.assert_no_pending_responses()
    return found


def test_the_first_upload_of_a_name_goes_first():
    found = oldest({"Versions": [version("v3", 30), version("v2", 20, size=7), version("v1", 10, size=5)]})
    assert (found.version_id, found.etag, found.size, found.version) == ("v1", "etag-v1", 5, "v1")


def test_other_keys_under_the_same_prefix_are_not_uploads_of_the_name():
    found = oldest({"Versions": [version("v2", 20), version("x1", 5, key=KEY + ".bak")]})
    assert found.version_id == "v2"


def test_uploads_withdrawn_by_a_delete_are_passed_over_but_not_one_of_the_same_second():
    listing = {
        "Versions": [version("v3", 30), version("v2", 20), version("v1", 10)],
        "DeleteMarkers": [marker(15)],
    }
    assert oldest(listing).version_id == "v2"
    same_second = {
        "Versions": [version("v2", 20), version("v1", 10)],
        "DeleteMarkers": [marker(20), marker(5)],
    }
    assert oldest(same_second).version_id == "v2"  # never a silent drop of the re-upload
    assert oldest({"Versions": [version("v1", 10)], "DeleteMarkers": [marker(12)]}) is None


def test_an_unversioned_bucket_gives_the_object_itself():
    found = oldest({"Versions": [version("null", 10)]})
    assert (found.version_id, found.version) == (None, "etag-null")


def test_the_listing_is_read_to_its_last_page():
    first = {
        "Versions": [version("v3", 30), version("v2", 20)],
        "IsTruncated": True,
        "NextKeyMarker": KEY,
        "NextVersionIdMarker": "v2",
    }
    assert oldest(first, {"Versions": [version("v1", 10)]}).version_id == "v1"


@pytest.mark.parametrize("listing", [{}, {"Versions": [version("v1", 1, key=KEY + "x")]}])
def test_a_name_with_no_upload_left_gives_none(listing):
    assert oldest(listing) is None
