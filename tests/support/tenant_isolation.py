"""The routes, sample events and checks of the tenant isolation tests (test_tenant_isolation*.py)."""

from __future__ import annotations

from loyalty_engine.access.models import Caller
from loyalty_engine.handlers.openapi import document, routes
from loyalty_engine.wiring import INSTRUMENT_ROUTES
from tests.support.api import Reply
from tests.support.instrument_api import stored

ROUTES = routes(document())
INSTRUMENT = sorted((r.method, r.path) for r in INSTRUMENT_ROUTES)
POINTS = [route for route in ROUTES if route not in INSTRUMENT]
# demo-b's point-of-sale key, bound to a merchant named as demo's is
OTHER_POS = Caller(
    group_id="demo-b", key_id="01JD0000000000000000000004", scopes=("shop",), merchant_id="store-1"
)
EVENT_FOR = {
    ("PUT", "/v1/programs/{program_id}"): "api_put_program",
    ("GET", "/v1/programs/{program_id}"): "api_get_program",
    ("GET", "/v1/programs"): "api_list_programs",
    ("GET", "/v1/programs/{program_id}/tier-counts"): "api_get_tier_counts",
    ("GET", "/v1/programs/{program_id}/jobs"): "api_list_job_runs",
    ("GET", "/v1/programs/{program_id}/jobs/{run_id}"): "api_get_job_run",
    ("POST", "/v1/programs/{program_id}/members"): "api_enrol_member",
    ("GET", "/v1/members"): "api_search_members",
    ("GET", "/v1/members/{card_code}"): "api_get_member",
    ("POST", "/v1/members/{card_code}/orders"): "api_earn_order",
    ("POST", "/v1/members/{card_code}/orders/{order_id}/returns"): "api_return_order",
    ("POST", "/v1/members/{card_code}/burns"): "api_burn_points",
    ("POST", "/v1/backlogs"): "api_post_backlog",
    ("GET", "/v1/members/{card_code}/ledger"): "api_get_ledger",
    ("POST", "/v1/members/{card_code}/payments"): "api_pay_points",
    ("POST", "/v1/members/{card_code}/payments/{payment_id}/reversals"): "api_reverse_points_payment",
    ("GET", "/v1/rewards"): "api_list_rewards",
    ("GET", "/v1/rewards/{external_id}"): "api_get_reward",
    ("PUT", "/v1/rewards/{external_id}"): "api_put_reward",
    ("POST", "/v1/rewards/{external_id}/codes"): "api_load_reward_codes",
    ("GET", "/v1/rewards/{external_id}/codes"): "api_list_reward_codes",
    ("POST", "/v1/members/{card_code}/rewards"): "api_buy_reward",
    ("GET", "/v1/members/{card_code}/rewards"): "api_list_member_rewards",
    ("POST", "/v1/members/{card_code}/rewards/{attribution_id}/burns"): "api_burn_reward",
    ("GET", "/v1/imports"): "api_list_imports",
    ("GET", "/v1/imports/{import_id}"): "api_get_import",
    ("GET", "/v1/imports/{import_id}/report"): "api_get_import_report",
    ("POST", "/v1/imports/uploads"): "api_request_upload",
    ("PUT", "/v1/members/{card_code}/vip-tiers/{vip_tier}"): "api_grant_vip_tier",
    ("DELETE", "/v1/members/{card_code}/vip-tiers/{vip_tier}"): "api_remove_vip_tier",
    ("GET", "/v1/members/{card_code}/tier-history"): "api_get_tier_history",
    ("GET", "/v1/group/settings"): "api_get_group_settings",
    ("PUT", "/v1/group/settings"): "api_put_group_settings",
    ("POST", "/v1/api-keys"): "api_create_api_key",
    ("GET", "/v1/api-keys"): "api_list_api_keys",
    ("GET", "/v1/api-keys/{key_id}"): "api_get_api_key",
    ("POST", "/v1/api-keys/{key_id}/rotations"): "api_rotate_api_key",
    ("DELETE", "/v1/api-keys/{key_id}"): "api_revoke_api_key",
    ("GET", "/v1/audit"): "api_list_audit",
    ("POST", "/v1/members/{card_code}/adjustments"): "api_adjust_points",
    ("GET", "/v1/members/{card_code}/timeline"): "api_get_timeline",
    ("GET", "/v1/members/{card_code}/lots"): "api_get_member_lots",
    ("GET", "/v1/members/{card_code}/export"): "api_export_member",
    ("POST", "/v1/members/{card_code}/erasure"): "api_erase_member",
    ("GET", "/v1/customers/{customer_id}/export"): "api_export_customer",
    ("POST", "/v1/customers/{customer_id}/erasure"): "api_erase_customer",
    ("PUT", "/v1/merchant-groups/{merchant_group_id}"): "api_put_merchant_group",
    ("GET", "/v1/merchant-groups/{merchant_group_id}"): "api_get_merchant_group",
    ("GET", "/v1/merchant-groups"): "api_list_merchant_groups",
    ("PUT", "/v1/merchants/{merchant_id}"): "api_put_merchant",
    ("GET", "/v1/merchants/{merchant_id}"): "api_get_merchant",
    ("GET", "/v1/merchants"): "api_list_merchants",
    ("PUT", "/v1/series/{series_id}"): "api_put_series",
    ("GET", "/v1/series/{series_id}"): "api_get_series",
    ("GET", "/v1/series"): "api_list_series",
    ("POST", "/v1/series/{series_id}/batches"): "api_create_batch",
    ("GET", "/v1/series/{series_id}/batches"): "api_list_batches",
    ("GET", "/v1/series/{series_id}/batches/{batch_id}"): "api_get_batch",
    ("POST", "/v1/series/{series_id}/store-credits"): "api_issue_store_credit",
    ("POST", "/v1/instruments/{number}/activations"): "api_activate_gift_card",
    ("POST", "/v1/instruments/{number}/redemptions"): "api_redeem_instrument",
    ("POST", "/v1/instruments/{number}/redemptions/{redemption_id}/reversals"): "api_reverse_redemption",
    ("GET", "/v1/instruments/{number}"): "api_lookup_instrument",
    ("GET", "/v1/instruments/{number}/ledger"): "api_instrument_ledger",
    ("POST", "/v1/instruments/{number}/cancellations"): "api_cancel_instrument",
    ("PUT", "/v1/customer-groups/{customer_group_id}"): "api_put_customer_group",
    ("GET", "/v1/customer-groups/{customer_group_id}"): "api_get_customer_group",
    ("GET", "/v1/customer-groups"): "api_list_customer_groups",
    ("GET", "/v1/customer-groups/{customer_group_id}/customers"): "api_list_customer_group_customers",
    ("PUT", "/v1/customers/{customer_id}"): "api_put_customer",
    ("GET", "/v1/customers/{customer_id}"): "api_get_customer",
    ("GET", "/v1/customers"): "api_list_customers",
    ("PUT", "/v1/members/{card_code}/customer"): "api_link_card_customer",
    ("PUT", "/v1/instruments/{number}/customer"): "api_link_instrument_customer",
    ("DELETE", "/v1/instruments/{number}/customer"): "api_unlink_instrument_customer",
    ("POST", "/v1/webhooks"): "api_create_webhook",
    ("GET", "/v1/webhooks"): "api_list_webhooks",
    ("GET", "/v1/webhooks/{subscription_id}"): "api_get_webhook",
    ("PUT", "/v1/webhooks/{subscription_id}"): "api_replace_webhook",
    ("DELETE", "/v1/webhooks/{subscription_id}"): "api_delete_webhook",
    ("POST", "/v1/webhooks/{subscription_id}/secret-rotations"): "api_rotate_webhook_secret",
    ("GET", "/v1/webhooks/{subscription_id}/deliveries"): "api_list_webhook_deliveries",
    (
        "POST",
        "/v1/webhooks/{subscription_id}/deliveries/{event_id}/redeliveries",
    ): "api_redeliver_webhook_event",
}
NOT_FOUND = {
    "member_not_found",
    "program_not_found",
    "reward_not_found",
    "attribution_not_found",
    "import_not_found",
    "merchant_group_not_found",
    "merchant_not_found",
    "series_not_found",
    "batch_not_found",
    "unknown_series",
    "customer_group_not_found",
    "customer_not_found",
    "api_key_not_found",
    "webhook_not_found",
}
# Routes a shop key at a till calls (with a key bound to a merchant).
POS_EVENTS = {
    "api_issue_store_credit",
    "api_activate_gift_card",
    "api_redeem_instrument",
    "api_reverse_redemption",
    "api_lookup_instrument",
    "api_instrument_ledger",
    "api_pay_points",
    "api_reverse_points_payment",
}


def _demo_items(table) -> list[dict]:
    """Every item of the demo group, as stored."""
    return sorted(
        (i for i in stored(table, None) if i["pk"] == "G#demo" or i["pk"].startswith("G#demo#")),
        key=lambda i: (i["pk"], i["sk"]),
    )


def _not_found(reply: Reply) -> None:
    assert reply.status == 404, reply.body
    assert reply.body["code"] in NOT_FOUND, reply.body
