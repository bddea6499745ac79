"""moto's SQS receive without a scan of the whole queue per message received (the local stack's moto).

For every message it hands out, moto checks the message's retention period by asking for the
queue's attributes, and computing them counts the queue's messages (visible, in flight, delayed)
several times over, with the clock read per message. A receive of 10 messages from a queue with
thousands waiting then took seconds, and a queue whose poller had fallen behind (thousands of
domain events in the webhooks' queue) slowed every request of the stack, which moto serves one
at a time, to minutes. SQS has no such cost.

Here the retention period is read from the queue itself: the same value, the same rule (a
message sent longer ago than the period is no longer received), the rest of moto's receive as
it is. A receive still looks at every waiting message once, and a send still counts them (for
its queue's attributes): linear, no longer tens of times over per receive.
"""

from __future__ import annotations

from typing import Any

_installed = False


def retention_without_queue_scan() -> None:
    """Install the change in this process's moto backend (once; later calls do nothing)."""
    global _installed
    if _installed:
        return
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = self.get_queue(queue_name).message_retention_period
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    _installed = True
