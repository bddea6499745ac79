"""REST API of merchants, series, instruments and customers (the Centara side).

A function of its own, so that the points API's cold start does not pay for these models.
Point-of-sale routes act as the merchant the API key is bound to, never one named in the request.
"""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, BeforeValidator, Field

from loyalty_engine import coldstart  # first: the engine's imports run without the GC
from loyalty_engine.customers import use_cases as customers
from loyalty_engine.customers.models import (
    CardLink,
    CustomerGroup,
    CustomerGroupSpec,
    CustomerSpec,
    CustomerView,
)
from loyalty_engine.handlers.rest import SERVICE, caller_of, json_response, responses, rest_app
from loyalty_engine.handlers.routes_customer_groups import add_customer_group_routes
from loyalty_engine.handlers.routes_instrument_lists import add_instrument_lists_routes
from loyalty_engine.instruments import instrument_use_cases as instruments
from loyalty_engine.instruments import merchant_use_cases as merchants
from loyalty_engine.instruments import series_use_cases as series
from loyalty_engine.instruments.batches import BatchRequest, BatchView
from loyalty_engine.instruments.context import instrument_services
from loyalty_engine.instruments.customer_links import CustomerLinkRequest, set_instrument_customer
from loyalty_engine.instruments.instrument import (
    NUMBER_PATTERN,
    ActivationRequest,
    CancellationRequest,
    InstrumentEntry,
    InstrumentView,
    MovementResult,
    RedemptionRequest,
    ReversalRequest,
    StoreCreditRequest,
)
from loyalty_engine.instruments.merchants import Merchant, MerchantGroup, MerchantGroupSpec, MerchantSpec
from loyalty_engine.instruments.series import SeriesSpec, SeriesView
from loyalty_engine.kernel.idempotency import NATURAL_KEY_PATTERN
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.settings import InstrumentSettings, load
from loyalty_engine.kernel.types import SLUG_PATTERN, plain_int
from loyalty_engine.points.cardcodes import CARD_CODE_PATTERN
from loyalty_engine.wiring_routes import INSTRUMENT_ROUTES

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=["botocore"])
metrics = Metrics(namespace="LoyaltyEngine", service=SERVICE)
app = rest_app(INSTRUMENT_ROUTES, logger)
add_customer_group_routes(app)
add_instrument_lists_routes(app)

Slug = Annotated[str, Path(pattern=SLUG_PATTERN)]
Number = Annotated[str, Path(pattern=NUMBER_PATTERN, description="The instrument's number (digits)")]
NaturalKey = Annotated[str, Path(pattern=NATURAL_KEY_PATTERN)]
CardCode = Annotated[str, Path(pattern=CARD_CODE_PATTERN)]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


class SeriesList(DeferredModel):
    series: list[SeriesView]


class InstrumentLedgerPage(DeferredModel):
    entries: list[InstrumentEntry] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


def _put(status: int, model: BaseModel) -> Response:
    return json_response(status, model.model_dump(mode="json"))


# Merchants and merchant groups (admin)
@app.put("/v1/merchant-groups/<merchant_group_id>", responses=responses(200, 201), tags=["merchants"])
def put_merchant_group(
    merchant_group_id: Slug, spec: Annotated[MerchantGroupSpec, Body()]
) -> Response[MerchantGroup]:
    return _put(*merchants.put_merchant_group(instrument_services(), caller_of(app), merchant_group_id, spec))


@app.get("/v1/merchant-groups/<merchant_group_id>", responses=responses(200), tags=["merchants"])
def get_merchant_group(merchant_group_id: Slug) -> MerchantGroup:
    return merchants.get_merchant_group(instrument_services(), caller_of(app), merchant_group_id)


@app.put("/v1/merchants/<merchant_id>", responses=responses(200, 201), tags=["merchants"])
def put_merchant(merchant_id: Slug, spec: Annotated[MerchantSpec, Body()]) -> Response[Merchant]:
    return _put(*merchants.put_merchant(instrument_services(), caller_of(app), merchant_id, spec))


@app.get("/v1/merchants/<merchant_id>", responses=responses(200), tags=["merchants"])
def get_merchant(merchant_id: Slug) -> Merchant:
    return merchants.get_merchant(instrument_services(), caller_of(app), merchant_id)


