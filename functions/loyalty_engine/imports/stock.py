"""Stock reservations of an earnreward chunk: one reservation per reward per chunk, of
exactly the units its lines will use, handed out to the lines in their order: a line takes its
units if they are left, else it is refused and the next line is judged on what is left (as a
buy through the API), so the lines served do not depend on where chunks begin. An unlimited
reward's reservation only counts its units (its `taken`), so that a limit set later caps the
total attributed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from loyalty_engine.imports.chunks import ChunkOutcome
from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.files import Record
from loyalty_engine.imports.jobs import ImportJob
from loyalty_engine.imports.rows import EarnLine
from loyalty_engine.rewards.codes import CodeSource
from loyalty_engine.rewards.models import MasterReward


@dataclass
class Units:
    next_unit: int
    left: int
    # the stock's units beyond this reservation when it was made (None: not read), and its whole
    # limit: what a refused line's message says was left (`stock_left`)
    spare: int | None = None
    limit: int | None = None

    def stock_left(self) -> int | None:
        """Units left in the stock for the line being judged, when known."""
        return None if self.spare is None else self.left + self.spare

    def take(self, quantity: int) -> int | None:
        if quantity > self.left:
            return None  # this line does not fit; a later, smaller one may (as `fitting` counted)
        first = self.next_unit
        self.next_unit += quantity
        self.left -= quantity
        return first


def fitting(quantities: list[int], available: int) -> int:
    """Units of the lines that fit in `available`, taken in line order: a line that does not fit
    is passed over, a later one that fits what is left takes it. Handing `total` units out to
    the same lines in the same way (`Units.take`) serves exactly those lines, so a replay that
    gets the reservation back serves them again."""
    total = 0
    for quantity in quantities:
        if total + quantity <= available:
            total += quantity
    return total


def reserve_units(
    svc: ImportServices,
    group: str,
    job: ImportJob,
    candidates: list[tuple[Record, EarnLine, MasterReward, str, bool]],
    outcome: ChunkOutcome,
) -> dict[str, Units]:
    """One stock reservation per reward per chunk, of exactly the units its lines will use
    (replays get the first reservation back). Every line of an unlimited reward fits: its
    reservation counts them all."""
    demand: dict[str, list[int]] = defaultdict(list)
    named: dict[str, MasterReward] = {}
    for _, line, reward, _, _ in candidates:
        demand[reward.external_id].append(line.quantity)
        named[reward.external_id] = reward
    # a loaded-codes reward's stock is its codes loaded so far: one read for those rewards only
    loaded = sorted(e for e, reward in named.items() if reward.codes == CodeSource.LOADED)
    stocks = svc.rewards.stocks_of(group, loaded) if loaded else {}
    units: dict[str, Units] = {}
    for external_id, quantities in sorted(demand.items()):
        reward = named[external_id]
        if reward.stock_limit is None:
            total = sum(quantities)
            counted = svc.rewards.reserve(group, external_id, job.import_id, job.chunk, total, None)
            outcome.reserved.add(external_id)
            # None: a replay whose markers two later chunks replaced: its first attempt counted them
            units[external_id] = Units(counted.first_unit if counted else 0, total)
            continue
        limit = reward.limit_with(stocks[external_id].loaded if external_id in stocks else 0) or 0
        wanted = fitting(quantities, limit)
        reservation = None
        available: int | None = None  # the stock left before this chunk, once read
        for _ in range(20):
            if wanted == 0:
                break
            reservation = svc.rewards.reserve(group, external_id, job.import_id, job.chunk, wanted, limit)
            if reservation is not None:
                break
            stock = svc.rewards.stock(group, external_id)
            limit = reward.limit_with(stock.loaded) or 0
            available = max(0, limit - stock.taken)
            wanted = fitting(quantities, available)
        outcome.reserved.add(external_id)
        if reservation is not None:
            available = max(0, limit - (reservation.first_unit - 1))  # units are numbered from 1
            units[external_id] = Units(
                reservation.first_unit, reservation.units, max(0, available - reservation.units), limit
            )
        else:
            units[external_id] = Units(0, 0, available, limit)
    return units
