"""Which function serves which trigger.

The one wiring list: CDK (`infra/`) builds the functions, routes and grants from it,
and the local stack (`local_stack/`) dispatches requests and events to the same
handlers from it. Adding a route or a function here is the only change needed to
expose it in both places.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TableAccess = Literal["read", "read_write"]


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str  # API Gateway path template, e.g. /v1/members/{card_code}
    scopes: tuple[str, ...] = ("admin", "shop")  # key scopes allowed to call the route


@dataclass(frozen=True)
class Function:
    name: str  # logical name, also the Lambda's id in CDK
    handler: str  # dotted path "module.attribute" under functions/
    description: str
    table_access: TableAccess
    routes: tuple[ApiRoute, ...] = ()
    is_authorizer: bool = False
    indexes: tuple[str, ...] = ()  # names of the table's GSIs the function queries (grants Query on them)
    memory_mb: int = 512
    timeout_s: int = 10
    environment: dict[str, str] = field(default_factory=dict)


ADMIN = ("admin",)

API_ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("PUT", "/v1/programs/{program_id}", ADMIN),
    ApiRoute("GET", "/v1/programs/{program_id}"),
    ApiRoute("POST", "/v1/programs/{program_id}/members"),
    ApiRoute("GET", "/v1/members/{card_code}"),
    ApiRoute("POST", "/v1/members/{card_code}/orders"),
    ApiRoute("POST", "/v1/members/{card_code}/orders/{order_id}/returns"),
    ApiRoute("POST", "/v1/members/{card_code}/burns"),
    ApiRoute("GET", "/v1/members/{card_code}/ledger"),
)

AUTHORIZER = Function(
    name="Authorizer",
    handler="loyalty_engine.handlers.authorizer.handler",
    description="Resolves an API key to its loyalty group, merchant and scopes",
    table_access="read",
    is_authorizer=True,
    memory_mb=256,
    timeout_s=5,
)

API = Function(
    name="Api",
    handler="loyalty_engine.handlers.api.handler",
    description="REST API: programs, members, earn, burn, returns, ledger",
    table_access="read_write",
    routes=API_ROUTES,
)

FUNCTIONS: tuple[Function, ...] = (AUTHORIZER, API)
