"""The instruments demo at the tills: each store's till, with an API key bound to its merchant,
sells and pays with gift cards, refunds, issues and spends store credit, takes coupons, and
meets a stolen card. Every scene checks each answer through the demo client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local_stack.demo_client import GROUP, DemoClient, error, field


@dataclass(frozen=True)
class Tills:
    """The stores' merchant ids: each names the store's till key in the client's keys."""

    paris: str
    lyon: str
    lille: str


def _number_of(body: Any) -> str:
    instrument = body.get("instrument") if isinstance(body, dict) else None
    return str(instrument.get("number")) if isinstance(instrument, dict) else "unknown"


def sell_and_pay(c: DemoClient, tills: Tills, card: str, other_card: str, suffix: str) -> None:
    """Paris sells `card`, Lyon and Lille pay with it, Lille refunds; `other_card` may not be sold."""
    sale = {"activation_id": f"P1-S-0001{suffix}", "value": "50.00"}
    sold = c.call(
        f"Paris sells card {card} for 50.00 EUR",
        "POST",
        f"/v1/instruments/{card}/activations",
        body=sale,
        key=(GROUP, tills.paris),
        expect=201,
        checks=(field("instrument.status", "active"), field("instrument.balance", "50.00")),
    )
    c.call(
        "the till retries the sale: the same answer, sold once",
        "POST",
        f"/v1/instruments/{card}/activations",
        body=sale,
        key=(GROUP, tills.paris),
        expect=201,
        checks=(lambda body: None if body == sold else "the retry's answer differs",),
    )
    c.call(
        "the Lille outlet may not sell gift cards (not a city store)",
        "POST",
        f"/v1/instruments/{other_card}/activations",
        body={"activation_id": f"L3-S-0001{suffix}", "value": "20.00"},
        key=(GROUP, tills.lille),
        expect=403,
        checks=(error("wrong_merchant_group"),),
    )
    c.call(
        "a shop key bound to no store may not sell either",
        "POST",
        f"/v1/instruments/{other_card}/activations",
        body={"activation_id": f"WEB-S-0001{suffix}", "value": "20.00"},
        key=(GROUP, "shop"),
        expect=403,
        checks=(error("merchant_required"),),
    )
    c.call(
        "Lyon: the card pays 12.50 EUR",
        "POST",
        f"/v1/instruments/{card}/redemptions",
        body={"redemption_id": f"L2-P-0001{suffix}", "amount": "12.50", "currency": "EUR"},
        key=(GROUP, tills.lyon),
        expect=201,
        checks=(field("instrument.balance", "37.50"),),
    )
    lille_payment = f"L3-P-0001{suffix}"
    c.call(
        "Lille accepts gift cards: the card pays 30.00 EUR",
        "POST",
        f"/v1/instruments/{card}/redemptions",
        body={"redemption_id": lille_payment, "amount": "30.00", "currency": "EUR"},
        key=(GROUP, tills.lille),
        expect=201,
        checks=(field("instrument.balance", "7.50"),),
    )
    c.call(
        "Lille: 10.00 EUR more is more than the card holds",
        "POST",
        f"/v1/instruments/{card}/redemptions",
        body={"redemption_id": f"L3-P-0002{suffix}", "amount": "10.00", "currency": "EUR"},
        key=(GROUP, tills.lille),
        expect=409,
        checks=(error("insufficient_balance"),),
    )
    c.call(
        "Lille cancels the basket: the 30.00 EUR go back to the card",
        "POST",
        f"/v1/instruments/{card}/redemptions/{lille_payment}/reversals",
        body={"reversal_id": f"L3-R-0001{suffix}"},
        key=(GROUP, tills.lille),
        expect=201,
        checks=(field("entry.kind", "reversal"), field("instrument.balance", "37.50")),
    )
    c.call(
        "and again: nothing is left to refund",
        "POST",
        f"/v1/instruments/{card}/redemptions/{lille_payment}/reversals",
        body={"reversal_id": f"L3-R-0002{suffix}"},
        key=(GROUP, tills.lille),
        expect=409,
        checks=(error("reversal_exceeds_redemption"),),
    )


