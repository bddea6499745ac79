"""Point-of-sale use cases: sell (activate) a gift card, issue store credit on a return,
redeem, reverse a redemption, look a number up; and an operator's: cancel an instrument.

Each is a read-decide-write loop on the instrument's partition: one consistent
BatchGetItem reads the instrument, the operation's idempotency record, the calling merchant
and the number's series (every leading-digit prefix at once); the domain decides; one
transaction writes the new state, its ledger entry and the record, conditioned on the
instrument's version. Two round trips when nothing races; a replay is answered from the
record; a lost race reads again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from loyalty_engine.access.models import Caller
from loyalty_engine.customers.use_cases import customer_erased, customer_not_found
from loyalty_engine.instruments.batches import check_room, series_number
from loyalty_engine.instruments.context import InstrumentServices
from loyalty_engine.instruments.instrument import (
    ActivationRequest,
    CancellationRequest,
    InstrumentEntry,
    InstrumentView,
    MovementResult,
    RedemptionRecord,
    RedemptionRequest,
    ReversalRequest,
    StoreCreditRequest,
    activate,
    cancel,
    new_store_credit,
    redeem,
    refused,
    reverse,
)
from loyalty_engine.instruments.instrument_store import InstrumentWrite, Loaded, StaleInstrument
from loyalty_engine.instruments.merchants import Merchant
from loyalty_engine.instruments.numbers import SeriesExhausted, is_valid_number, nested_pairs
from loyalty_engine.instruments.series import Series
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.errors import ConcurrentUpdate, Forbidden, InvalidRequest, NotFound
from loyalty_engine.kernel.idempotency import StoredAnswer, fingerprint
from loyalty_engine.kernel.item_access import NEW_ONLY
from loyalty_engine.kernel.records import answer_attrs, answer_from, item
from loyalty_engine.kernel.retry import RACE, attempts

MAX_ATTEMPTS = 40
MAX_DRAWS = 1_000  # numbers drawn for one store credit before the series counts as taken by nested ones
Answer = tuple[int, dict[str, Any]]


def _merchant(caller: Caller) -> str:
    if not caller.merchant_id:
        raise Forbidden(
            "point-of-sale operations need an API key bound to a merchant", code="merchant_required"
        )
    return caller.merchant_id


def _series_of(loaded: Loaded, number: str) -> Series:
    """The number's series, or the refusal that says why there is none."""
    series = loaded.series
    if series is None or len(number) != series.length:
        raise refused("unknown_series", f"no series of this loyalty group has numbers like {number!r}")
    if series.check_digit and not is_valid_number(number):
        raise refused("invalid_number", "the number's check digit is wrong (a typo?)", field="number")
    return series


def _unsold_follow_their_series(loaded: Loaded, series: Series) -> None:
    """An unsold gift card's end is its series' `valid_until` as it is now (moved since its batch
    or not): its validity runs from its sale. Sold, it keeps the end its sale wrote."""
    if loaded.instrument is not None and loaded.instrument.status == "issued":
        loaded.instrument = loaded.instrument.model_copy(update={"valid_until": series.valid_until})


def _till(loaded: Loaded) -> Merchant:
    """The calling key's merchant, as read with the instrument."""
    if loaded.merchant is None:
        raise Forbidden("the key's merchant does not exist (any more)", code="unknown_merchant")
    return loaded.merchant


def _movement(instrument_view: InstrumentView, entry: InstrumentEntry) -> dict[str, Any]:
    return MovementResult(instrument=instrument_view, entry=entry).model_dump(mode="json")


Decide = Callable[[Loaded, Series, datetime], "tuple[InstrumentWrite, StoredAnswer] | Answer"]


def change_instrument(
    svc: InstrumentServices,
    caller: Caller,
    number: str,
    record_sk: str | None,
    decide: Decide,
    extra_keys: list[tuple[str, str]] = (),  # type: ignore[assignment]
    *,
    at_till: bool = True,
) -> Answer:
    """Read, decide, write until the write wins the instrument's version. A till's operation
    (`at_till`) needs a key bound to a merchant, read in the same BatchGetItem."""
    group = caller.group_id
    merchant_id = _merchant(caller) if at_till else None
    for _ in attempts(MAX_ATTEMPTS, RACE):
        loaded = svc.instruments.load(
            group, number, [record_sk] if record_sk else [], merchant_id, extra_keys
        )
        series = _series_of(loaded, number)
        if at_till:
            _till(loaded)
        if loaded.instrument is None:
            raise refused("instrument_not_found", f"instrument {number!r} was not issued")
        _unsold_follow_their_series(loaded, series)
        decision = decide(loaded, series, svc.clock())
        if not isinstance(decision[0], InstrumentWrite):
            return decision  # type: ignore[return-value]
        write, answer = decision  # type: ignore[misc]
        try:
            svc.instruments.commit(group, write, expected_version=loaded.stored_version)
        except StaleInstrument:
            continue
        return answer.status, answer.body
    raise ConcurrentUpdate("too many concurrent changes to this instrument; retry with the same id")


