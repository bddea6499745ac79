"""Pure rules of the audit log (what is recorded, what a summary may show), of adjustments
(the ledger's `adjust`: the balance is the sum of the ledger, never negative) and of the
timeline's merge (every item once, newest first, whatever the page size)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_engine.audit.records import audit_object, expires_at, is_audited, summary_of
from loyalty_engine.kernel.errors import InsufficientPoints
from loyalty_engine.points import ledger
from loyalty_engine.points.ledger import Lot
from loyalty_engine.timeline.models import DONE, SOURCES, TimelineItem, decode, merge, start

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("route", "ids", "expected"),
    [
        ("/v1/members/{card_code}/adjustments", {"card_code": "123"}, "members/123"),
        (
            "/v1/members/{card_code}/orders/{order_id}/returns",
            {"card_code": "1", "order_id": "o"},
            "members/1",
        ),
        ("/v1/api-keys/{key_id}/rotations", {"key_id": "K"}, "api-keys/K"),
        ("/v1/api-keys", {}, "api-keys"),
        ("/v1/group/settings", {}, "group/settings"),
        ("/v1/imports/uploads", {}, "imports/uploads"),
    ],
)
def test_the_object_is_the_first_path_id(route, ids, expected):
    assert audit_object(route, ids) == expected


def test_a_created_key_is_its_own_object():
    key_id = "01JD0000000000000000000077"
    assert audit_object("/v1/api-keys", {}, {"key_id": key_id}) == f"api-keys/{key_id}"
    assert audit_object("/v1/api-keys", {}, {"code": "validation_error"}) == "api-keys"
    assert audit_object("/v1/api-keys", {}, {"key_id": "../x"}) == "api-keys"


def test_a_created_webhook_is_its_own_object():
    from loyalty_engine.webhooks.models import subscription_id_for

    hook_id = subscription_id_for("demo", "hook-1")
    assert audit_object("/v1/webhooks", {}, {"subscription_id": hook_id}) == f"webhooks/{hook_id}"
    assert (
        audit_object("/v1/webhooks/{subscription_id}", {"subscription_id": hook_id}) == f"webhooks/{hook_id}"
    )
    assert audit_object("/v1/webhooks", {}, {"subscription_id": "wh_../x"}) == "webhooks"
    assert audit_object("/v1/webhooks", {}, {"key_id": "01JD0000000000000000000077"}) == "webhooks"


def test_only_writes_of_admin_and_partner_keys_are_audited():
    assert is_audited("POST", ("admin",)) and is_audited("delete", ("partner",))
    assert is_audited("PUT", ("shop", "admin"))
    assert not is_audited("POST", ("shop",)) and not is_audited("GET", ("admin",))


def test_retention_defaults_to_a_year():
    assert expires_at(T0, None) == int((T0 + timedelta(days=365)).timestamp())
    assert expires_at(T0, 7) == int((T0 + timedelta(days=7)).timestamp())


free_text = st.tuples(st.text(min_size=3, max_size=15), st.text(max_size=15)).map(lambda t: f"{t[0]} @{t[1]}")


@settings(max_examples=200, deadline=None)
@given(
    body=st.dictionaries(
        st.sampled_from(["name", "email", "comment", "kind", "reason_code", "secret", "phone", "points"]),
        free_text,
        max_size=6,
    ),
    status=st.sampled_from([201, 409, 422]),
)
def test_a_summary_never_shows_free_text(body, status):
    summary = summary_of(body, status, {"code": "Bad Code <x@y.z>"} if status >= 400 else {})
    for value in body.values():
        assert value not in summary
    assert "x@y.z" not in summary and len(summary) <= 300


def test_a_summary_shows_harmless_values_and_names_the_rest():
    body = {"kind": "nq", "points": -5, "reason_code": "fraud", "comment": "called twice", "amount": "12.50"}
    assert summary_of(body, 409, {"code": "insufficient_points"}) == (
        "amount=12.50 kind=nq points=-5 reason_code=fraud; fields: comment; refused: insufficient_points"
    )
    assert summary_of(None, 201, None) == "no body"


# --- adjustments ------------------------------------------------------------------------------

lots_strategy = st.lists(
    st.tuples(
        st.sampled_from(["nq", "q"]),
        st.integers(1, 500),
        st.integers(-48, 48),  # available this many hours from T0
        st.one_of(st.none(), st.integers(-24, 200)),  # expires this many hours from T0
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(raw=lots_strategy, kind=st.sampled_from(["nq", "q"]), points=st.integers(-3000, 3000).filter(bool))
def test_an_adjustment_keeps_the_ledger_whole_and_never_negative(raw, kind, points):
    lots = [
        Lot(
            lot_id=f"L{n}",
            kind=k,
            points=p,
            available_at=T0 + timedelta(hours=a),
            expires_at=None if e is None else T0 + timedelta(hours=e),
        )
        for n, (k, p, a, e) in enumerate(raw)
    ]
    lots, _ = ledger.expire_due(lots, T0, lambda: "X")
    held = ledger.balance(lots, kind)
    try:
        after, entry = ledger.adjust(
            lots,
            kind=kind,
            points=points,
            now=T0,
            entry_id="ADJ",
            reference="k",
            reason_code="other",
            expires_at=None,
        )
    except InsufficientPoints:
        assert points < 0 and -points > held
        return
    assert ledger.balance(after, kind) == held + points
    assert (entry.nq if kind == "nq" else entry.q) == points
    assert entry.nq_balance == ledger.balance(after, "nq") and entry.q_balance == ledger.balance(after, "q")
    assert all(lot.points > 0 for lot in after)
    other = "q" if kind == "nq" else "nq"
    assert ledger.balance(after, other) == ledger.balance(lots, other)
    assert entry.kind == "adjustment" and entry.reason_code == "other"


def test_a_debit_takes_available_points_before_pending_ones():
    lots = [
        Lot(lot_id="pending", kind="nq", points=100, available_at=T0 + timedelta(days=1)),
        Lot(lot_id="late", kind="nq", points=100, available_at=T0, expires_at=T0 + timedelta(days=30)),
        Lot(lot_id="soon", kind="nq", points=100, available_at=T0, expires_at=T0 + timedelta(days=2)),
    ]
    after, entry = ledger.adjust(
        lots,
        kind="nq",
        points=-250,
        now=T0,
        entry_id="A",
        reference="k",
        reason_code="fraud",
        expires_at=None,
    )
    assert {m.lot_id: m.points for m in entry.movements} == {"soon": -100, "late": -100, "pending": -50}
    assert [(lot.lot_id, lot.points) for lot in after] == [("pending", 50)]


def test_an_nq_credit_respects_the_maximum_balance():
    lots = [Lot(lot_id="a", kind="nq", points=900, available_at=T0)]
    after, entry = ledger.adjust(
        lots,
        kind="nq",
        points=300,
        now=T0,
        entry_id="A",
        reference="k",
        reason_code="goodwill",
        expires_at=None,
        nq_max_balance=1000,
    )
    assert (entry.nq, entry.not_credited, ledger.balance(after, "nq")) == (100, 200, 1000)


# --- the timeline's merge ---------------------------------------------------------------------


POSITION_OF = {
    "ledger": lambda n: f"E#{n:012d}#00",
    "tier_change": lambda n: f"TIER#{n:012d}",
    "reward": lambda n: f"2026-01-01T00:00:{n:02d}+00:00#a{n}",
    "instrument": lambda n: f"{n:04d}",
}


def _source(name: str, times: list[int]) -> list[tuple[str, TimelineItem]]:
    """A source's items, newest first, with their positions (descending, as the Queries read)."""
    ordered = sorted(times, reverse=True)
    return [
        (
            POSITION_OF[name](len(ordered) - n),
            TimelineItem(
                at=T0 + timedelta(minutes=t), type="ledger", kind="k", summary="s", id=f"{name}{n}", detail={}
            ),
        )
        for n, t in enumerate(ordered)
    ]


@settings(max_examples=200, deadline=None)
@given(
    sources=st.fixed_dictionaries({name: st.lists(st.integers(0, 50), max_size=12) for name in SOURCES}),
    limit=st.integers(1, 7),
)
def test_pages_give_every_item_once_newest_first(sources, limit):
    data = {name: _source(name, times) for name, times in sources.items()}
    positions, cursor, seen, pages = start(), None, [], 0
    while True:
        fetched = {}
        for name in SOURCES:
            if positions[name] == DONE:
                continue
            after = positions[name]
            rows = [row for row in data[name] if after is None or row[0] < after]
            fetched[name] = rows[:limit]
        page = merge(fetched, positions, limit)
        seen += [(item.at, item.id) for item in page.items]
        pages += 1
        assert len(page.items) <= limit
        if page.next is None:
            break
        cursor = page.next
        positions = decode(cursor)
        assert pages < 200
    everything = [(item.at, item.id) for rows in data.values() for _, item in rows]
    assert sorted(seen) == sorted(everything)
    assert [at for at, _ in seen] == sorted((at for at, _ in seen), reverse=True)
