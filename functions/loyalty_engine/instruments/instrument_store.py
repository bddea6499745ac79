"""Data access for an instrument's partition: the instrument, its ledger and its records.

A point-of-sale operation reads everything it decides on in one consistent BatchGetItem
(the instrument, its idempotency records, the calling merchant and the series items of
every leading digit of the number) and writes in one transaction conditioned on the
instrument's version: two round trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loyalty_engine.instruments.instrument import Instrument, InstrumentEntry
from loyalty_engine.instruments.merchants import Merchant
from loyalty_engine.instruments.numbers import leading_prefixes
from loyalty_engine.instruments.series import MAX_PREFIX_LENGTH, Series
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.cursors import newest_first_page
from loyalty_engine.kernel.item_access import NEW_ONLY, ConditionsFailed, ItemTable, new_or_version
from loyalty_engine.kernel.records import data_of, item


class StaleInstrument(Exception):
    """The instrument changed since it was read, or a record was written concurrently: read again."""


@dataclass
class Loaded:
    instrument: Instrument | None  # the live instrument, or else the pre-issued one
    stored_version: int | None  # the live item's version: None while only the pre-issued one exists
    series: Series | None
    merchant: Merchant | None
    records: dict[str, dict[str, Any]]
    extra: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


@dataclass
class ReturnContext:
    """What issuing store credit on a return decides on."""

    claim: dict[str, Any] | None  # the return's claim: present once credit was issued on it
    series_prefix: str | None  # from the series' id item: None for an unknown series
    merchant: Merchant | None
    customer_exists: bool  # True when the request names no customer
    customer_erased: bool = False  # the named customer's personal data was erased


@dataclass
class InstrumentWrite:
    instrument: Instrument  # the new state; its version is the expected one + 1 (or 1 when new)
    entry: InstrumentEntry
    new_records: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (sk, type, data)
    record_updates: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    extra_actions: list[dict[str, Any]] = field(default_factory=list)


def instrument_item(group: str, instrument: Instrument) -> dict[str, Any]:
    data = instrument.model_dump(mode="json", exclude_none=True)
    return item(keys.instrument_pk(group, instrument.number), keys.INSTRUMENT_SK, "instrument", data)


def issued_instrument_item(group: str, instrument: Instrument) -> dict[str, Any]:
    """A pre-issued card as its batch writes it (unconditionally, as often as a chunk is repeated)."""
    data = instrument.model_dump(mode="json", exclude_none=True)
    pk = keys.instrument_pk(group, instrument.number)
    return item(pk, keys.ISSUED_INSTRUMENT_SK, "issued_instrument", data)


class InstrumentStore(ItemTable):
    def load(
        self,
        group: str,
        number: str,
        record_sks: list[str],
        merchant_id: str | None,
        extra_keys: list[tuple[str, str]] = (),  # type: ignore[assignment]
    ) -> Loaded:
        pk = keys.instrument_pk(group, number)
        series_pk = keys.series_pk(group)
        wanted = [(pk, keys.INSTRUMENT_SK), (pk, keys.ISSUED_INSTRUMENT_SK), *((pk, sk) for sk in record_sks)]
        prefixes = [
            (series_pk, keys.series_prefix_sk(p)) for p in leading_prefixes(number, MAX_PREFIX_LENGTH)
        ]
        wanted += prefixes
        if merchant_id:
            wanted.append((keys.merchants_pk(group), keys.merchant_sk(merchant_id)))
        wanted += list(extra_keys)
        found = batch_get(self._client, self._table, wanted)
        live = found.get((pk, keys.INSTRUMENT_SK))
        instrument = live or found.get((pk, keys.ISSUED_INSTRUMENT_SK))
        series = next((found[key] for key in prefixes if key in found), None)  # longest prefix first
        merchant = (
            found.get((keys.merchants_pk(group), keys.merchant_sk(merchant_id))) if merchant_id else None
        )
        return Loaded(
            instrument=Instrument.model_validate(data_of(instrument)) if instrument else None,
            stored_version=int(live["version"]) if live else None,
            series=Series.model_validate(data_of(series)) if series else None,
            merchant=Merchant.model_validate(data_of(merchant)) if merchant else None,
            records={sk: data_of(found[(pk, sk)]) for sk in record_sks if (pk, sk) in found},
            extra={key: data_of(found[key]) for key in extra_keys if key in found},
        )

    def load_return(
        self, group: str, series_id: str, return_id: str, merchant_id: str, customer_id: str | None
    ) -> ReturnContext:
        """The return's claim, the series' id item (its prefix), the merchant and the customer
        in one BatchGetItem."""
        claim_key = (keys.store_credit_return_pk(group, series_id, return_id), keys.RETURN_CLAIM_SK)
        id_key = (keys.series_pk(group), keys.series_id_sk(series_id))
        merchant_key = (keys.merchants_pk(group), keys.merchant_sk(merchant_id))
        customer_key = (keys.customer_pk(group, customer_id), keys.CUSTOMER_SK) if customer_id else None
        wanted = [claim_key, id_key, merchant_key, *([customer_key] if customer_key else [])]
        found = batch_get(self._client, self._table, wanted)
        merchant = found.get(merchant_key)
        return ReturnContext(
            claim=data_of(found[claim_key]) if claim_key in found else None,
            series_prefix=str(found[id_key]["prefix"]) if id_key in found else None,
            merchant=Merchant.model_validate(data_of(merchant)) if merchant else None,
            customer_exists=customer_key is None or customer_key in found,
            customer_erased=bool(customer_key in found and data_of(found[customer_key]).get("erased")),
        )

    def commit(self, group: str, write: InstrumentWrite, expected_version: int | None) -> None:
        """Write the new state, its ledger entry and records atomically (StaleInstrument if raced).

        `expected_version` is the live item's as read (`Loaded.stored_version`); None creates it."""
        pk = keys.instrument_pk(group, write.instrument.number)
        actions = [
            self.put_action(instrument_item(group, write.instrument), new_or_version(expected_version)),
            self.put_action(
                item(
                    pk,
                    keys.instrument_entry_sk(write.entry.entry_no),
                    "instrument_entry",
                    write.entry.model_dump(mode="json", exclude_none=True),
                ),
                NEW_ONLY,
            ),
        ]
        actions += [
            self.put_action(item(pk, sk, kind, data), NEW_ONLY) for sk, kind, data in write.new_records
        ]
        actions += [self.put_action(item(pk, sk, kind, data)) for sk, kind, data in write.record_updates]
        actions += write.extra_actions
        try:
            self.transact(actions)
        except ConditionsFailed:
            raise StaleInstrument() from None

    def ledger_page(
        self, group: str, number: str, limit: int, cursor: str | None
    ) -> tuple[list[InstrumentEntry], str | None]:
        values, next_cursor = newest_first_page(
            self._client,
            self._table,
            keys.instrument_pk(group, number),
            keys.INSTRUMENT_ENTRY_PREFIX,
            limit,
            cursor,
        )
        return [InstrumentEntry.model_validate(v) for v in values], next_cursor
