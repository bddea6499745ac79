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
            return None  # this line does not fit; a later, smaller one may (as `serving` counted)
        first = self.next_unit
        self.next_unit += quantity
        self.left -= quantity
        return first


Line = tuple[str, str, int]  # a candidate line's reward, attribution id and quantity


def serving(lines: list[Line], capacity: dict[str, int | None]) -> dict[str, int]:
    """Units each reward's lines use, judged in line order: a line whose attribution id an earlier
    line took is passed over (a duplicate), a line that does not fit what is left of its reward's
    `capacity` is passed over (a later, smaller one may fit), None is unlimited. A line refused
    for stock takes no id: a later line with it is judged on its own. Handing a reward's reserved
    units out to the same lines in the same way (`Units.take`) serves exactly those lines, so a
    replay that gets the reservations back serves them again."""
    used: dict[str, int] = defaultdict(int)
    taken: set[str] = set()
    for external_id, attribution_id, quantity in lines:
        room = capacity.get(external_id)
        if attribution_id in taken or (room is not None and used[external_id] + quantity > room):
            continue
        used[external_id] += quantity
        taken.add(attribution_id)
    return used


def reserve_units(
    svc: ImportServices,
    group: str,
    job: ImportJob,
    candidates: list[tuple[Record, EarnLine, MasterReward, str, bool]],
    outcome: ChunkOutcome,
) -> dict[str, Units]:
    """One stock reservation per reward per chunk, of exactly the units its lines will use
    (replays get the first reservation back). Every line of an unlimited reward fits: its
    reservation counts them all. The lines a reward serves can depend on another reward's when
    they share an attribution id (a line refused for stock leaves its id to a later line): such
    rewards' stock is read first, with the loaded-codes rewards', so that their lines are judged
    on what is left rather than on their whole stock."""
    named = {reward.external_id: reward for _, _, reward, _, _ in candidates}
    lines = [(reward.external_id, a, line.quantity) for _, line, reward, a, _ in candidates]
    owners: dict[str, set[str]] = defaultdict(set)
    for external_id, attribution_id, _ in lines:
        owners[attribution_id].add(external_id)
    shared = {e for rewards in owners.values() if len(rewards) > 1 for e in rewards}
    read = sorted(
        e
        for e, reward in named.items()
        if reward.codes == CodeSource.LOADED or (e in shared and reward.stock_limit is not None)
    )
    stocks = svc.rewards.stocks_of(group, read, (job.import_id, job.chunk)) if read else {}
    capacity: dict[str, int | None] = {}
    for external_id, reward in named.items():
        limit = reward.limit_with(stocks[external_id].loaded if external_id in stocks else 0)
        if limit is not None and external_id in shared:
            limit = max(0, limit - stocks[external_id].taken)
        capacity[external_id] = limit
    units: dict[str, Units] = {}
    for external_id in sorted(named):
        reward = named[external_id]
        if reward.stock_limit is None:
            total = serving(lines, capacity)[external_id]
            counted = svc.rewards.reserve(group, external_id, job.import_id, job.chunk, total, None)
            outcome.reserved.add(external_id)
            # None: a replay whose markers two later chunks replaced: its first attempt counted them
            units[external_id] = Units(counted.first_unit if counted else 0, total)
            continue
        limit = reward.limit_with(stocks[external_id].loaded if external_id in stocks else 0) or 0
        wanted = serving(lines, capacity)[external_id]
        reservation = None
        available: int | None = capacity[external_id] if external_id in shared else None
        for _ in range(20):
            if wanted == 0:
                break
            reservation = svc.rewards.reserve(group, external_id, job.import_id, job.chunk, wanted, limit)
            if reservation is not None:
                break
            stock = svc.rewards.stock(group, external_id)
            limit = reward.limit_with(stock.loaded) or 0
            available = capacity[external_id] = max(0, limit - stock.taken)
            wanted = serving(lines, capacity)[external_id]
        outcome.reserved.add(external_id)
        if reservation is not None:
            available = max(0, limit - (reservation.first_unit - 1))  # units are numbered from 1
            units[external_id] = Units(
                reservation.first_unit, reservation.units, max(0, available - reservation.units), limit
            )
        else:
            units[external_id] = Units(0, 0, available, limit)
        capacity[external_id] = units[external_id].left  # what the lines will be handed, exactly
    return units