def activate_gift_card(
    svc: InstrumentServices, caller: Caller, number: str, request: ActivationRequest
) -> Answer:
    """Sell a pre-issued gift card (201), once per activation id."""
    sk = keys.activation_sk(request.activation_id)
    fp = fingerprint("activation", request, number=number, merchant=caller.merchant_id or "")
    group = caller.group_id
    customer_key = (
        [(keys.customer_pk(group, request.customer_id), keys.CUSTOMER_SK)] if request.customer_id else []
    )

    def decide(loaded: Loaded, series: Series, now: datetime) -> Any:
        if sk in loaded.records:
            return answer_from(loaded.records[sk]["answer"]).replay(
                fp, "activation_id", request.activation_id
            )
        if customer_key and customer_key[0] not in loaded.extra:
            raise customer_not_found(str(request.customer_id))
        if customer_key and loaded.extra[customer_key[0]].get("erased"):
            raise customer_erased(str(request.customer_id))  # a returning person is a new id
        assert loaded.instrument is not None
        new, entry = activate(loaded.instrument, series, _till(loaded), request, now)
        answer = StoredAnswer(
            fingerprint=fp, status=201, body=_movement(InstrumentView.of(new, series, now), entry)
        )
        before = loaded.instrument.customer_id
        links: list[dict[str, Any]] = []
        if new.customer_id and new.customer_id != before:
            # a card linked before its sale keeps that link as it is (its customer may have been
            # erased since: a link written again would check it and fail every attempt)
            links = svc.customers.link_instrument_actions(group, new.customer_id, number)
        if before and before != new.customer_id:  # linked before its sale to another customer
            links.append(svc.customers.unlink_instrument_action(group, before, number))
        write = InstrumentWrite(
            instrument=new,
            entry=entry,
            new_records=[(sk, "activation", {"answer": answer_attrs(answer)})],
            extra_actions=links,
        )
        return write, answer

    return change_instrument(svc, caller, number, sk, decide, customer_key)


def redeem_instrument(
    svc: InstrumentServices, caller: Caller, number: str, request: RedemptionRequest
) -> Answer:
    """Pay with a gift card or store credit, or use a coupon (201), once per redemption id."""
    sk = keys.redemption_sk(request.redemption_id)
    fp = fingerprint("redemption", request, number=number, merchant=caller.merchant_id or "")

    def decide(loaded: Loaded, series: Series, now: datetime) -> Any:
        if sk in loaded.records:
            return answer_from(loaded.records[sk]["answer"]).replay(
                fp, "redemption_id", request.redemption_id
            )
        assert loaded.instrument is not None
        new, entry, record = redeem(loaded.instrument, series, _till(loaded), request, now)
        answer = StoredAnswer(
            fingerprint=fp, status=201, body=_movement(InstrumentView.of(new, series, now), entry)
        )
        data = record.model_dump(mode="json") | {"answer": answer_attrs(answer)}
        write = InstrumentWrite(instrument=new, entry=entry, new_records=[(sk, "redemption", data)])
        return write, answer

    return change_instrument(svc, caller, number, sk, decide)


def reverse_redemption(
    svc: InstrumentServices, caller: Caller, number: str, redemption_id: str, request: ReversalRequest
) -> Answer:
    """Refund (part of) a redemption to the instrument (201), once per reversal id."""
    sk = keys.reversal_sk(request.reversal_id)
    redemption_sk = keys.redemption_sk(redemption_id)
    fp = fingerprint(
        "reversal", request, number=number, redemption=redemption_id, merchant=caller.merchant_id or ""
    )
    group_pk = keys.instrument_pk(caller.group_id, number)

    def decide(loaded: Loaded, series: Series, now: datetime) -> Any:
        if sk in loaded.records:
            return answer_from(loaded.records[sk]["answer"]).replay(fp, "reversal_id", request.reversal_id)
        found = loaded.extra.get((group_pk, redemption_sk))
        if found is None:
            raise NotFound(
                f"redemption {redemption_id!r} not found on this instrument", code="redemption_not_found"
            )
        original = RedemptionRecord.model_validate({k: v for k, v in found.items() if k != "answer"})
        assert loaded.instrument is not None
        new, entry, updated = reverse(loaded.instrument, series, _till(loaded), original, request, now)
        answer = StoredAnswer(
            fingerprint=fp, status=201, body=_movement(InstrumentView.of(new, series, now), entry)
        )
        write = InstrumentWrite(
            instrument=new,
            entry=entry,
            new_records=[(sk, "reversal", {"redemption_id": redemption_id, "answer": answer_attrs(answer)})],
            record_updates=[
                (redemption_sk, "redemption", updated.model_dump(mode="json") | {"answer": found["answer"]})
            ],
        )
        return write, answer

    return change_instrument(svc, caller, number, sk, decide, [(group_pk, redemption_sk)])


