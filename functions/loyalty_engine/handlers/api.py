"""REST API handler: parse the request, call one use case, shape the answer.

Validation and the OpenAPI document come from the powertools resolver and the pydantic
models; errors are JSON objects with a stable `code` (see `errors.py`).
"""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AfterValidator, BeforeValidator, Field

from loyalty_engine import coldstart  # first: the engine's imports run without the GC
from loyalty_engine.access import use_cases as access
from loyalty_engine.access.models import Caller, GroupSettings
from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.handlers.rest import (
    SERVICE,
    caller_of,
    json_response,
    responses,
    rest_app,
)
from loyalty_engine.handlers.routes_audit import add_audit_routes
from loyalty_engine.handlers.routes_codes import add_codes_routes
from loyalty_engine.handlers.routes_customer_service import add_customer_service_routes, timeline_store
from loyalty_engine.handlers.routes_docs import add_docs_routes
from loyalty_engine.handlers.routes_imports import add_imports_routes
from loyalty_engine.handlers.routes_jobs import add_jobs_routes
from loyalty_engine.handlers.routes_keys import add_keys_routes
from loyalty_engine.handlers.routes_lists import add_lists_routes
from loyalty_engine.handlers.routes_payments import add_payments_routes
from loyalty_engine.handlers.routes_privacy import add_privacy_routes
from loyalty_engine.handlers.routes_search import add_search_routes
from loyalty_engine.handlers.routes_webhooks import add_webhooks_routes
from loyalty_engine.imports import use_cases as imports
from loyalty_engine.imports.jobs import ImportView, JobState, Scope
from loyalty_engine.kernel.idempotency import NATURAL_KEY_PATTERN
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.settings import ApiSettings, load
from loyalty_engine.kernel.types import SLUG_PATTERN, not_blank, plain_int, single_line, unpadded
from loyalty_engine.points import member_use_cases as members
from loyalty_engine.points import point_use_cases as points
from loyalty_engine.points import program_use_cases as programs
from loyalty_engine.points.backlog import BacklogRequest, BacklogResult
from loyalty_engine.points.cardcodes import CARD_CODE_PATTERN
from loyalty_engine.points.members import EnrolRequest, MemberView
from loyalty_engine.points.orders import (
    BurnRequest,
    BurnResult,
    EarnResult,
    OrderRequest,
    ReturnRequest,
    ReturnResult,
)
from loyalty_engine.points.programs import Program, ProgramSpec
from loyalty_engine.points.tier_counts import TierCounts
from loyalty_engine.points.tier_history import REASON_MAX, TierChange
from loyalty_engine.rewards import use_cases as rewards
from loyalty_engine.rewards.models import (
    ATTRIBUTION_ID_PATTERN,
    EXTERNAL_ID_PATTERN,
    Attribution,
    AttributionBurnResult,
    BurnAttributionRequest,
    BuyRequest,
    RewardSpec,
    RewardView,
)
from loyalty_engine.rewards.views import AttributionView
from loyalty_engine.timeline.models import LedgerEntryView
from loyalty_engine.wiring_routes import API_ROUTES

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=["botocore"])  # only what the function calls
metrics = Metrics(namespace="LoyaltyEngine", service=SERVICE)
app = rest_app(API_ROUTES, logger)
add_payments_routes(app)
add_codes_routes(app)
add_imports_routes(app)
add_jobs_routes(app)
add_keys_routes(app)
add_lists_routes(app)
add_audit_routes(app)
add_customer_service_routes(app)
add_webhooks_routes(app)
add_search_routes(app)
add_privacy_routes(app)
add_docs_routes(app)

ProgramId = Annotated[str, Path(pattern=SLUG_PATTERN, description="Program slug")]
CardCode = Annotated[
    str, Path(pattern=CARD_CODE_PATTERN, description="Card code, unique in the loyalty group")
]
OrderId = Annotated[str, Path(pattern=NATURAL_KEY_PATTERN)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=NATURAL_KEY_PATTERN,
        description="Makes the write safe to retry when the body carries no natural key",
    ),
]
RequiredIdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=NATURAL_KEY_PATTERN,
        description="Required: the same key and body again answer the first answer, and change nothing",
    ),
]


