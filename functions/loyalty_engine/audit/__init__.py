"""The audit log: who wrote what, with which key, and what the API answered.

records · store · use_cases.
"""
