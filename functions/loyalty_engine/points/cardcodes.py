"""Card codes: prefix + random digits + a Luhn check digit."""

from __future__ import annotations

import secrets

from loyalty_engine.kernel.luhn import luhn_check_digit
from loyalty_engine.points.programs import CardCodeSettings

# Any card code a program accepts (imported or generated).
CARD_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{3,39}$"


def generate_card_code(settings: CardCodeSettings) -> str:
    random_len = settings.length - len(settings.prefix) - 1
    body = settings.prefix + "".join(secrets.choice("0123456789") for _ in range(random_len))
    return body + luhn_check_digit(body)
