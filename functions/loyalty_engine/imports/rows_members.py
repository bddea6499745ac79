"""Reading `member` and `vip` lines into checked values (what needs nothing stored).

The columns are in `rows.COLUMNS`; every refusal is a `LineSkipped` with a stable reason code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from loyalty_engine.imports.files import ValueProblem, parse_file_datetime
from loyalty_engine.imports.rows import NULL, LineSkipped, one_line
from loyalty_engine.kernel.types import SLUG_PATTERN
from loyalty_engine.points.cardcodes import CARD_CODE_PATTERN
from loyalty_engine.points.tier_history import REASON_MAX

CUSTOMER_REF_MAX = 128  # as the API's enrolment
_CARD_CODE = re.compile(CARD_CODE_PATTERN)
_SLUG = re.compile(SLUG_PATTERN)


def _value(row: dict[str, str], column: str) -> str | None:
    """The cell's trimmed text, or None when empty, absent or NULL (these files never erase)."""
    value = row.get(column)
    if value is None or value == NULL or not value.strip():
        return None
    return value.strip()


def _mandatory(row: dict[str, str], column: str) -> str:
    value = _value(row, column)
    if value is None:
        raise LineSkipped("missing_value", column, f"{column} is mandatory and empty")
    return value


def _card_code(row: dict[str, str]) -> str:
    card_code = _mandatory(row, "card_code")
    if not _CARD_CODE.match(card_code):
        raise LineSkipped(
            "invalid_card_code",
            "card_code",
            "card_code: 4 to 40 letters, digits or dashes, starting with a letter or digit",
        )
    return card_code


# --- member ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberLine:
    card_code: str
    customer_ref: str | None
    subscribed_at: datetime | None  # None: the import's start


def member_line(row: dict[str, str]) -> MemberLine:
    """An enrolment line: the values the API's enrolment takes."""
    card_code = _card_code(row)
    customer_ref = _value(row, "customer_ref")
    if customer_ref is not None and len(one_line("customer_ref", customer_ref)) > CUSTOMER_REF_MAX:
        raise LineSkipped(
            "too_long", "customer_ref", f"customer_ref is longer than {CUSTOMER_REF_MAX} characters"
        )
    subscribed_text = _value(row, "subscribed_at")
    subscribed_at = None
    if subscribed_text is not None:
        try:
            subscribed_at = parse_file_datetime(subscribed_text, time_optional=True)
        except ValueProblem as problem:
            raise LineSkipped(problem.code, "subscribed_at", f"subscribed_at: {problem.message}") from None
    return MemberLine(card_code=card_code, customer_ref=customer_ref, subscribed_at=subscribed_at)


# --- vip ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VipLine:
    card_code: str
    vip_tier: str
    grant: bool
    reason: str | None


def vip_line(row: dict[str, str]) -> VipLine:
    """A VIP line: grant (with a reason) or remove (reason optional) one VIP tier of one card."""
    card_code = _card_code(row)
    # a VIP tier's name is a lower-case slug: `Staff` or `STAFF` can only mean `staff`
    vip_tier = _mandatory(row, "vip_tier").lower()
    action = _mandatory(row, "action").lower()
    if action not in ("grant", "remove"):
        raise LineSkipped("invalid_action", "action", f"action is grant or remove, not {row['action']!r}")
    if not _SLUG.match(vip_tier):
        # no program can have such a tier: the same reason as a well-formed unknown name
        raise LineSkipped("unknown_vip_tier", "vip_tier", f"there is no VIP tier {vip_tier[:64]!r}")
    reason = _value(row, "reason")
    if reason is None and action == "grant":
        # as the API: a grant says why (an employee's job title...); a removal may
        raise LineSkipped("missing_value", "reason", "a grant needs a reason")
    if reason is not None and len(one_line("reason", reason)) > REASON_MAX:
        raise LineSkipped("too_long", "reason", f"reason is longer than {REASON_MAX} characters")
    return VipLine(card_code=card_code, vip_tier=vip_tier, grant=action == "grant", reason=reason)
