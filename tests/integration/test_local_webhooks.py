"""The local stack runs the same webhook code: an enrolment and an earn through the local
gateway -> the stream -> the publisher -> the local bus -> its rule -> the dispatcher -> the
delivery worker -> a receiver on 127.0.0.1 that verifies each signature."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests

from local_stack.stack import LocalStack
from loyalty_engine.webhooks import signing
from tests.support.local import earn, program_with_member
from tests.support.webhooks import receiver

TIMEOUT = 30


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack.start() as running:
        yield running


def test_events_of_the_local_stack_reach_a_subscribed_receiver_signed(stack: LocalStack) -> None:
    headers = {"Authorization": f"Bearer {stack.keys['demo']['admin']}"}
    with receiver() as server:
        reply = requests.post(
            f"{stack.api_url}/v1/webhooks",
            json={"url": server.url, "kinds": ["member.enrolled", "points.earned"]},
            headers={**headers, "Idempotency-Key": "local-hook"},
            timeout=TIMEOUT,
        )
        assert reply.status_code == 201, reply.text
        hook = reply.json()
        base = stack.api_url
        program_with_member(stack, "hooks", "LOCAL-HOOK-1")
        earn(stack, "LOCAL-HOOK-1", "o-1", "25.00", "2026-12-01T10:00:00+01:00")
        deadline = time.monotonic() + TIMEOUT
        while len(server.received) < 2 and time.monotonic() < deadline:
            stack.wait_for_events()
            stack.wait_for_queues()
            time.sleep(0.1)
        kinds = []
        for got in server.received:
            signing.verify(got.headers["Loyalty-Signature"], got.body, hook["secret"], now=int(time.time()))
            detail = json.loads(got.body)
            assert detail["group"] == "demo" and detail["card_code"] == "LOCAL-HOOK-1"
            assert got.headers["Loyalty-Event-Id"] == detail["event_id"]
            kinds.append(detail["kind"])
        assert sorted(kinds) == ["member.enrolled", "points.earned"]
    log = requests.get(
        f"{base}/v1/webhooks/{hook['subscription_id']}/deliveries", headers=headers, timeout=TIMEOUT
    ).json()
    assert sorted(a["kind"] for a in log["deliveries"]) == ["member.enrolled", "points.earned"]
    assert all(a["succeeded"] and a["status_code"] == 200 for a in log["deliveries"])
    deleted = requests.delete(
        f"{base}/v1/webhooks/{hook['subscription_id']}", headers=headers, timeout=TIMEOUT
    )
    assert deleted.status_code == 200  # its receiver is gone: nothing more is sent to it


def test_the_demo_scenario_shows_signed_events_arriving_verified(stack: LocalStack) -> None:
    import io

    from local_stack.demo_webhooks import run_webhooks_scenario

    out = io.StringIO()
    result = run_webhooks_scenario(stack, out=out, suffix="-t")
    assert result.ok, out.getvalue()
    text = out.getvalue()
    assert text.count("verified") == 3 and "WRONG" not in text
