"""Access: loyalty groups (the tenants), their API keys, and the authorizer's check.

models (groups, keys, the caller; token parsing and verification) · key_rules (a key's
lifecycle, pure: rotation grace, expiry, revocation, the admin's view) · store (the group's
partition: group and keys) · use_cases (authorize a presented key, the group's settings) ·
key_use_cases (create, list, read, rotate, revoke keys) · caller (the authorizer's context, to
and from a Caller).
"""