ExternalId = Annotated[
    str,
    Field(pattern=EXTERNAL_ID_PATTERN),
    BeforeValidator(unpadded),
    Path(description="The master reward's external_id"),
]
AttributionId = Annotated[str, Field(pattern=ATTRIBUTION_ID_PATTERN), BeforeValidator(unpadded), Path()]
Limit = Annotated[int, Field(ge=1, le=200), BeforeValidator(plain_int), Query()]
Cursor = Annotated[str | None, Query(max_length=600, pattern=r"^[A-Za-z0-9_-]+$")]


class RewardPage(DeferredModel):
    rewards: list[RewardView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class AttributionPage(DeferredModel):
    attributions: list[AttributionView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class ImportPage(DeferredModel):
    imports: list[ImportView] = Field(description="Newest received first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class TierHistoryPage(DeferredModel):
    changes: list[TierChange] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class VipGrant(DeferredModel):
    model_config = {"extra": "forbid"}

    reason: Annotated[str, AfterValidator(not_blank), AfterValidator(single_line)] = Field(
        min_length=1, max_length=REASON_MAX, description="Why (e.g. an employee's job title); not spaces only"
    )


VipTierName = Annotated[str, Path(pattern=SLUG_PATTERN, description="The VIP tier's name")]


class LedgerPage(DeferredModel):
    entries: list[LedgerEntryView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


def _json(status: int, body: Any) -> Response:
    return json_response(status, body)


def _caller() -> Caller:
    return caller_of(app)


@app.put("/v1/programs/<program_id>", responses=responses(200, 201), tags=["programs"])
def put_program(program_id: ProgramId, spec: Annotated[ProgramSpec, Body()]) -> Response[Program]:
    status, program = programs.put_program(default_context(), _caller(), program_id, spec)
    return _json(status, program.model_dump(mode="json"))


@app.get("/v1/programs/<program_id>", responses=responses(200), tags=["programs"])
def get_program(program_id: ProgramId) -> Program:
    return programs.get_program(default_context(), _caller(), program_id)


@app.get("/v1/programs/<program_id>/tier-counts", responses=responses(200), tags=["programs"])
def get_tier_counts(program_id: ProgramId) -> TierCounts:
    """Members per tier and VIP tier, as the program's latest daily reconciliation run counted them."""
    return programs.tier_counts(default_context(), _caller(), program_id)


@app.post("/v1/programs/<program_id>/members", status_code=201, responses=responses(201), tags=["members"])
def enrol_member(
    program_id: ProgramId, request: Annotated[EnrolRequest, Body()], idempotency_key: IdempotencyKey = None
) -> Response[MemberView]:
    status, body = members.enrol(default_context(), _caller(), program_id, request, idempotency_key)
    metrics.add_metric(name="MembersEnrolled", unit=MetricUnit.Count, value=1)
    return _json(status, body)


@app.get("/v1/members/<card_code>", responses=responses(200), tags=["members"])
def get_member(card_code: CardCode) -> MemberView:
    return members.get_member(default_context(), _caller(), card_code)


@app.post("/v1/members/<card_code>/orders", status_code=201, responses=responses(201), tags=["points"])
def earn_from_order(card_code: CardCode, order: Annotated[OrderRequest, Body()]) -> Response[EarnResult]:
    status, body = points.earn(default_context(), _caller(), card_code, order)
    metrics.add_metric(name="Earns", unit=MetricUnit.Count, value=1)
    return _json(status, body)


@app.post(
    "/v1/members/<card_code>/orders/<order_id>/returns",
    status_code=201,
    responses=responses(201),
    tags=["points"],
)
def return_order(
    card_code: CardCode,
    order_id: OrderId,
    request: Annotated[ReturnRequest, Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response[ReturnResult]:
    status, body = points.return_order(
        default_context(), _caller(), card_code, order_id, request, idempotency_key
    )
    metrics.add_metric(name="Returns", unit=MetricUnit.Count, value=1)
    return _json(status, body)


@app.post("/v1/members/<card_code>/burns", status_code=201, responses=responses(201), tags=["points"])
def burn_points(
    card_code: CardCode, request: Annotated[BurnRequest, Body()], idempotency_key: IdempotencyKey = None
) -> Response[BurnResult]:
    status, body = points.burn(default_context(), _caller(), card_code, request, idempotency_key)
    metrics.add_metric(name="Burns", unit=MetricUnit.Count, value=1)
    return _json(status, body)


@app.get("/v1/members/<card_code>/ledger", responses=responses(200), tags=["points"])
def get_ledger(
    card_code: CardCode,
    limit: Annotated[int, Field(ge=1, le=200), BeforeValidator(plain_int), Query()] = 50,
    cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> LedgerPage:
    from loyalty_engine.timeline.use_cases import ledger_view  # off the cold path

    caller = _caller()
    entries, next_cursor = members.ledger_page(default_context(), caller, card_code, limit, cursor)
    return LedgerPage(
        entries=ledger_view(timeline_store(), caller, card_code, entries), next_cursor=next_cursor
    )


@app.post("/v1/backlogs", responses=responses(200), tags=["points"])
def post_backlog(request: Annotated[BacklogRequest, Body()]) -> BacklogResult:
    """A till's backlog after it was offline: up to 100 orders, returns and burns in one call,
    applied per member in the order they happened, each exactly once under its own key
    (`order_id`, `return_id`, `burn_id`). One result per item, as its own route would answer."""
    from loyalty_engine.points.backlog_use_cases import apply_backlog  # off the cold path

    result = apply_backlog(default_context(), _caller(), request)
    metrics.add_metric(name="BacklogItems", unit=MetricUnit.Count, value=len(request.items))
    return result


@app.get("/v1/rewards", responses=responses(200), tags=["rewards"])
def list_rewards(limit: Limit = 50, cursor: Cursor = None) -> RewardPage:
    page, next_cursor = rewards.list_rewards(default_context(), _caller(), limit, cursor)
    return RewardPage(rewards=page, next_cursor=next_cursor)


@app.get("/v1/rewards/<external_id>", responses=responses(200), tags=["rewards"])
def get_reward(external_id: ExternalId) -> RewardView:
    return rewards.get_reward(default_context(), _caller(), external_id)


@app.put("/v1/rewards/<external_id>", responses=responses(200, 201), tags=["rewards"])
def put_reward(external_id: ExternalId, spec: Annotated[RewardSpec, Body()]) -> Response[RewardView]:
    status, view = rewards.put_reward(default_context(), _caller(), external_id, spec)
    return _json(status, view.model_dump(mode="json"))


@app.post("/v1/members/<card_code>/rewards", status_code=201, responses=responses(201), tags=["rewards"])
def buy_reward(
    card_code: CardCode,
    request: Annotated[BuyRequest, Body()],
    idempotency_key: RequiredIdempotencyKey = None,
) -> Response[Attribution]:
    status, body = rewards.buy(default_context(), _caller(), card_code, request, idempotency_key)
    metrics.add_metric(name="RewardsBought", unit=MetricUnit.Count, value=1)
    return _json(status, body)


@app.get("/v1/members/<card_code>/rewards", responses=responses(200), tags=["rewards"])
def member_rewards(card_code: CardCode, limit: Limit = 50, cursor: Cursor = None) -> AttributionPage:
    page, next_cursor = rewards.member_rewards(default_context(), _caller(), card_code, limit, cursor)
    return AttributionPage(attributions=page, next_cursor=next_cursor)


@app.post(
    "/v1/members/<card_code>/rewards/<attribution_id>/burns",
    status_code=201,
    responses=responses(201),
    tags=["rewards"],
)
def burn_attribution(
    card_code: CardCode,
    attribution_id: AttributionId,
    request: Annotated[BurnAttributionRequest, Body()],
    idempotency_key: RequiredIdempotencyKey = None,
) -> Response[AttributionBurnResult]:
    status, body = rewards.burn_attribution(
        default_context(), _caller(), card_code, attribution_id, request, idempotency_key
    )
    metrics.add_metric(name="RewardsBurned", unit=MetricUnit.Count, value=1)
    return _json(status, body)


@app.get("/v1/imports", responses=responses(200), tags=["imports"])
def list_imports(
    file: Annotated[
        str | None, Query(min_length=1, max_length=512, description="Only this file name's")
    ] = None,
    state: Annotated[JobState | None, Query(description="Only the imports in this state")] = None,
    scope: Annotated[Scope | None, Query(description="Only the imports of this scope")] = None,
    limit: Annotated[int, Field(ge=1, le=50), BeforeValidator(plain_int), Query()] = 10,
    cursor: Cursor = None,
) -> ImportPage:
    """The key's group's imports, newest received first, a page at a time. With `state` or
    `scope`, a page may hold fewer than `limit` imports (even none) and still a `next_cursor`."""
    page, next_cursor = imports.list_imports(
        default_context(), _caller(), limit, cursor, file_name=file, state=state, scope=scope
    )
    return ImportPage(imports=page, next_cursor=next_cursor)


@app.get("/v1/imports/<import_id>", responses=responses(200), tags=["imports"])
def get_import(import_id: Annotated[str, Path(pattern=r"^[A-Z2-7]{26}$")]) -> ImportView:
    return imports.get_import(default_context(), _caller(), import_id)


@app.put("/v1/members/<card_code>/vip-tiers/<vip_tier>", responses=responses(200), tags=["tiers"])
def grant_vip_tier(
    card_code: CardCode, vip_tier: VipTierName, grant: Annotated[VipGrant, Body()]
) -> MemberView:
    """Grant a VIP tier (idempotent: granting a held tier changes nothing)."""
    from loyalty_engine.tiers import vip_use_cases as tiers  # off the cold path: rare admin calls

    _, body = tiers.set_vip(
        default_context(), _caller(), card_code, vip_tier, grant=True, reason=grant.reason
    )
    return MemberView.model_validate(body)


@app.delete("/v1/members/<card_code>/vip-tiers/<vip_tier>", responses=responses(200), tags=["tiers"])
def remove_vip_tier(
    card_code: CardCode,
    vip_tier: VipTierName,
    reason: Annotated[str | None, Query(min_length=1, max_length=REASON_MAX)] = None,
) -> MemberView:
    """Remove a VIP tier (idempotent: removing a tier not held changes nothing)."""
    from loyalty_engine.tiers import vip_use_cases as tiers  # off the cold path: rare admin calls

    _, body = tiers.set_vip(default_context(), _caller(), card_code, vip_tier, grant=False, reason=reason)
    return MemberView.model_validate(body)


@app.get("/v1/members/<card_code>/tier-history", responses=responses(200), tags=["tiers"])
def tier_history(card_code: CardCode, limit: Limit = 50, cursor: Cursor = None) -> TierHistoryPage:
    from loyalty_engine.tiers import vip_use_cases as tiers  # off the cold path: the calendars and tier rules

    changes, next_cursor = tiers.tier_history(default_context(), _caller(), card_code, limit, cursor)
    return TierHistoryPage(changes=changes, next_cursor=next_cursor)


@app.get("/v1/group/settings", responses=responses(200), tags=["group"])
def get_group_settings() -> GroupSettings:
    """The settings of the key's loyalty group."""
    return access.group_settings(default_context().groups, _caller())


@app.put("/v1/group/settings", responses=responses(200), tags=["group"])
def put_group_settings(settings: Annotated[GroupSettings, Body()]) -> GroupSettings:
    """Replace the settings of the key's loyalty group (a setting left out is back to its default)."""
    ctx = default_context()
    return access.put_group_settings(ctx.groups, _caller(), settings, ctx.clock())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    load(ApiSettings)  # a missing or invalid variable stops the function here, named
    return app.resolve(event, context)


coldstart.imported()  # last: see loyalty_engine.coldstart