# Series and pre-issue batches (admin)
@app.put("/v1/series/<series_id>", responses=responses(200, 201), tags=["series"])
def put_series(series_id: Slug, spec: Annotated[SeriesSpec, Body()]) -> Response[SeriesView]:
    return _put(*series.put_series(instrument_services(), caller_of(app), series_id, spec))


@app.get("/v1/series/<series_id>", responses=responses(200), tags=["series"])
def get_series(series_id: Slug) -> SeriesView:
    return series.get_series(instrument_services(), caller_of(app), series_id)


@app.get("/v1/series", responses=responses(200), tags=["series"])
def list_series() -> SeriesList:
    return SeriesList(series=series.list_series(instrument_services(), caller_of(app)))


@app.post("/v1/series/<series_id>/batches", responses=responses(201, 202), tags=["series"])
def create_batch(series_id: Slug, request: Annotated[BatchRequest, Body()]) -> Response[BatchView]:
    """Pre-issue `count` gift cards or coupons. Up to the sync limit they are issued at once (201);
    larger batches run in the background (202): poll the batch for progress and its CSV export."""
    svc, config = instrument_services(), load(InstrumentSettings)
    caller = caller_of(app)
    batch, now = series.create_batch(svc, caller, series_id, request, config.sync_batch_limit)
    if batch.status == "pending":
        if now or svc.batch_queue is None:
            remaining = app.lambda_context.get_remaining_time_in_millis
            batch = (
                series.run_batch(
                    svc, caller.group_id, series_id, batch.batch_id, remaining, series.API_MARGIN_MS
                )
                or batch
            )
        if batch.status == "pending" and svc.batch_queue is not None:
            svc.batch_queue.send(series.batch_message(caller.group_id, batch))
    metrics.add_metric(name="InstrumentBatchesRequested", unit=MetricUnit.Count, value=1)
    view = BatchView.of(batch, config.export_bucket)
    return _put(202 if batch.status == "pending" else 201, view)


@app.get("/v1/series/<series_id>/batches/<batch_id>", responses=responses(200), tags=["series"])
def get_batch(series_id: Slug, batch_id: NaturalKey) -> BatchView:
    batch = series.get_batch(instrument_services(), caller_of(app), series_id, batch_id)
    return BatchView.of(batch, load(InstrumentSettings).export_bucket)


# Point of sale (keys bound to a merchant)
@app.post("/v1/instruments/<number>/activations", status_code=201, responses=responses(201), tags=["pos"])
def activate(number: Number, request: Annotated[ActivationRequest, Body()]) -> Response[MovementResult]:
    """Sell a gift card: only a merchant of the series' issuer group."""
    status, body = instruments.activate_gift_card(instrument_services(), caller_of(app), number, request)
    metrics.add_metric(name="GiftCardsActivated", unit=MetricUnit.Count, value=1)
    return json_response(status, body)


@app.post("/v1/series/<series_id>/store-credits", status_code=201, responses=responses(201), tags=["pos"])
def issue_store_credit(
    series_id: Slug, request: Annotated[StoreCreditRequest, Body()]
) -> Response[MovementResult]:
    """Issue store credit on a return: only a merchant of the series' issuer group."""
    status, body = instruments.issue_store_credit(instrument_services(), caller_of(app), series_id, request)
    metrics.add_metric(name="StoreCreditsIssued", unit=MetricUnit.Count, value=1)
    return json_response(status, body)


@app.post("/v1/instruments/<number>/redemptions", status_code=201, responses=responses(201), tags=["pos"])
def redeem(number: Number, request: Annotated[RedemptionRequest, Body()]) -> Response[MovementResult]:
    """Pay with a gift card or store credit, or use a coupon: only a merchant of the acceptor group.
    A refusal names its reason: wrong_merchant_group, expired, insufficient_balance, already_used,
    unknown_series, not_active, cancelled."""
    status, body = instruments.redeem_instrument(instrument_services(), caller_of(app), number, request)
    metrics.add_metric(name="Redemptions", unit=MetricUnit.Count, value=1)
    return json_response(status, body)


