"""The API functions' routes: the part of the wiring list (`loyalty_engine.wiring`) that the API
functions themselves read at import, apart so that their cold start builds only these routes and
not every function, queue and bucket of the wiring list (which re-exports all of this)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str  # API Gateway path template, e.g. /v1/members/{card_code}
    scopes: tuple[str, ...] = ("admin", "shop")  # key scopes allowed to call the route


ADMIN = ("admin",)
# A partner key reaches its group's file uploads and import reports, and no other route.
PARTNER_IMPORTS = ("admin", "partner")
# Swagger UI of the OpenAPI document (handlers/routes_docs.py): served by the Api function, with
# no key, on the stages with `StageConfig.swagger_ui` (and the local stack); never in prod.
DOCS_PATH = "/v1/docs"
PUBLIC_ROUTES: tuple[tuple[str, str], ...] = (("GET", DOCS_PATH),)

API_ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("PUT", "/v1/programs/{program_id}", ADMIN),
    ApiRoute("GET", "/v1/programs/{program_id}"),
    ApiRoute("GET", "/v1/programs"),
    ApiRoute("GET", "/v1/programs/{program_id}/tier-counts", ADMIN),
    ApiRoute("GET", "/v1/programs/{program_id}/jobs", ADMIN),
    ApiRoute("GET", "/v1/programs/{program_id}/jobs/{run_id}", ADMIN),
    ApiRoute("POST", "/v1/programs/{program_id}/members"),
    ApiRoute("GET", "/v1/members", ADMIN),
    ApiRoute("GET", "/v1/members/{card_code}"),
    ApiRoute("POST", "/v1/members/{card_code}/orders"),
    ApiRoute("POST", "/v1/members/{card_code}/orders/{order_id}/returns"),
    ApiRoute("POST", "/v1/members/{card_code}/burns"),
    ApiRoute("GET", "/v1/members/{card_code}/ledger"),
    ApiRoute("POST", "/v1/members/{card_code}/payments"),
    ApiRoute("POST", "/v1/members/{card_code}/payments/{payment_id}/reversals"),
    ApiRoute("POST", "/v1/backlogs"),
    ApiRoute("GET", "/v1/rewards"),
    ApiRoute("GET", "/v1/rewards/{external_id}"),
    ApiRoute("PUT", "/v1/rewards/{external_id}", ADMIN),
    ApiRoute("POST", "/v1/rewards/{external_id}/codes", ADMIN),
    ApiRoute("GET", "/v1/rewards/{external_id}/codes", ADMIN),
    ApiRoute("POST", "/v1/members/{card_code}/rewards"),
    ApiRoute("GET", "/v1/members/{card_code}/rewards"),
    ApiRoute("POST", "/v1/members/{card_code}/rewards/{attribution_id}/burns"),
    ApiRoute("GET", "/v1/imports", PARTNER_IMPORTS),
    ApiRoute("GET", "/v1/imports/{import_id}", PARTNER_IMPORTS),
    ApiRoute("GET", "/v1/imports/{import_id}/report", PARTNER_IMPORTS),
    ApiRoute("POST", "/v1/imports/uploads", PARTNER_IMPORTS),
    ApiRoute("PUT", "/v1/members/{card_code}/vip-tiers/{vip_tier}", ADMIN),
    ApiRoute("DELETE", "/v1/members/{card_code}/vip-tiers/{vip_tier}", ADMIN),
    ApiRoute("GET", "/v1/members/{card_code}/tier-history"),
    ApiRoute("GET", "/v1/group/settings", ADMIN),
    ApiRoute("PUT", "/v1/group/settings", ADMIN),
    ApiRoute("POST", "/v1/api-keys", ADMIN),
    ApiRoute("GET", "/v1/api-keys", ADMIN),
    ApiRoute("GET", "/v1/api-keys/{key_id}", ADMIN),
    ApiRoute("POST", "/v1/api-keys/{key_id}/rotations", ADMIN),
    ApiRoute("DELETE", "/v1/api-keys/{key_id}", ADMIN),
    ApiRoute("GET", "/v1/audit", ADMIN),
    ApiRoute("POST", "/v1/members/{card_code}/adjustments", ADMIN),
    ApiRoute("GET", "/v1/members/{card_code}/timeline", ADMIN),
    ApiRoute("GET", "/v1/members/{card_code}/lots", ADMIN),
    ApiRoute("POST", "/v1/webhooks", ADMIN),
    ApiRoute("GET", "/v1/webhooks", ADMIN),
    ApiRoute("GET", "/v1/webhooks/{subscription_id}", ADMIN),
    ApiRoute("PUT", "/v1/webhooks/{subscription_id}", ADMIN),
    ApiRoute("DELETE", "/v1/webhooks/{subscription_id}", ADMIN),
    ApiRoute("POST", "/v1/webhooks/{subscription_id}/secret-rotations", ADMIN),
    ApiRoute("GET", "/v1/webhooks/{subscription_id}/deliveries", ADMIN),
    ApiRoute("POST", "/v1/webhooks/{subscription_id}/deliveries/{event_id}/redeliveries", ADMIN),
    ApiRoute("GET", "/v1/members/{card_code}/export", ADMIN),
    ApiRoute("POST", "/v1/members/{card_code}/erasure", ADMIN),
    ApiRoute("GET", "/v1/customers/{customer_id}/export", ADMIN),
    ApiRoute("POST", "/v1/customers/{customer_id}/erasure", ADMIN),
)

# Merchants, series, instruments and customers: a function of their own (see handlers/instrument_api).
# Point-of-sale routes (sell, issue store credit, redeem, reverse, look up) are open to shop keys;
# they act as the merchant the key is bound to.
INSTRUMENT_ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("PUT", "/v1/merchant-groups/{merchant_group_id}", ADMIN),
    ApiRoute("GET", "/v1/merchant-groups/{merchant_group_id}", ADMIN),
    ApiRoute("GET", "/v1/merchant-groups", ADMIN),
    ApiRoute("PUT", "/v1/merchants/{merchant_id}", ADMIN),
    ApiRoute("GET", "/v1/merchants/{merchant_id}", ADMIN),
    ApiRoute("GET", "/v1/merchants", ADMIN),
    ApiRoute("PUT", "/v1/series/{series_id}", ADMIN),
    ApiRoute("GET", "/v1/series/{series_id}"),
    ApiRoute("GET", "/v1/series"),
    ApiRoute("POST", "/v1/series/{series_id}/batches", ADMIN),
    ApiRoute("GET", "/v1/series/{series_id}/batches", ADMIN),
    ApiRoute("GET", "/v1/series/{series_id}/batches/{batch_id}", ADMIN),
    ApiRoute("POST", "/v1/series/{series_id}/store-credits"),
    ApiRoute("POST", "/v1/instruments/{number}/activations"),
    ApiRoute("POST", "/v1/instruments/{number}/redemptions"),
    ApiRoute("POST", "/v1/instruments/{number}/redemptions/{redemption_id}/reversals"),
    ApiRoute("GET", "/v1/instruments/{number}"),
    ApiRoute("GET", "/v1/instruments/{number}/ledger"),
    ApiRoute("POST", "/v1/instruments/{number}/cancellations", ADMIN),
    ApiRoute("PUT", "/v1/customer-groups/{customer_group_id}", ADMIN),
    ApiRoute("GET", "/v1/customer-groups/{customer_group_id}", ADMIN),
    ApiRoute("GET", "/v1/customer-groups", ADMIN),
    ApiRoute("GET", "/v1/customer-groups/{customer_group_id}/customers", ADMIN),
    ApiRoute("PUT", "/v1/customers/{customer_id}", ADMIN),
    ApiRoute("GET", "/v1/customers/{customer_id}", ADMIN),
    ApiRoute("GET", "/v1/customers", ADMIN),
    ApiRoute("PUT", "/v1/members/{card_code}/customer", ADMIN),
    ApiRoute("PUT", "/v1/instruments/{number}/customer", ADMIN),
    ApiRoute("DELETE", "/v1/instruments/{number}/customer", ADMIN),
)
