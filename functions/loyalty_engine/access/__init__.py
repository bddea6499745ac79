"""Access: loyalty groups (the tenants), their API keys, and the authorizer's check.

models (groups, keys, the caller; token parsing and verification) · store (the group's
partition: group and keys) · use_cases (create a key, authorize a presented key) · caller (the
authorizer's context, to and from a Caller).
"""
