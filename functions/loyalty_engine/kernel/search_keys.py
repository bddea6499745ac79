"""Key values of the member search's lookup items (kept apart from `keys`, which is full).

Two lookup partitions per group, each written in the same transaction as what it indexes:
- `G#<group>#CARDINDEX` / `CARD#<card code>`: one item per member card, written with the member
  item that creates it; a card code prefix is a `begins_with` Query of it, in card code order.
- `G#<group>#EMAILINDEX` / `EMAIL#<digest of the e-mail>#<customer id>`: one item per customer
  with an e-mail, written (moved, removed) with every save of the customer. The e-mail is
  normalised (trimmed, lower-case) and only its digest is in the key, so that the index holds no
  e-mail address; an e-mail search is a `begins_with` Query of its digest.
"""

from __future__ import annotations

import hashlib

CARD_LOOKUP_PREFIX = "CARD#"
EMAIL_LOOKUP_PREFIX = "EMAIL#"


def card_index_pk(group: str) -> str:
    return f"G#{group}#CARDINDEX"


def card_lookup_sk(card_code: str) -> str:
    return f"{CARD_LOOKUP_PREFIX}{card_code}"


def email_index_pk(group: str) -> str:
    return f"G#{group}#EMAILINDEX"


def normalised_email(email: str) -> str:
    return email.strip().lower()


def email_digest(email: str) -> str:
    """A fixed-length digest of the normalised e-mail (SHA-256, hex): no separator can clash."""
    return hashlib.sha256(normalised_email(email).encode()).hexdigest()


def email_lookup_prefix(email: str) -> str:
    return f"{EMAIL_LOOKUP_PREFIX}{email_digest(email)}#"


def email_lookup_sk(email: str, customer_id: str) -> str:
    return f"{email_lookup_prefix(email)}{customer_id}"
