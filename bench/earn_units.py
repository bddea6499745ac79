"""`earn_wcu_at_50_lots`: the write units of one earn for a member who holds 50 live lots.

In-process on moto, through the API handler (as `bench/run.py`'s warm path): a member is
enrolled and earns LOTS orders, then the next earn is metered (`bench/aws_hooks.WriteMeter`):
every item it writes, its size before and after, its table and gsi1 units.

Every order on the same day, so that all the lots expire in the same month (`points.lots`):
an earn rewrites the open chunk (under 1 KB), and about every sixth also moves the open
chunk's lots into the month's chunk, which grows with the month's lots (up to 16 KB). So the
figure is the mean over the 20 earns around the 50th (WINDOW: from the 41st to the 60th
order, three or four moves among them), with the 51st earn's items and the window's largest
earn beside it. Also metered: the first earn (no lot yet), and a burn after the orders (a
burn rewrites the chunks it takes points from).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from typing import Any

from bench.processes import ROOT

LOTS = 50
WINDOW = 10  # earns metered on either side of the LOTS-th: orders LOTS - 9 .. LOTS + 10


def measure(lots: int = LOTS) -> dict[str, Any]:
    with contextlib.redirect_stdout(io.StringIO()):  # the handler's EMF metrics lines
        return _measure(lots)


def _measure(lots: int) -> dict[str, Any]:
    from moto import mock_aws

    from bench.aws_hooks import WriteMeter
    from loyalty_engine.handlers.api_context import default_context
    from loyalty_engine.kernel.dynamo import client
    from tests.integration.conftest import ADMIN, SHOP
    from tests.support.api import call
    from tests.support.aws import create_table, fresh_caches
    from tests.support.clock import FakeClock

    os.environ.setdefault("TABLE_NAME", "loyalty-bench")
    earn = json.loads(json.loads((ROOT / "events/api_earn_order.json").read_text())["body"])

    def order(n: int) -> dict[str, Any]:
        # the same day for every order: every lot expires in the same month (one bucket)
        return {
            **earn,
            "order_id": f"wcu-{n:04d}",
            "ordered_at": f"2026-11-20T{8 + n // 60:02d}:{n % 60:02d}:00+01:00",
        }

    with mock_aws():
        fresh_caches()
        dynamodb = client()
        create_table(dynamodb, os.environ["TABLE_NAME"])
        default_context().clock = FakeClock()
        meter = WriteMeter(dynamodb, keep_items=True)
        assert call("api_put_program", ADMIN).status == 201
        assert call("api_enrol_member", SHOP).status == 201
        results: dict[str, Any] = {}
        window: list[int] = []
        standard: list[int] = []  # the same earns' units outside a transaction (1 per KB)
        for n in range(lots + WINDOW):
            meter.reset()
            reply = call("api_earn_order", SHOP, body=order(n))
            if reply.status != 201:
                raise RuntimeError(f"earn {n} refused: {reply.status} {reply.body}")
            if n in (0, lots):
                results["first_earn" if n == 0 else f"earn_at_{lots}_lots"] = _figures(meter)
            if n >= lots - WINDOW:
                window.append(meter.total_units())
                standard.append(_standard_units(meter))
        results["window"] = {
            "orders": f"{lots - WINDOW + 1}..{lots + WINDOW}",
            "write_units": window,
            "mean": round(sum(window) / len(window), 1),
            "max": max(window),
            "min": min(window),
            "mean_if_not_transactional": round(sum(standard) / len(standard), 1),
        }
        meter.reset()
        reply = call("api_burn_points", SHOP, body={"points": 1, "burn_id": "wcu-burn"})
        if reply.status != 201:
            raise RuntimeError(f"burn refused: {reply.status} {reply.body}")
        results[f"burn_at_{lots + 1}_lots"] = _figures(meter)
    return {"lots": lots, "case": "every order on the same day: one expiry month", **results}


def _standard_units(meter: Any) -> int:
    return sum(c["units_if_not_transactional"] for c in meter.by_operation.values())


def _figures(meter: Any) -> dict[str, Any]:
    return {
        "write_units": meter.total_units(),
        "write_units_if_not_transactional": _standard_units(meter),
        "items": list(meter.items),
    }


if __name__ == "__main__":
    import sys

    sys.path[:0] = [str(ROOT), str(ROOT / "functions")]
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else LOTS), indent=2))
