"""Rewards: the master reward catalog, its stock, attributions, buying and burning them.

models (rules) · store · use_cases (the API's; partner files go through `imports`).
"""
