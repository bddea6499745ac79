"""Webhooks: a group's subscriptions to its domain events, delivered signed to HTTPS endpoints
outside AWS (models, signing, URL rules, retry schedule; store; use cases)."""
