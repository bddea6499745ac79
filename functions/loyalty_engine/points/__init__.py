"""Points: programs, members, the ledger of lots, orders, returns, burns, earning rules.

Rules and models: programs, members, ledger, orders, cardcodes, tier_history, job_names.
Stores: program_store, member_store. Use cases: program_use_cases, member_use_cases,
point_use_cases. context: the port the use cases need, and the per-container program cache.
"""
