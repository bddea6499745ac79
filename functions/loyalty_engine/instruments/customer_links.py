"""An operator links an instrument to a customer after its sale or issue, moves it to another
customer, or unlinks it (seed 004: "loyalty products can optionally be linked to individual
customers"; a sale or a store credit can name the customer at once, this is for the rest: a
coupon of a batch, a card sold to someone who registered later, a link made by mistake).

The instrument's `customer_id` and the customer's link item change in one transaction, with the
instrument's version and the new customer's existence (not erased) as its conditions: the
customer's view, its export and its erasure always see the instruments that name it. Setting
the link it already has writes nothing. A change is one entry of the instrument's ledger, as
every change is (`customer_link` / `customer_unlink`, amount 0, the customer id as reference).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ConfigDict, Field

from loyalty_engine.access.models import Caller
from loyalty_engine.customers.use_cases import customer_erased, customer_not_found
from loyalty_engine.instruments.context import InstrumentServices
from loyalty_engine.instruments.instrument import InstrumentEntry, InstrumentView
from loyalty_engine.instruments.instrument_store import InstrumentWrite, Loaded
from loyalty_engine.instruments.instrument_use_cases import Answer, change_instrument
from loyalty_engine.instruments.series import Series
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.idempotency import StoredAnswer
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.types import Slug


class CustomerLinkRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Slug = Field(description="The customer the instrument belongs to from now on")


def set_instrument_customer(
    svc: InstrumentServices, caller: Caller, number: str, customer_id: str | None
) -> Answer:
    """Link the instrument to `customer_id` (None: unlink it); 200 with the instrument. Any
    state: a cancelled or spent card still belongs to someone (the customer's export shows it)."""
    group = caller.group_id
    customer_key = [(keys.customer_pk(group, customer_id), keys.CUSTOMER_SK)] if customer_id else []

    def decide(loaded: Loaded, series: Series, now: datetime) -> Any:
        instrument = loaded.instrument
        assert instrument is not None
        if customer_id and customer_key[0] not in loaded.extra:
            raise customer_not_found(customer_id)
        if customer_id and loaded.extra[customer_key[0]].get("erased"):
            raise customer_erased(customer_id)  # a returning person is a new id
        if instrument.customer_id == customer_id:
            return 200, InstrumentView.of(instrument, series, now).model_dump(mode="json")
        new = instrument.model_copy(update={"customer_id": customer_id, "version": instrument.version + 1})
        actions = svc.customers.link_instrument_actions(group, customer_id, number) if customer_id else []
        if instrument.customer_id:
            actions.append(svc.customers.unlink_instrument_action(group, instrument.customer_id, number))
        entry = InstrumentEntry(
            entry_no=new.version,
            kind="customer_link" if customer_id else "customer_unlink",
            amount=Decimal(0),
            balance_after=new.balance,
            status_after=new.status,
            reference=customer_id or str(instrument.customer_id),
            at=now,
        )
        body = InstrumentView.of(new, series, now).model_dump(mode="json")
        write = InstrumentWrite(instrument=new, entry=entry, extra_actions=actions)
        return write, StoredAnswer(fingerprint="", status=200, body=body)

    return change_instrument(svc, caller, number, None, decide, customer_key, at_till=False)
