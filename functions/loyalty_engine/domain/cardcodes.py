"""Card codes: prefix + random digits + a Luhn check digit."""

from __future__ import annotations

import secrets

from loyalty_engine.domain.programs import CardCodeSettings

# Any card code a program accepts (imported or generated).
CARD_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{3,39}$"


def luhn_check_digit(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: the check digit will sit to the right
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def is_valid_luhn(code: str) -> bool:
    return code.isdigit() and len(code) >= 2 and luhn_check_digit(code[:-1]) == code[-1]


def generate_card_code(settings: CardCodeSettings) -> str:
    random_len = settings.length - len(settings.prefix) - 1
    body = settings.prefix + "".join(secrets.choice("0123456789") for _ in range(random_len))
    return body + luhn_check_digit(body)
