"""Imports: partner CSV files (members, VIP tiers, rewards), from an S3 notification to a report.

Rules and models: files (names, keys, CSV reading), rows and rows_members (per-scope line checks), jobs (an
import's state), reports. store (jobs, skipped lines, the drain lock). Use cases: messages (the
queue's messages) → drain (a group's files in order, under its lock) → apply (one file: check,
then chunks with checkpoints) → apply_member / apply_vip / apply_masterreward / apply_earnreward /
apply_burnreward (one chunk of each scope; chunks holds what they share, stock the earn chunk's reservations) →
finish (reports, final state). use_cases: the status routes. context: the importer's services.
"""
