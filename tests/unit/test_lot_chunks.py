"""Where lots are stored (`points.lots.layout`): every live lot in exactly one chunk, no chunk
over its size, a lot that was placed stays where it is, and a write changes few chunks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_engine.points.ledger import Lot
from loyalty_engine.points.lots import (
    MONTH_CHUNK_BYTES,
    OPEN,
    OPEN_CHUNK_BYTES,
    chunks_as_read,
    decode_all,
    encode_all,
    layout,
    pack,
    slot_key,
    slots_of,
    unpack,
)

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def lots_of_order(n: int, *, days: int = 365, points: int = 10) -> list[Lot]:
    lot_id = f"L{n:06d}"
    expires = T0 + timedelta(days=days, minutes=n)
    return [
        Lot(
            lot_id=lot_id,
            kind="nq",
            points=points * 10,
            available_at=T0,
            expires_at=expires,
            order_id=f"O-{n}",
        ),
        Lot(lot_id=lot_id, kind="q", points=points, available_at=T0, expires_at=expires, order_id=f"O-{n}"),
    ]


def stored(lots: list[Lot], slots: dict[str, str]) -> tuple[dict[str, list[Lot]], dict[str, str]]:
    chunks = layout(lots, slots)
    return chunks, slots_of(chunks)


def test_new_lots_land_in_the_open_chunk_until_it_is_full_then_move_to_their_month():
    lots: list[Lot] = []
    slots: dict[str, str] = {}
    moves = 0
    for n in range(100):
        before, before_slots = chunks_as_read(lots, slots), slots
        lots = [*lots, *lots_of_order(n)]
        chunks, slots = stored(lots, before_slots)
        changed = {name for name in before.keys() | chunks.keys() if before.get(name) != chunks.get(name)}
        assert OPEN in changed
        if len(changed) > 1:
            moves += 1
            # the open chunk's lots and the new ones went to the month's NQ and Q chunks
            assert changed <= {OPEN, "202711#nq#0000", "202711#q#0000"}, changed
        assert len(pack(chunks.get(OPEN, []))) <= OPEN_CHUNK_BYTES
    # a lot here is about 50 bytes of text and a tenth of that packed: 40 to 70 orders fill 850
    assert 1 <= moves <= 2, moves
    assert sorted(map(slot_key, (lot for chunk in chunks.values() for lot in chunk))) == sorted(
        map(slot_key, lots)
    )


def test_a_full_month_chunk_opens_the_next_one():
    lots = [lot for n in range(1000) for lot in lots_of_order(n)]  # about 50 KB of each kind
    chunks = layout(lots, {})  # all new at once: straight to the months' chunks
    names = sorted(chunks)
    assert "202711#nq#0000" in names and "202711#nq#0001" in names and "202711#nq#0002" in names
    assert all(len(encode_all(lots)) <= MONTH_CHUNK_BYTES for lots in chunks.values())
    assert all(lot.kind == "nq" for name, chunk in chunks.items() if "#nq#" in name for lot in chunk)


def test_a_lot_that_was_placed_stays_in_its_chunk_when_its_points_change():
    lots = [lot for n in range(100) for lot in lots_of_order(n)]
    chunks, slots = stored(lots, {})
    spent = [
        lot.model_copy(update={"points": 0}) if lot.kind == "nq" and lot.lot_id < "L000030" else lot
        for lot in lots
    ]
    after = layout(spent, slots)
    # the spent lots left; every other lot is in the chunk it was in
    assert all(slots[slot_key(lot)] == name for name, chunk in after.items() for lot in chunk)
    assert sum(len(chunk) for chunk in after.values()) == len(lots) - 30
    assert after["202711#q#0000"] == chunks["202711#q#0000"]  # the Q chunk is not rewritten


def test_a_chunk_keeps_each_lot_with_its_kind():
    lots = [*lots_of_order(1), Lot(lot_id="N", kind="nq", points=5, available_at=T0)]
    assert decode_all(encode_all(lots)) == lots
    assert unpack(pack(lots)) == lots


def test_a_chunk_is_stored_packed_and_a_plain_chunk_of_an_earlier_release_still_reads():
    lots = [lot for n in range(40) for lot in lots_of_order(n)]
    assert len(pack(lots)) * 4 < len(encode_all(lots))
    assert unpack(encode_all(lots)) == lots
    old_layout = encode_all([lot.model_copy(update={"kind": "nq"}) for lot in lots[::2]]).replace(',"nq"', "")
    assert unpack(old_layout, "nq") == lots[::2]  # one kind per item, the kind left out


def test_a_lot_read_without_its_slot_is_refused():
    try:
        chunks_as_read(lots_of_order(1), {})
    except ValueError as error:
        assert "not read from a chunk" in str(error)
    else:
        raise AssertionError("a lot without a slot was accepted")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("earn"), st.integers(1, 1200), st.integers(1, 500)),
            st.tuples(st.just("spend"), st.integers(0, 10**6), st.integers(1, 400)),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_every_live_lot_is_stored_once_and_no_chunk_is_too_large(operations):
    lots: list[Lot] = []
    slots: dict[str, str] = {}
    chunks: dict[str, list[Lot]] = {}
    for n, (operation, a, b) in enumerate(operations):
        if operation == "earn":
            lots = [*lots, *lots_of_order(n, days=a, points=b)]
        else:  # take points from some lots, emptying a few
            lots = [
                lot.model_copy(update={"points": max(0, lot.points - b)})
                if (int(lot.lot_id[1:]) + a) % 3 == 0
                else lot
                for lot in lots
            ]
        before = chunks_as_read(lots_as_read := [lot for chunk in chunks.values() for lot in chunk], slots)
        assert sum(len(c) for c in before.values()) == len(lots_as_read)
        chunks, new_slots = stored(lots, slots)
        held = [lot for lot in lots if lot.points > 0]
        placed = [lot for chunk in chunks.values() for lot in chunk]
        assert sorted(map(slot_key, placed)) == sorted(map(slot_key, held))
        assert all(placed_lot in held for placed_lot in placed)
        for name, chunk in chunks.items():
            assert chunk, name  # no empty chunk is kept
            if name == OPEN:
                assert len(pack(chunk)) <= OPEN_CHUNK_BYTES, name
            else:
                assert len(encode_all(chunk)) <= MONTH_CHUNK_BYTES, name
        # a lot that was in a month chunk is still there
        assert all(
            new_slots[key] == chunk for key, chunk in slots.items() if chunk != OPEN and key in new_slots
        )
        slots, lots = new_slots, held
