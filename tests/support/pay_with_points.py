"""The program, the merchant keys (tills) and the acceptor group of the pay-with-points tests
(seed 004)."""

from __future__ import annotations

import json
from typing import Any

from loyalty_engine.access.models import Caller
from tests.support.api import load_event

ACCEPTORS = "points-acceptors"


def till(merchant_id: str | None) -> Caller:
    return Caller(
        group_id="demo", key_id="01JD0000000000000000000021", scopes=("shop",), merchant_id=merchant_id
    )


TILL = till("till-1")
OTHER_TILL = till("till-2")
OUTSIDER = till("outsider")
GHOST = till("ghost")
NO_MERCHANT = till(None)


def program_body(**overrides: Any) -> dict[str, Any]:
    body = json.loads(load_event("api_put_program")["body"])
    body["payment"] = {"rate": "10", "currency": "EUR", "acceptor_merchant_group": ACCEPTORS}
    return {**body, **overrides}
