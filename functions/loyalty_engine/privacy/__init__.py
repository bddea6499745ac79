"""Privacy: export everything held about a customer or a member card, and erase their personal
data while the ledger keeps its amounts under pseudonymous ids (docs/privacy.md)."""
