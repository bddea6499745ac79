"""What the console's browser tests look at, made through the API of a fresh local stack: a
tiered program, a member who earned, burned and was upgraded by the scheduled run, a gift card
from a small batch, and two partner files imported (uploaded as a partner does)."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from local_stack.stack import LocalStack

GROUP = "demo"
PROGRAM_ID = "console-club"
PROGRAM_NAME = "Console Club"
CARD = "CONSOLE-0001"
TIMEOUT_S = 30


@dataclass(frozen=True)
class Seeded:
    api_url: str
    admin_key: str
    shop_key: str
    program_id: str
    program_name: str
    card: str
    gift_card: str
    coupon: str
    import_files: tuple[str, ...]  # oldest first, each imported once (state completed)


class Api:
    def __init__(self, api_url: str, key: str):
        self.base = api_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def __call__(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        response = self.session.request(method, self.base + path, timeout=TIMEOUT_S, **kwargs)
        assert response.status_code == expect, (
            f"{method} {path}: {response.status_code} {response.text[:300]}"
        )
        return response.json()


def vip_program_body(name: str, vip_tiers: list[dict[str, Any]]) -> dict[str, Any]:
    """A tiered program (one tier, Blue, from 0) started ten days ago, with these VIP tiers: what
    the member page's VIP and reward tests act on."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return {
        "name": name,
        "kind": "tiered",
        "currency": "EUR",
        "starts_at": (now - timedelta(days=10)).isoformat(),
        "card_codes": {"generation": "manual"},
        "nq_points": {"conversion_rate": "1", "rounding": "down", "validity": {"value": 1, "unit": "year"}},
        "q_points": {"conversion_rate": "1", "validity": {"value": 1, "unit": "year"}},
        "tier_settings": {
            "max_tier_downgrade": 1,
            "upgrade": {"first_run_at": (now + timedelta(days=1)).isoformat(), "periodicity": "daily"},
            "downgrade": {"mode": "relative", "every": {"value": 1, "unit": "year"}},
            "tiers": [{"rank": 1, "name": "Blue", "entry_threshold": 0, "downgrade_threshold": 0}],
        },
        "vip_tiers": vip_tiers,
    }


def import_listed(
    import_id: str, received_at: str, state: str = "completed", report: bool = False
) -> dict[str, Any]:
    """A masterreward import as `GET /v1/imports` lists it (for a page's routed answers); a
    finished one with a report if `report`."""
    return {
        "import_id": import_id,
        "file_name": f"demo_masterreward_club_{import_id.lower()}.csv",
        "key": f"incoming/demo/{import_id}.csv",
        "state": state,
        "scope": "masterreward",
        "subsection": "club",
        "received_at": received_at,
        "started_at": received_at,
        "finished_at": None if state == "running" else received_at,
        "progress": {"lines_read": 1, "lines_total": 2, "applied": 1, "skipped": 0, "unchanged": 0},
        "rejection": None,
        "duplicate_of": None,
        "report": {"summary": "reports/x.json"} if report and state != "running" else None,
    }


def member_with_customer(seeded: Seeded, card: str, customer: str, first_name: str) -> Api:
    """A new member of the seeded program linked to a new customer, who is linked to the seed's
    coupon too (the member view lists the customer's instruments)."""
    api = Api(seeded.api_url, seeded.admin_key)
    api("POST", f"/v1/programs/{seeded.program_id}/members", 201, json={"card_code": card})
    put = api.session.put(api.base + f"/v1/customers/{customer}", json={"first_name": first_name}, timeout=30)
    assert put.status_code in (200, 201), put.text
    api("PUT", f"/v1/members/{card}/customer", 200, json={"customer_id": customer})
    api("PUT", f"/v1/instruments/{seeded.coupon}/customer", 200, json={"customer_id": customer})
    return api


