"""The seeded data of the schemathesis tests (test_schemathesis.py): the ids the explicit examples
aim at, the bodies that seed them, the point-of-sale operations, and the OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT: dict[str, Any] = json.loads((ROOT / "docs" / "openapi.json").read_text())
TIMEOUT = 30

PROGRAM_ID = "st-program"
CARD_CODE = "ST-MEMBER-0001"
ORDER_ID = "st-order-1"
REWARD_ID = "st-reward"
MERCHANT_GROUP_ID = "st-stores"
MERCHANT_ID = "st-merchant"
TILL_ID = "st-till"  # the point-of-sale key's merchant (generated PUTs address MERCHANT_ID)
LATER = "set-by-the-seeded-fixture"  # explicit examples are built before the fixtures run
SERIES_ID = "st-gift"
CREDIT_SERIES_ID = "st-credit"
BATCH_ID = "st-batch"
CUSTOMER_GROUP_ID = "st-vip-customers"
CUSTOMER_ID = "st-customer"
REDEMPTION_ID = "st-pay-1"
SEEDED = {
    "program_id": PROGRAM_ID,
    "card_code": CARD_CODE,
    "order_id": ORDER_ID,
    "external_id": REWARD_ID,
    "attribution_id": LATER,
    "import_id": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "vip_tier": "st-vip",
    "merchant_group_id": MERCHANT_GROUP_ID,
    "merchant_id": MERCHANT_ID,
    "series_id": SERIES_ID,
    "batch_id": BATCH_ID,
    "number": LATER,  # a gift card of the seeded batch, sold
    "redemption_id": REDEMPTION_ID,
    "customer_group_id": CUSTOMER_GROUP_ID,
    "customer_id": CUSTOMER_ID,
    "payment_id": "st-points-pay-1",
    "key_id": LATER,  # a spare shop key of demo
    "subscription_id": LATER,  # a webhook of demo (disabled: schemathesis's events go nowhere)
    "event_id": "00000000-0000-5000-8000-000000000000",
    "run_id": "reconcile@2026-01-02T02:00:00Z",  # none ran: 404 run_not_found
}
# Seeded path values of one operation that differ from SEEDED's.
SEEDED_FOR: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/v1/series/{series_id}/store-credits"): {"series_id": CREDIT_SERIES_ID},
    # another card of the seeded batch, so that the sold one stays usable for the other routes
    ("POST", "/v1/instruments/{number}/cancellations"): {"number": LATER},
}
# The point-of-sale routes: called with a shop key bound to the seeded till.
POS_OPERATIONS = {
    ("POST", "/v1/series/{series_id}/store-credits"),
    ("POST", "/v1/instruments/{number}/activations"),
    ("POST", "/v1/instruments/{number}/redemptions"),
    ("POST", "/v1/instruments/{number}/redemptions/{redemption_id}/reversals"),
    ("GET", "/v1/instruments/{number}"),
    ("GET", "/v1/instruments/{number}/ledger"),
    ("POST", "/v1/members/{card_code}/payments"),
    ("POST", "/v1/members/{card_code}/payments/{payment_id}/reversals"),
}
REWARD = {
    "name": "Free coffee",
    "nqp_value": 0,
    "validity_interval_count": 1,
    "validity_interval_type": "month",
    "is_auto_generated": True,
}
PROGRAM = {
    "name": "Schemathesis program",
    "currency": "EUR",
    "starts_at": "2025-01-01T00:00:00+01:00",
    "nq_points": {"conversion_rate": "10", "rounding": "down", "validity": {"value": 1, "unit": "year"}},
    "vip_tiers": [{"name": "st-vip", "nq_multiplier": "2"}],
    "payment": {"rate": "10", "currency": "EUR", "acceptor_merchant_group": MERCHANT_GROUP_ID},
}
ORDER = {
    "order_id": ORDER_ID,
    "amount": "250.00",
    "currency": "EUR",
    "ordered_at": "2026-01-15T10:30:00+01:00",
    "store_id": "paris-04",
    "lines": [{"sku": "COF-250", "quantity": 2, "amount": "250.00"}],
}
SERIES = {
    "name": "Schemathesis gift cards",
    "kind": "gift_card",
    "prefix": "6012",
    "length": 9,  # 10,000 numbers
    "issuer_group": MERCHANT_GROUP_ID,
    "acceptor_group": MERCHANT_GROUP_ID,
    "currency": "EUR",
    "min_value": "5.00",
    "max_value": "500.00",
    "validity": {"value": 3, "unit": "years"},
}
CREDIT_SERIES = {
    **SERIES,
    "name": "Schemathesis store credit",
    "kind": "store_credit",
    "prefix": "6013",
    "min_value": None,
}
MERCHANT = {"name": "Schemathesis store", "store_id": "ST-001", "merchant_groups": [MERCHANT_GROUP_ID]}
CUSTOMER = {"first_name": "Ada", "email": "ada@example.com", "customer_groups": [CUSTOMER_GROUP_ID]}
# Request bodies known to be valid, per operation (explicit examples on the seeded ids).
EXAMPLE_BODIES: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("PUT", "/v1/programs/{program_id}"): [PROGRAM],
    ("POST", "/v1/programs/{program_id}/members"): [
        {"card_code": "ST-MEMBER-0002", "customer_ref": "crm-2"},
        {"customer_ref": "crm-3"},
    ],
    ("POST", "/v1/members/{card_code}/orders"): [
        ORDER,
        {**ORDER, "order_id": "st-order-2", "amount": "9.99"},
    ],
    ("POST", "/v1/members/{card_code}/orders/{order_id}/returns"): [
        {"return_id": "st-return-1", "amount": "1.00"},
    ],
    ("POST", "/v1/members/{card_code}/burns"): [{"burn_id": "st-burn-1", "points": 10}],
    ("POST", "/v1/members/{card_code}/adjustments"): [
        {"kind": "nq", "points": 5, "reason_code": "goodwill", "comment": "late delivery"},
        {"kind": "q", "points": -1, "reason_code": "correction"},
    ],
    ("POST", "/v1/members/{card_code}/payments"): [
        {"payment_id": "st-points-pay-1", "program_id": PROGRAM_ID, "amount": "1.00", "currency": "EUR"}
    ],
    ("POST", "/v1/members/{card_code}/payments/{payment_id}/reversals"): [
        {"reversal_id": "st-points-refund-1", "amount": "0.50"},
        {"reversal_id": "st-points-refund-2"},
    ],
    ("PUT", "/v1/rewards/{external_id}"): [REWARD],
    ("POST", "/v1/members/{card_code}/rewards"): [{"reward_id": REWARD_ID}],
    ("POST", "/v1/members/{card_code}/rewards/{attribution_id}/burns"): [{"quantity": 1}],
    ("PUT", "/v1/members/{card_code}/vip-tiers/{vip_tier}"): [{"reason": "store manager"}],
    ("PUT", "/v1/merchant-groups/{merchant_group_id}"): [{"name": "Stores", "description": "All of them"}],
    ("PUT", "/v1/merchants/{merchant_id}"): [MERCHANT],
    ("PUT", "/v1/series/{series_id}"): [SERIES, {**SERIES, "name": "Renamed", "max_value": "300.00"}],
    ("POST", "/v1/series/{series_id}/batches"): [{"batch_id": "st-batch-2", "count": 2}],
    ("POST", "/v1/series/{series_id}/store-credits"): [
        {"return_id": "st-return-1", "amount": "10.00", "currency": "EUR"},
        {"return_id": "st-return-2", "amount": "2.50", "currency": "EUR", "customer_id": CUSTOMER_ID},
    ],
    ("POST", "/v1/instruments/{number}/activations"): [{"activation_id": "st-sale-1", "value": "50.00"}],
    ("POST", "/v1/instruments/{number}/redemptions"): [
        {"redemption_id": "st-pay-2", "amount": "1.00", "currency": "EUR"}
    ],
    ("POST", "/v1/instruments/{number}/redemptions/{redemption_id}/reversals"): [
        {"reversal_id": "st-refund-1", "amount": "0.50"},
        {"reversal_id": "st-refund-2"},
    ],
    ("POST", "/v1/instruments/{number}/cancellations"): [
        {"cancellation_id": "st-cancel-1", "reason": "reported lost"}
    ],
    ("PUT", "/v1/customer-groups/{customer_group_id}"): [{"name": "VIP customers"}],
    ("PUT", "/v1/customers/{customer_id}"): [CUSTOMER],
    ("PUT", "/v1/members/{card_code}/customer"): [{"customer_id": CUSTOMER_ID}],
    ("POST", "/v1/api-keys"): [{"name": "st till", "scopes": ["shop"], "merchant_id": TILL_ID}],
    ("POST", "/v1/api-keys/{key_id}/rotations"): [{"grace_seconds": 60}],
    ("POST", "/v1/webhooks"): [{"url": "https://hooks.example.com/st", "kinds": ["*"], "enabled": False}],
    ("PUT", "/v1/webhooks/{subscription_id}"): [
        {"url": "https://hooks.example.com/st", "kinds": ["points.earned"], "enabled": False}
    ],
    ("POST", "/v1/webhooks/{subscription_id}/secret-rotations"): [{"grace_seconds": 60}],
}
