"""A member's timeline: ledger entries, tier changes, rewards and instruments in one paged view.

models · store · use_cases.
"""
