"""Tiers and scheduled jobs: tier upgrades and downgrades, VIP tiers, points expiry, reconciliation.

Rules and models: rules (tier decisions), calendars, jobs (runs, shards, schedule specs).
Stores: job_store, schedule_store (EventBridge Scheduler). Use cases: run_use_cases (start,
work and close a run), vip_use_cases (VIP grants, tier history). context: the job functions'
services.
"""
