"""The messages of the webhook deliveries' queue: one per (subscription, event, attempt)."""

from pydantic import ConfigDict

from loyalty_engine.kernel.model import DeferredModel


class DeliveryMessage(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str
    subscription_id: str
    event_id: str
    attempt: int  # the attempt this message is for (1: the first)
    first_at: float  # unix seconds of the first attempt: retries go on for the window from it
    due_at: float  # not attempted before (a wait longer than SQS's 900 s is made of hops)
    redelivery: bool = False  # asked for by an admin: sent even if delivered before
    redrive: bool = False  # a dead letter (given up): sent once more if its event is still given up
