"""The audit log's rules: which requests are recorded, what a record says, how long it is kept.

Pure Python (no AWS). A record names the calling key, the method, the route template, the
object the route acts on (its first path id: `members/<card>`, `api-keys/<id>`, or the
collection when the route has no id), every path id, the answer's status and a short summary
of the change. The summary carries the values of a fixed list of harmless fields only (points,
kinds, reason codes, amounts...) and the *names* of the other fields: never a secret, never a
name, e-mail, phone or free-text comment.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ConfigDict, Field, computed_field

from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.types import FREE_ID_PATTERN, SLUG_PATTERN

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Keys with one of these scopes have their writes recorded. Shop keys (tills, web shops) are
# not: their writes are the engine's volume, each already kept as a ledger entry or a stored
# answer under its natural key.
AUDITED_SCOPES = frozenset({"admin", "partner"})
DEFAULT_RETENTION_DAYS = 365
MAX_RETENTION_DAYS = 3650
SUMMARY_MAX = 300
# Body fields whose values may appear in a summary: numbers, kinds and codes, never free text.
SHOWN_FIELDS = (
    "kind",
    "points",
    "reason_code",
    "amount",
    "quantity",
    "scopes",
    "grace_seconds",
    "count",
    "status",
    "merchant_id",
    "program_id",
    "order_id",
    "return_id",
    "burn_id",
    "payment_id",
    "external_id",
    "null_erases",
    "import_quiet_period_s",
    "audit_retention_days",
)
# `<collection>[/<sub-collection>][/<id>]`: the id is any id a route takes in its path (a
# reward's external id is free text: `rewards/café crème`), so the filter can name every object.
AUDIT_OBJECT_PATTERN = rf"^[a-z][a-z0-9-]*(/[a-z][a-z0-9-]*)?(/{FREE_ID_PATTERN[1:-1]})?$"
_OBJECT = re.compile(AUDIT_OBJECT_PATTERN)
# Routes that create an object whose id only the answer knows: the answer's field naming it,
# and the shape of that id (a key's ULID, a webhook's `wh_` id).
CREATED_IDS = {
    "/v1/api-keys": ("key_id", re.compile(r"^[0-9A-Z]{26}$")),
    "/v1/webhooks": ("subscription_id", re.compile(r"^wh_[A-Z2-7]{26}$")),
}
_PARAM = re.compile(r"^\{([a-z_]+)\}$")
_SLUG = re.compile(SLUG_PATTERN)
_DECIMAL = re.compile(r"^-?[0-9]{1,12}(\.[0-9]{1,4})?$")


class AuditRecord(DeferredModel):
    """One audited request, as `GET /v1/audit` lists it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime = Field(description="When API Gateway received the request (UTC)")
    key_id: str = Field(description="The calling API key's id")
    method: str
    route: str = Field(description="The route template, e.g. /v1/members/{card_code}/adjustments")
    object: str = Field(description="What the route acts on: `<collection>/<id>` of its first path id")
    ids: dict[str, str] = Field(default_factory=dict, description="Every path id of the request")
    status: int = Field(description="The answer's HTTP status (refused requests are recorded too)")
    summary: str = Field(description="A short summary of the change: never a secret nor personal data")
    request_id: str


class AuditPage(DeferredModel):
    items: list[AuditRecord] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")

    @computed_field(description="The same as `next_cursor` (its first name, kept)")  # type: ignore[prop-decorator]
    @property
    def next(self) -> str | None:
        return self.next_cursor


def is_audited(method: str, scopes: tuple[str, ...] | list[str]) -> bool:
    return method.upper() in WRITE_METHODS and bool(AUDITED_SCOPES & set(scopes))


def audit_object(route: str, ids: dict[str, str], answer: Any = None) -> str:
    """`<collection>/<id>` of the route's first path parameter (`members/2990000000017`), or the
    route's path without `/v1/` when it has none (`group/settings`); a created key or webhook is
    `api-keys/<its id>` or `webhooks/<its id>` (from the answer), so that one filter shows its
    whole life."""
    parts = [part for part in route.split("/") if part and part != "v1"]
    for position, part in enumerate(parts):
        match = _PARAM.match(part)
        if match and position:
            return f"{parts[position - 1]}/{ids.get(match.group(1), '')}"
    field, shape = CREATED_IDS.get(route, ("", None))
    created = answer.get(field) if isinstance(answer, dict) else None
    if isinstance(created, str) and shape is not None and shape.match(created):
        return f"{'/'.join(parts[:2])}/{created}"
    return "/".join(parts[:2])


def summary_of(body: Any, status: int, answer: Any) -> str:
    """`points=-50 kind=nq reason_code=goodwill; fields: comment` and, when refused, its code."""
    shown: list[str] = []
    names: list[str] = []
    if isinstance(body, dict):
        for name in sorted(body):
            value = body[name]
            if name in SHOWN_FIELDS and _harmless(value):
                text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
                shown.append(f"{name}={text}")
            else:
                names.append(str(name)[:40])
    parts = [" ".join(shown)] if shown else []
    if names:
        parts.append("fields: " + ",".join(names))
    if status >= 400:
        code = answer.get("code") if isinstance(answer, dict) else None
        parts.append(
            f"refused: {code if isinstance(code, str) and _SLUG.match(code.replace('_', '-')) else status}"
        )
    return "; ".join(parts)[:SUMMARY_MAX] or "no body"


def _harmless(value: Any) -> bool:
    if isinstance(value, bool | int):
        return True
    if isinstance(value, str):
        plain = _SLUG.match(value.lower().replace("_", "-")) or _DECIMAL.match(value)
        return len(value) <= 64 and plain is not None
    if isinstance(value, list):
        return len(value) <= 10 and all(isinstance(v, str) and _harmless(v) for v in value)
    return False


def valid_object(value: str) -> bool:
    return _OBJECT.match(value) is not None


def at_text(at: datetime) -> str:
    """The sortable form of a time in keys: UTC, milliseconds, `Z`."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def expires_at(at: datetime, retention_days: int | None) -> int:
    """The TTL (epoch seconds) of a record made at `at` in a group keeping records that long."""
    days = retention_days or DEFAULT_RETENTION_DAYS
    return int((at + timedelta(days=days)).timestamp())
