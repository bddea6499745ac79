"""The deliveries' queue (and its dead-letter queue), for the dispatcher, the delivery worker
and the API's redeliveries."""

from __future__ import annotations

from loyalty_engine.kernel.objects import MessageQueue
from loyalty_engine.webhooks.messages import DeliveryMessage


class DeliveryQueue:
    def __init__(self, queue: MessageQueue, dead_letters: MessageQueue | None = None):
        self._queue = queue
        self._dead_letters = dead_letters
        self.sent = 0  # messages sent (the bench counts them)

    def send(self, messages: list[DeliveryMessage], delay_s: int = 0) -> None:
        self.sent += len(messages)
        if delay_s == 0:
            self._queue.send_all([message.model_dump() for message in messages])
            return
        for message in messages:
            self._queue.send(message.model_dump(), delay_s)

    def give_up(self, message: DeliveryMessage) -> None:
        """The message of an event given up on, to the dead-letter queue (for an operator)."""
        if self._dead_letters is not None:
            self._dead_letters.send(message.model_dump())
