"""An attribution's state at an instant (rewards.views.status_at): its window is
[valid_from, valid_until), as a burn's date must fall in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loyalty_engine.rewards.models import Attribution
from loyalty_engine.rewards.views import AttributionView, status_at

FROM = datetime(2026, 12, 13, 12, tzinfo=UTC)
UNTIL = FROM + timedelta(days=14)


def attribution(quantity: int = 2, burned: int = 0) -> Attribution:
    return Attribution(
        attribution_id="A-1",
        reward_id="spa",
        card_code="2990000000017",
        program_id="club",
        quantity=quantity,
        codes=[],
        earned_at=FROM - timedelta(days=3),
        valid_from=FROM,
        valid_until=UNTIL,
        nqp_spent=100,
        source="api:BUY-1",
        created_at=FROM - timedelta(days=3),
        burned=burned,
    )


def test_the_state_follows_the_window_and_the_units_left():
    second = timedelta(seconds=1)
    assert status_at(attribution(), FROM - second) == "pending"
    assert status_at(attribution(), FROM) == "available"
    assert status_at(attribution(), UNTIL - second) == "available"
    assert status_at(attribution(), UNTIL) == "expired"
    assert status_at(attribution(burned=1), UNTIL) == "expired"  # a unit left when it ran out
    assert status_at(attribution(burned=2), FROM) == "burned"
    assert status_at(attribution(burned=2), UNTIL + second) == "burned"
    view = AttributionView.of(attribution(), FROM)
    assert view.status == "available" and view.model_dump(exclude={"status"}) == attribution().model_dump()
