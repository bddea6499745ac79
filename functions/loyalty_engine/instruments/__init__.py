"""Instruments: merchants and merchant groups, series, numbers, pre-issue batches, gift cards,
store credit and coupons at the point of sale.

Rules and models: merchants, series, numbers, batches, instrument. Stores: merchant_store,
series_store, instrument_store. Use cases: merchant_use_cases, series_use_cases (series and
batches), instrument_use_cases (sell, redeem, reverse, store credit, cancel, look up).
context: the instrument functions' services.
"""
