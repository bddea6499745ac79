"""The local stack's domain events: the table has its stream, a loop feeds it to the real
publisher, and the events reach `loyalty-engine-local` (captured by a rule -> SQS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_stack.stack import LocalStack
from loyalty_engine.events.models import SOURCE, bus_name
from tests.support.local import bus_queue, earn, program_with_member, received


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack.start() as running:
        yield running


def test_an_enrolment_on_the_local_stack_reaches_the_local_bus(stack: LocalStack) -> None:
    assert stack.resources.event_bus_name == bus_name("local")
    url = bus_queue(stack, "enrolments", "member.enrolled")
    program_with_member(stack, "local-ev", "LOCAL-EV-1")
    stack.wait_for_events()
    (envelope,) = received(stack, url)
    assert envelope["detail-type"] == "member.enrolled" and envelope["source"] == SOURCE
    assert envelope["detail"]["card_code"] == "LOCAL-EV-1" and envelope["detail"]["group"] == "demo"
    assert stack.stream("EventsPublisher").given_up == []


def test_an_earn_on_the_local_stack_reaches_the_local_bus_with_its_packed_lots_in_the_stream(
    stack: LocalStack,
) -> None:
    """An earn writes the member's lots as a binary (packed) attribute: the stream hands it to
    the publisher as Lambda does (base64 text), and the earn's event is published."""
    url = bus_queue(stack, "earns", "points.earned")
    program_with_member(stack, "local-earn", "LOCAL-EV-2")
    earn(stack, "LOCAL-EV-2", "LOCAL-O-1", "42.00", "2026-11-20T15:04:05+01:00")
    stack.wait_for_events()
    assert stack.stream("EventsPublisher").given_up == []
    (envelope,) = received(stack, url)
    assert envelope["detail"]["card_code"] == "LOCAL-EV-2"
    assert envelope["detail"]["reference"] == "LOCAL-O-1" and envelope["detail"]["nq"] == 420