def store_credit_for_a_return(c: DemoClient, tills: Tills, credit: str, suffix: str) -> str:
    """Lille issues store credit of the series `credit` on a return, Paris takes it; its number."""
    issued = c.call(
        "a return in Lille: 19.90 EUR of store credit instead of cash",
        "POST",
        f"/v1/series/{credit}/store-credits",
        body={"return_id": f"L3-RET-0001{suffix}", "amount": "19.90", "currency": "EUR"},
        key=(GROUP, tills.lille),
        expect=201,
        checks=(field("instrument.status", "active"), field("instrument.balance", "19.90")),
    )
    store_credit = _number_of(issued)
    c.call(
        f"Paris: store credit {store_credit} pays 19.90 EUR",
        "POST",
        f"/v1/instruments/{store_credit}/redemptions",
        body={"redemption_id": f"P1-P-0001{suffix}", "amount": "19.90", "currency": "EUR"},
        key=(GROUP, tills.paris),
        expect=201,
        checks=(field("instrument.balance", "0.00"),),
    )
    return store_credit


def take_coupons(
    c: DemoClient, tills: Tills, first_coupon: str, second_coupon: str, card: str, suffix: str
) -> None:
    """Coupons in the city stores only, used once; a mistyped card number is caught by its check digit."""
    c.call(
        f"Paris takes coupon {first_coupon}: 10 % off",
        "POST",
        f"/v1/instruments/{first_coupon}/redemptions",
        body={"redemption_id": f"P1-C-0001{suffix}"},
        key=(GROUP, tills.paris),
        expect=201,
        checks=(field("instrument.status", "redeemed"), field("instrument.discount.percent", "10")),
    )
    c.call(
        "the same coupon in Lyon: used already",
        "POST",
        f"/v1/instruments/{first_coupon}/redemptions",
        body={"redemption_id": f"L2-C-0001{suffix}"},
        key=(GROUP, tills.lyon),
        expect=409,
        checks=(error("already_used"),),
    )
    c.call(
        "another coupon in Lille: coupons are for the city stores",
        "POST",
        f"/v1/instruments/{second_coupon}/redemptions",
        body={"redemption_id": f"L3-C-0001{suffix}"},
        key=(GROUP, tills.lille),
        expect=403,
        checks=(error("wrong_merchant_group"),),
    )
    bad = card[:-1] + str((int(card[-1]) + 1) % 10)
    c.call(
        f"Lyon: the cashier mistypes the card number ({bad}): the check digit says so",
        "POST",
        f"/v1/instruments/{bad}/redemptions",
        body={"redemption_id": f"L2-P-0002{suffix}", "amount": "5.00", "currency": "EUR"},
        key=(GROUP, tills.lyon),
        expect=422,
        checks=(error("invalid_number"),),
    )


def cancel_stolen_card(c: DemoClient, tills: Tills, other_card: str, suffix: str) -> None:
    """The back office cancels `other_card`; Paris may not sell it then."""
    c.call(
        f"back office: card {other_card} was stolen from the shop window, cancel it",
        "POST",
        f"/v1/instruments/{other_card}/cancellations",
        body={"cancellation_id": f"BO-C-0001{suffix}", "reason": "stolen from the shop window"},
        expect=201,
        checks=(field("instrument.status", "cancelled"), field("entry.kind", "cancellation")),
    )
    c.call(
        "Paris tries to sell the stolen card: refused",
        "POST",
        f"/v1/instruments/{other_card}/activations",
        body={"activation_id": f"P1-S-0002{suffix}", "value": "20.00"},
        key=(GROUP, tills.paris),
        expect=409,
        checks=(error("cancelled"),),
    )