def seed(stack: LocalStack) -> Seeded:
    keys = stack.keys[GROUP]
    api = Api(stack.api_url, keys["admin"])
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    upgrade = now + timedelta(minutes=1)
    api(
        "PUT",
        f"/v1/programs/{PROGRAM_ID}",
        201,
        json={
            "name": PROGRAM_NAME,
            "kind": "tiered",
            "currency": "EUR",
            "starts_at": (now - timedelta(days=10)).isoformat(),
            "card_codes": {"generation": "manual"},
            "nq_points": {
                "conversion_rate": "1",
                "rounding": "down",
                "validity": {"value": 1, "unit": "year"},
            },
            "q_points": {"conversion_rate": "1", "validity": {"value": 1, "unit": "year"}},
            "tier_settings": {
                "max_tier_downgrade": 1,
                "upgrade": {"first_run_at": upgrade.isoformat(), "periodicity": "daily"},
                "downgrade": {"mode": "relative", "every": {"value": 1, "unit": "year"}},
                "tiers": [
                    {"rank": 1, "name": "Blue", "entry_threshold": 0, "downgrade_threshold": 0},
                    {"rank": 2, "name": "Silver", "entry_threshold": 500, "downgrade_threshold": 400},
                    {"rank": 3, "name": "Gold", "entry_threshold": 2000, "downgrade_threshold": 1500},
                ],
            },
        },
    )
    api("POST", f"/v1/programs/{PROGRAM_ID}/members", 201, json={"card_code": CARD})
    for order_id, amount, days_ago in (("console-1", "600.00", 3), ("console-2", "150.00", 1)):
        ordered_at = (now - timedelta(days=days_ago)).isoformat()
        order = {"order_id": order_id, "amount": amount, "currency": "EUR", "ordered_at": ordered_at}
        api("POST", f"/v1/members/{CARD}/orders", 201, json=order)
    api("POST", f"/v1/members/{CARD}/burns", 201, json={"burn_id": "console-burn-1", "points": 100})
    # The daily upgrade run, fired on the stack's virtual clock: Blue -> Silver (750 Q points).
    stack.advance_clock(upgrade + timedelta(seconds=30))
    # The nightly reconciliation (03:00 GMT+1), its latest occurrence as its schedule starts it:
    # it counts the members per tier.
    last = now.replace(hour=2, minute=0)
    at = (last if last <= now else last - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = {"group": GROUP, "program_id": PROGRAM_ID, "job": "reconcile", "scheduled_at": at}
    stack.invoke("JobStarter", run)
    stack.wait_for_queues()
    gift_card, coupon = _instruments(stack, api)
    import_files = _imports(stack, api, now)
    return Seeded(
        api_url=stack.api_url,
        admin_key=keys["admin"],
        shop_key=keys["shop"],
        program_id=PROGRAM_ID,
        program_name=PROGRAM_NAME,
        card=CARD,
        gift_card=gift_card,
        coupon=coupon,
        import_files=import_files,
    )


def _imports(stack: LocalStack, api: Api, now: datetime) -> tuple[str, ...]:
    """Two reward catalogs of the days before (partner files name their day in GMT+1), uploaded
    through the presigned flow and imported by the stack."""
    names: list[str] = []
    received: datetime | None = None  # the import before's
    for days_ago in (3, 2):
        if received is not None:  # received times are whole seconds; one second's list by id
            _next_second(received)
        day = (now.astimezone(timezone(timedelta(hours=1))) - timedelta(days=days_ago)).strftime("%Y%m%d")
        name = f"{GROUP}_masterreward_{PROGRAM_ID}_{day}.csv"
        content = (
            "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;"
            "validity_interval_type;forced_validity;is_limited;max_attribution_count\n"
            f"seed-gift-{days_ago};Seed gift {days_ago};0;10;0;1;month;0;1;100\n"
        ).encode()
        ticket = api("POST", "/v1/imports/uploads", 200, json={"file_name": name, "size": len(content)})
        headers = {k: v for k, v in (ticket.get("headers") or {}).items() if k.lower() != "host"}
        put = requests.put(ticket["url"], data=content, headers=headers, timeout=TIMEOUT_S)
        assert put.status_code == 200, put.text
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            stack.wait_for_queues()
            jobs = api("GET", "/v1/imports", 200, params={"file": name})["imports"]
            if jobs and jobs[0]["state"] == "completed":
                received = datetime.fromisoformat(jobs[0]["received_at"])
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the seed's import of {name} did not complete")
        names.append(name)
    return tuple(names)


def _next_second(received: datetime) -> None:
    """Wait until the stack's clock (this machine's) is past `received`'s second, so that the next
    import is received later and lists before it."""
    while datetime.now(UTC) < received + timedelta(seconds=1):
        time.sleep(0.05)


def _instruments(stack: LocalStack, api: Api) -> tuple[str, str]:
    """A gift card and a coupon, each from a batch of one (issued during the call)."""
    api("PUT", "/v1/merchant-groups/console-stores", 201, json={"name": "Console stores"})
    series = {
        "console-gift": {
            "name": "Console gift card",
            "kind": "gift_card",
            "prefix": "6391",
            "length": 16,
            "currency": "EUR",
            "min_value": "5.00",
            "max_value": "500.00",
            "validity": {"value": 3, "unit": "years"},
        },
        "console-coupon": {
            "name": "Console 10 % off",
            "kind": "coupon",
            "prefix": "6393",
            "length": 12,
            "discount": {"percent": "10"},
            "validity": {"value": 30, "unit": "days"},
        },
    }
    numbers = []
    for series_id, body in series.items():
        body = {**body, "issuer_group": "console-stores", "acceptor_group": "console-stores"}
        api("PUT", f"/v1/series/{series_id}", 201, json=body)
        batch = api(
            "POST", f"/v1/series/{series_id}/batches", 201, json={"batch_id": f"{series_id}-1", "count": 1}
        )
        bucket, _, key = str(batch["export"]).removeprefix("s3://").partition("/")
        export = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        (row,) = csv.DictReader(io.StringIO(export))
        numbers.append(row["number"])
    return numbers[0], numbers[1]