def _fresh_number(svc: InstrumentServices, group: str, series: Series) -> str:
    """The series' next number that no nested series owns (as a batch's are drawn): a number
    of a longer prefix resolves to that series. Which series nest is read after the first
    reservation: from then on no series can nest in this one."""
    nested: tuple[str, ...] | None = None
    for _ in range(MAX_DRAWS):
        start, end = svc.series.reserve(group, series, 1)
        check_room(series, 0, end)
        number = series_number(series, start)
        if nested is None:
            nested = tuple(nested_pairs(series.prefix, [s.prefix for s in svc.series.all_series(group)])[1])
        if not number.startswith(nested):
            return number
    raise SeriesExhausted(
        f"series {series.series_id!r}: its numbers drawn last all belong to nested series",
        code="series_exhausted",
        details=[{"field": "series_id", "reason": "series_exhausted"}],
    )


def issue_store_credit(
    svc: InstrumentServices, caller: Caller, series_id: str, request: StoreCreditRequest
) -> Answer:
    """Issue store credit on a return (201), once per return id: a new instrument with its number."""
    group, merchant_id = caller.group_id, _merchant(caller)
    claim_pk = keys.store_credit_return_pk(group, series_id, request.return_id)
    fp = fingerprint("store_credit", request, series=series_id, merchant=merchant_id)
    for _ in attempts(MAX_ATTEMPTS, RACE):
        context = svc.instruments.load_return(
            group, series_id, request.return_id, merchant_id, request.customer_id
        )
        if context.claim is not None:
            return answer_from(context.claim["answer"]).replay(fp, "return_id", request.return_id)
        series = svc.series.series_at(group, context.series_prefix) if context.series_prefix else None
        merchant = context.merchant
        if series is None:
            raise refused("unknown_series", f"series {series_id!r} not found")
        if merchant is None:
            raise Forbidden("the key's merchant does not exist (any more)", code="unknown_merchant")
        if request.customer_id and not context.customer_exists:
            raise customer_not_found(request.customer_id)
        if request.customer_id and context.customer_erased:
            raise customer_erased(request.customer_id)
        now = svc.clock()
        # Decide before drawing a number, so that a refusal uses none.
        new_store_credit("0" * series.length, series, merchant, request, now)
        check_room(series, 1, series.next_index)
        number = _fresh_number(svc, group, series)
        instrument, entry = new_store_credit(number, series, merchant, request, now)
        answer = StoredAnswer(
            fingerprint=fp, status=201, body=_movement(InstrumentView.of(instrument, series, now), entry)
        )
        extra = [
            svc.instruments.put_action(
                item(
                    claim_pk,
                    keys.RETURN_CLAIM_SK,
                    "store_credit_return",
                    {"number": number, "answer": answer_attrs(answer)},
                ),
                NEW_ONLY,
            )
        ]
        if instrument.customer_id:
            extra += svc.customers.link_instrument_actions(group, instrument.customer_id, number)
        try:
            svc.instruments.commit(
                group, InstrumentWrite(instrument, entry, extra_actions=extra), expected_version=None
            )
        except StaleInstrument:
            # a concurrent issue for the same return won: replay its answer
            continue
        return answer.status, answer.body
    raise ConcurrentUpdate("too many concurrent issues for this return; retry with the same return id")


def cancel_instrument(
    svc: InstrumentServices, caller: Caller, number: str, request: CancellationRequest
) -> Answer:
    """Cancel an instrument (201), once per cancellation id: an operator's act, not a till's."""
    sk = keys.cancellation_sk(request.cancellation_id)
    fp = fingerprint("cancellation", request, number=number)

    def decide(loaded: Loaded, series: Series, now: datetime) -> Any:
        if sk in loaded.records:
            return answer_from(loaded.records[sk]["answer"]).replay(
                fp, "cancellation_id", request.cancellation_id
            )
        assert loaded.instrument is not None
        new, entry = cancel(loaded.instrument, request, now)
        answer = StoredAnswer(
            fingerprint=fp, status=201, body=_movement(InstrumentView.of(new, series, now), entry)
        )
        record = (sk, "cancellation", {"reason": request.reason, "answer": answer_attrs(answer)})
        return InstrumentWrite(instrument=new, entry=entry, new_records=[record]), answer

    return change_instrument(svc, caller, number, sk, decide, at_till=False)


def lookup(svc: InstrumentServices, caller: Caller, number: str) -> InstrumentView:
    if not number.isdigit():
        raise InvalidRequest("a number has digits only", code="invalid_number")
    loaded = svc.instruments.load(caller.group_id, number, [], None)
    series = _series_of(loaded, number)
    if loaded.instrument is None:
        raise refused("instrument_not_found", f"instrument {number!r} was not issued")
    _unsold_follow_their_series(loaded, series)
    return InstrumentView.of(loaded.instrument, series, svc.clock())


def ledger_page(
    svc: InstrumentServices, caller: Caller, number: str, limit: int, cursor: str | None
) -> tuple[list[InstrumentEntry], str | None]:
    lookup(svc, caller, number)  # 404 for a number that is not an instrument of the group
    return svc.instruments.ledger_page(caller.group_id, number, limit, cursor)
