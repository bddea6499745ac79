"""Member search (`GET /v1/members?email=|card_prefix=|customer_id=`): exactly one filter, a page
at a time, each member with its tier, points and linked customer."""

from __future__ import annotations

from collections.abc import Callable

from loyalty_engine.access.models import Caller
from loyalty_engine.customers.models import Customer
from loyalty_engine.kernel.cursors import decode_cursor, encode_cursor
from loyalty_engine.kernel.errors import DomainError, InvalidRequest
from loyalty_engine.kernel.search_keys import normalised_email
from loyalty_engine.points.members import Member
from loyalty_engine.points.programs import Program
from loyalty_engine.search.models import FILTERS, MatchTier, MemberMatch, MemberSearchPage, SearchFilter
from loyalty_engine.search.store import CURSOR_MAX, SearchStore

EMAIL_CURSOR_SEPARATOR = "/"  # neither a customer id (slug) nor a card code holds one


# A program by (group, program id), read through the API's program cache; NotFound if none.
Programs = Callable[[str, str], Program]


def one_filter(values: dict[SearchFilter, str | None]) -> tuple[SearchFilter, str]:
    """The one filter given, or 422 `one_filter_required`."""
    given = [(name, value) for name, value in values.items() if value is not None]
    if len(given) != 1:
        raise InvalidRequest(
            f"give exactly one of {', '.join(FILTERS)} (got {len(given)})",
            code="one_filter_required",
            details=[{"in": "query", "field": name, "reason": "one_filter_required"} for name in FILTERS],
        )
    return given[0]


def search_members(
    store: SearchStore,
    programs: Programs,
    caller: Caller,
    by: SearchFilter,
    value: str,
    limit: int,
    cursor: str | None,
) -> MemberSearchPage:
    group = caller.group_id
    if by == "card_prefix":
        cards, next_cursor = store.cards_by_prefix(group, value, limit, cursor)
    elif by == "customer_id":
        cards, next_cursor = _cards_of_customers(store, group, [value], limit, cursor)
    else:
        customer_ids = store.customers_by_email(group, value)
        cards, next_cursor = _cards_of_customers(store, group, customer_ids, limit, cursor, value)
    return MemberSearchPage(items=_matches(store, programs, group, cards), next_cursor=next_cursor)


def _has_email(customer: Customer, email: str | None) -> bool:
    """True without an e-mail to match (a search by customer id)."""
    if email is None:
        return True
    return customer.email is not None and normalised_email(customer.email) == normalised_email(email)


def _cards_of_customers(
    store: SearchStore,
    group: str,
    customer_ids: list[str],
    limit: int,
    cursor: str | None,
    email: str | None = None,
) -> tuple[list[str], str | None]:
    """The cards of these customers (erased ones left out), by customer then card code, from the
    cursor's (customer, card) position on."""
    start_customer, after_card = None, None
    if cursor:
        position = decode_cursor(cursor, separator=EMAIL_CURSOR_SEPARATOR, max_length=CURSOR_MAX)
        start_customer, _, after_card = position.partition(EMAIL_CURSOR_SEPARATOR)
    cards: list[str] = []
    for customer_id in customer_ids:
        if start_customer is not None and customer_id < start_customer:
            continue
        customer = store.customer(group, customer_id)
        if customer is None or customer.erased or not _has_email(customer, email):
            continue  # erased, or a stale e-mail lookup (see `search.backfill`)
        after = after_card if customer_id == start_customer else None
        found, more = store.cards_of_customer(group, customer_id, limit - len(cards), after)
        cards += found
        if len(cards) >= limit:
            if not more and customer_id == customer_ids[-1]:
                return cards, None
            return cards, encode_cursor(f"{customer_id}{EMAIL_CURSOR_SEPARATOR}{cards[-1]}")
    return cards, None


def _matches(store: SearchStore, programs: Programs, group: str, cards: list[str]) -> list[MemberMatch]:
    members, customers, links = store.members_with_customers(group, cards)
    found = []
    for card in cards:
        member = members.get(card)
        if member is None:
            continue  # a lookup written before its member was (a transaction that failed cannot leave one)
        if member.erased_at is not None:
            continue  # an erased card is found by no filter, its customer's e-mail or id included
        customer = customers.get(links[card]) if card in links else None
        found.append(_match(member, customer, _tier(programs, group, member)))
    return found


def _tier(programs: Programs, group: str, member: Member) -> MatchTier | None:
    try:
        program = programs(group, member.program_id)
    except DomainError:
        return None
    if program.tier_settings is None:
        return None
    tier = program.tier_settings.tier(member.tier_rank)
    return None if tier is None else MatchTier(rank=tier.rank, name=tier.name)


def _match(member: Member, customer: Customer | None, tier: MatchTier | None) -> MemberMatch:
    visible = customer is not None and not customer.erased
    name = None
    if customer is not None and visible:
        name = " ".join(part for part in (customer.first_name, customer.last_name) if part) or None
    return MemberMatch(
        card_code=member.card_code,
        program_id=member.program_id,
        tier=tier,
        vip_tiers=member.vip_tiers,
        nq_points=member.points.nq.live,
        q_points=member.points.q.live,
        customer_id=customer.customer_id if customer is not None else None,
        name=name,
        email=customer.email if customer is not None and visible else None,
    )
