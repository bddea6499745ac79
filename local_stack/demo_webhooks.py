"""The webhooks demo: a small receiver on 127.0.0.1 (it checks every signature with the secret
the subscription's creation showed once), subscribed through the API; an enrolment, an earn and
a burn through the API then arrive there as signed events (the table's stream -> the publisher
-> the local bus -> its rule -> WebhookDispatcher -> WebhookDelivery -> the receiver), and the
delivery log is read back through the API."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, TextIO

from local_stack.demo_client import DemoClient, ScenarioResult, Step, field, table
from loyalty_engine.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, SignatureError, verify

if TYPE_CHECKING:
    from local_stack.stack import LocalStack

WAIT_S = 120.0  # the stream holds what the scenarios before wrote, delivered first


class DemoReceiver:
    """A receiver as a partner would write one: verify the raw body's signature, then accept."""

    def __init__(self) -> None:
        self.secret = ""
        self.arrived: list[tuple[str, str, bool]] = []  # (kind, event id, signature verified)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    verify(
                        self.headers.get(SIGNATURE_HEADER, ""), body, receiver.secret, now=int(time.time())
                    )
                    verified = True
                except SignatureError:
                    verified = False
                kind = str(json.loads(body).get("kind", "?")) if verified else "?"
                receiver.arrived.append((kind, self.headers.get(EVENT_ID_HEADER, ""), verified))
                self.send_response(200 if verified else 400)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if verified else b"no")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/loyalty-hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> DemoReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_webhooks_scenario(
    stack: LocalStack, *, out: TextIO | None = None, suffix: str = ""
) -> ScenarioResult:
    import sys

    out = out or sys.stdout
    c = DemoClient(stack.api_url, stack.keys, out)
    card = f"HOOK-0001{suffix}".upper()
    out.write("\nWebhooks: signed events to a receiver outside AWS (docs/webhooks.md)\n")
    with DemoReceiver() as receiver:
        out.write(f"  a receiver listens on {receiver.url}\n")
        hook = c.call(
            "subscribe the receiver to enrolments, earns and burns (the secret is shown once)",
            "POST",
            "/v1/webhooks",
            body={"url": receiver.url, "kinds": ["member.enrolled", "points.earned", "points.burned"]},
            headers={"Idempotency-Key": f"demo-hook{suffix}"},
            expect=201,
            checks=(field("status", "active"),),
        )
        receiver.secret = str((hook or {}).get("secret") or "")
        program = {
            "name": f"Hooked{suffix}",
            "currency": "EUR",
            "starts_at": "2025-01-01T00:00:00+01:00",
            "nq_points": {
                "conversion_rate": "10",
                "rounding": "down",
                "validity": {"value": 1, "unit": "year"},
            },
        }
        c.call("a program", "PUT", f"/v1/programs/hooked{suffix}", body=program, expect=201)
        c.call(
            "enrol a member",
            "POST",
            f"/v1/programs/hooked{suffix}/members",
            body={"card_code": card},
            expect=201,
        )
        order = {
            "order_id": f"H-1{suffix}",
            "amount": "42.00",
            "currency": "EUR",
            "ordered_at": "2026-12-01T10:00:00+01:00",
        }
        c.call("earn 420 points", "POST", f"/v1/members/{card}/orders", body=order, expect=201)
        burn = {"burn_id": f"HB-1{suffix}", "points": 100}
        c.call("burn 100 points", "POST", f"/v1/members/{card}/burns", body=burn, expect=201)
        deadline = time.monotonic() + WAIT_S
        while len(receiver.arrived) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)  # the stack's threads deliver the stream and the queues
        out.write("\n  what the receiver got\n")
        table(
            out,
            ["event kind", "Loyalty-Event-Id", "signature"],
            [[kind, event_id, "verified" if ok else "WRONG"] for kind, event_id, ok in receiver.arrived],
        )
        kinds = sorted(kind for kind, _, ok in receiver.arrived if ok)
        expected = ["member.enrolled", "points.burned", "points.earned"]
        problem = None if kinds == expected else f"received {kinds}, expected {expected}"
        c.result.steps.append(
            Step("3 signed events verified by the receiver", "POST", receiver.url, 200, 200, problem)
        )
    if hook:
        log = c.call(
            "the delivery log",
            "GET",
            f"/v1/webhooks/{hook['subscription_id']}/deliveries",
            expect=200,
        )
        rows = [
            [a["kind"], str(a["attempt"]), str(a["status_code"]), f"{a['latency_ms']} ms", a["excerpt"]]
            for a in (log or {}).get("deliveries", [])
        ]
        table(out, ["event kind", "attempt", "status", "latency", "answer"], rows, {1, 2, 3})
        c.call(
            "unsubscribe (the receiver stops with the scenario)",
            "DELETE",
            f"/v1/webhooks/{hook['subscription_id']}",
            expect=200,
        )
    return c.finish()
