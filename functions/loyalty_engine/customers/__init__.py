"""Customers: customers, customer groups, and the links of cards and instruments to customers.

models · store · use_cases.
"""
