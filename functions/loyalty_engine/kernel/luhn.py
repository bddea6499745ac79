"""The Luhn check digit of card codes and instrument numbers."""

from __future__ import annotations


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
