"""A partner's presigned upload end to end on the local stack: the API signs a PUT (with the AWS
SDK), the file goes over HTTP to moto's S3, the notification reaches the importer through SQS,
and the reports come back through presigned GETs; the same bytes again (a new version: the
local bucket is versioned, as deployed) end `duplicate` with their own report.

What moto does not check: the signature of a presigned URL (so neither the signed
Content-Length nor the expiry). The test asserts what moto does with a body of another length
(it stores it), and that the URL signs Content-Length, which real S3 enforces (a body of another
length answers 403 SignatureDoesNotMatch there); docs/decisions.md says so."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from local_stack.stack import LocalStack

TIMEOUT = 30
GROUP = "demo"
PROGRAM = "club"
NAME = f"{GROUP}_masterreward_{PROGRAM}_20270115.csv"
CATALOG = (
    b"external_id;name;monetary;nqp_value;holding_days;validity_interval_count;validity_interval_type;"
    b"forced_validity;is_limited;max_attribution_count;is_auto_generated\n"
    b"coffee;Coffee;0;10;0;1;month;0;1;100;0\n"
    b"tea;Tea;0;;0;1;month;0;1;100;0\n"  # no nqp_value: skipped
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state_file: Path = tmp_path_factory.mktemp("local") / "stack.json"
    with LocalStack.start(state_file=state_file) as running:
        yield running


def _call(stack: LocalStack, method: str, path: str, role: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {stack.keys[GROUP][role]}"}
    return requests.request(method, stack.api_url + path, headers=headers, timeout=TIMEOUT, **kwargs)


def _ticket(stack: LocalStack, size: int) -> dict[str, Any]:
    reply = _call(stack, "POST", "/v1/imports/uploads", "partner", json={"file_name": NAME, "size": size})
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def _imports(stack: LocalStack) -> list[dict[str, Any]]:
    reply = _call(stack, "GET", "/v1/imports", "partner", params={"file": NAME})
    assert reply.status_code == 200, reply.text
    return list(reply.json()["imports"])


def _until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_partner_uploads_through_a_presigned_put_and_reads_its_reports(stack):
    program = {
        "name": "Club",
        "currency": "EUR",
        "starts_at": "2025-01-01T00:00:00+01:00",
        "card_codes": {"generation": "manual"},
        "nq_points": {"conversion_rate": "1", "rounding": "down"},
    }
    created = _call(stack, "PUT", f"/v1/programs/{PROGRAM}", "admin", json=program)
    assert created.status_code == 201, created.text

    ticket = _ticket(stack, len(CATALOG))
    assert ticket["key"] == f"incoming/{GROUP}/{NAME}"
    assert ticket["headers"] == {"Content-Length": str(len(CATALOG))}
    url = urlsplit(ticket["url"])
    query = parse_qs(url.query)
    assert url.path.endswith(f"/incoming/{GROUP}/{NAME}")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "content-length" in query["X-Amz-SignedHeaders"][0].split(";"), "S3 refuses another length"
    assert int(query["X-Amz-Expires"][0]) <= 600

    # The wrong length: S3 answers 403 SignatureDoesNotMatch; moto does not check signatures and
    # stores the body. Sent to another name's URL here, so the real upload below stays alone.
    wrong = _call(
        stack,
        "POST",
        "/v1/imports/uploads",
        "partner",
        json={"file_name": NAME.replace("20270115", "20270116"), "size": 5},
    ).json()
    moto_answer = requests.put(wrong["url"], data=b"0123456789", timeout=TIMEOUT)
    assert moto_answer.status_code == 200, "moto does not enforce the signed Content-Length"

    put = requests.put(ticket["url"], data=CATALOG, headers=ticket["headers"], timeout=TIMEOUT)
    assert put.status_code == 200, put.text

    job = _until(
        lambda: next((j for j in _imports(stack) if j["state"] in ("completed", "rejected")), None),
        "the import to end",
    )
    assert (job["state"], job["progress"]["applied"], job["progress"]["skipped"]) == ("completed", 1, 1)
    reward = _call(stack, "GET", "/v1/rewards/coffee", "admin")
    assert reward.status_code == 200, reward.text

    links = _call(stack, "GET", f"/v1/imports/{job['import_id']}/report", "partner")
    assert links.status_code == 200, links.text
    summary = requests.get(links.json()["summary_url"], timeout=TIMEOUT)
    assert summary.status_code == 200
    assert (summary.json()["import_id"], summary.json()["applied"]) == (job["import_id"], 1)
    skipped = requests.get(links.json()["skipped_url"], timeout=TIMEOUT)
    assert skipped.status_code == 200
    assert skipped.text.splitlines()[1].startswith("3;")  # line 3 (tea) skipped

    # The same bytes once more, through a new ticket: a new version of the name (the local
    # bucket is versioned, as deployed), a duplicate that applies nothing, with its own report.
    again = _ticket(stack, len(CATALOG))
    assert requests.put(again["url"], data=CATALOG, headers=again["headers"], timeout=TIMEOUT).ok
    duplicate = _until(
        lambda: next((j for j in _imports(stack) if j["state"] == "duplicate"), None),
        "the second upload to end as a duplicate",
    )
    assert duplicate["duplicate_of"] == job["import_id"]
    assert duplicate["progress"]["applied"] == 0
    assert {j["import_id"] for j in _imports(stack)} == {job["import_id"], duplicate["import_id"]}
    links = _call(stack, "GET", f"/v1/imports/{duplicate['import_id']}/report", "partner").json()
    assert requests.get(links["summary_url"], timeout=TIMEOUT).json()["duplicate_of"] == job["import_id"]
    first = _call(stack, "GET", f"/v1/imports/{job['import_id']}/report", "partner").json()
    assert requests.get(first["summary_url"], timeout=TIMEOUT).json()["state"] == "completed"
