"""Domain events: one typed event per committed change, read from the table's stream.

Models: `models.py` (the envelope and one model per kind). Rules: `rules.py` (which stream
record makes which event; pure). Store: `bus_store.py` (PutEvents to the stage's bus, in
chunks, failed entries retried). Use cases: `use_cases.py` (a stream batch to the bus).
"""