@app.post(
    "/v1/instruments/<number>/redemptions/<redemption_id>/reversals",
    status_code=201,
    responses=responses(201),
    tags=["pos"],
)
def reverse(
    number: Number, redemption_id: NaturalKey, request: Annotated[ReversalRequest, Body()]
) -> Response[MovementResult]:
    """Refund a redemption (or part of it) to the instrument, linked to the redemption."""
    status, body = instruments.reverse_redemption(
        instrument_services(), caller_of(app), number, redemption_id, request
    )
    metrics.add_metric(name="RedemptionsReversed", unit=MetricUnit.Count, value=1)
    return json_response(status, body)


@app.get("/v1/instruments/<number>", responses=responses(200), tags=["pos"])
def lookup(number: Number) -> InstrumentView:
    return instruments.lookup(instrument_services(), caller_of(app), number)


@app.get("/v1/instruments/<number>/ledger", responses=responses(200), tags=["pos"])
def instrument_ledger(
    number: Number,
    limit: Annotated[int, Field(ge=1, le=200), BeforeValidator(plain_int), Query()] = 50,
    cursor: Cursor = None,
) -> InstrumentLedgerPage:
    entries, next_cursor = instruments.ledger_page(
        instrument_services(), caller_of(app), number, limit, cursor
    )
    return InstrumentLedgerPage(entries=entries, next_cursor=next_cursor)


@app.post("/v1/instruments/<number>/cancellations", status_code=201, responses=responses(201), tags=["pos"])
def cancel(number: Number, request: Annotated[CancellationRequest, Body()]) -> Response[MovementResult]:
    """Cancel an instrument for good (admin: lost, stolen, issued by mistake). Its value left stays
    on it, frozen; every later sale, payment or reversal is refused as `cancelled`."""
    status, body = instruments.cancel_instrument(instrument_services(), caller_of(app), number, request)
    metrics.add_metric(name="InstrumentsCancelled", unit=MetricUnit.Count, value=1)
    return json_response(status, body)


# Customers (admin)
@app.put("/v1/customer-groups/<customer_group_id>", responses=responses(200, 201), tags=["customers"])
def put_customer_group(
    customer_group_id: Slug, spec: Annotated[CustomerGroupSpec, Body()]
) -> Response[CustomerGroup]:
    return _put(*customers.put_customer_group(instrument_services(), caller_of(app), customer_group_id, spec))


@app.get("/v1/customer-groups/<customer_group_id>", responses=responses(200), tags=["customers"])
def get_customer_group(customer_group_id: Slug) -> CustomerGroup:
    return customers.get_customer_group(instrument_services(), caller_of(app), customer_group_id)


@app.put("/v1/customers/<customer_id>", responses=responses(200, 201), tags=["customers"])
def put_customer(customer_id: Slug, spec: Annotated[CustomerSpec, Body()]) -> Response[CustomerView]:
    return _put(*customers.put_customer(instrument_services(), caller_of(app), customer_id, spec))


@app.get("/v1/customers/<customer_id>", responses=responses(200), tags=["customers"])
def get_customer(customer_id: Slug) -> CustomerView:
    return customers.get_customer(instrument_services(), caller_of(app), customer_id)


@app.put("/v1/members/<card_code>/customer", responses=responses(200), tags=["customers"])
def link_card(card_code: CardCode, link: Annotated[CardLink, Body()]) -> CustomerView:
    """Link a member card to a customer (a card has one customer; linking again moves it)."""
    return customers.link_card(instrument_services(), caller_of(app), card_code, link.customer_id)


@app.put("/v1/instruments/<number>/customer", responses=responses(200), tags=["customers"])
def link_instrument(number: Number, link: Annotated[CustomerLinkRequest, Body()]) -> Response[InstrumentView]:
    """Link an instrument to a customer after its sale or issue (an instrument has one customer;
    linking again moves it; the link it has already changes nothing). Any state, cancelled too."""
    status, body = set_instrument_customer(instrument_services(), caller_of(app), number, link.customer_id)
    return json_response(status, body)


@app.delete("/v1/instruments/<number>/customer", responses=responses(200), tags=["customers"])
def unlink_instrument(number: Number) -> Response[InstrumentView]:
    """Unlink an instrument from its customer (none linked: changes nothing)."""
    status, body = set_instrument_customer(instrument_services(), caller_of(app), number, None)
    return json_response(status, body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    load(InstrumentSettings)  # a missing or invalid variable stops the function here, named
    return app.resolve(event, context)


coldstart.imported()  # last: see loyalty_engine.coldstart
