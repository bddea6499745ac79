"""A local stack for development and tests: moto, the table, seeded keys, an API gateway that
runs the Lambda handlers in-process, the queue deliveries and the program schedules fired on
a virtual clock, all from `loyalty_engine.wiring`.

    python -m local_stack serve   # make local
    python -m local_stack demo    # make demo
"""

from local_stack.stack import LocalStack

__all__ = ["LocalStack"]
