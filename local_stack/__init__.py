"""A local stack for development and tests (`local_stack.stack.LocalStack`): moto, the table,
seeded keys, an API gateway that runs the Lambda handlers in-process, the queue deliveries and
the program schedules fired on a virtual clock, all from `loyalty_engine.wiring`.

    python -m local_stack serve   # make local
    python -m local_stack demo    # make demo
"""
