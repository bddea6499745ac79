"""Reward codes: generated ones (cryptographic random) and a reward's stock of loaded ones.

A master reward says where its codes come from (`codes`):
- `generated`: each unit attributed gets a fresh code of 20 Crockford base32 characters
  (100 bits) drawn from `secrets`; its stock is `max_attribution_count` units (or unlimited
  when auto-generated and not limited), as before.
- `loaded`: the stock is the codes loaded for it (API or `rewardcode` file), handed out in
  load order, each once. Loading more codes refills it.
"""

import base64
import re
import secrets
from enum import StrEnum

from pydantic import ConfigDict, Field, field_validator

from loyalty_engine.kernel.errors import Conflict
from loyalty_engine.kernel.model import DeferredModel

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # no I, L, O, U: nothing to misread
GENERATED_LENGTH = 20  # x 5 bits = 100 bits
CODE_MAX = 64
# Visible ASCII only: no spaces, no control characters, nothing a terminal or a spreadsheet
# would read differently from what is printed on a voucher.
CODE_PATTERN = r"^[!-~]{1,64}$"
_CODE = re.compile(CODE_PATTERN)
MAX_CODES_PER_CALL = 500


class CodeSource(StrEnum):
    GENERATED = "generated"
    LOADED = "loaded"


# base64's base32 alphabet, letter for letter, to Crockford's
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD.encode())
_RANDOM_BYTES = (GENERATED_LENGTH * 5 + 7) // 8  # 13 bytes: 104 bits, of which 100 are used


def generate_code() -> str:
    """A new code: 20 characters of Crockford base32 (100 bits) from the operating system's
    CSPRNG, each character 5 bits of it (base32 in C: a twentieth of the time of choosing the
    characters one by one, which was a sixth of an earnreward import's CPU time)."""
    encoded = base64.b32encode(secrets.token_bytes(_RANDOM_BYTES))[:GENERATED_LENGTH]
    return encoded.translate(_TO_CROCKFORD).decode()


def generate_codes(quantity: int) -> list[str]:
    return [generate_code() for _ in range(quantity)]


def code_problem(code: str) -> str | None:
    """Why a loaded code is refused, or None when it is acceptable."""
    if not code:
        return "a code is not empty"
    if len(code) > CODE_MAX:
        return f"a code is at most {CODE_MAX} characters"
    if not _CODE.fullmatch(code):
        return "a code is visible ASCII characters only (no spaces, no control characters)"
    return None


class LoadCodesRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    codes: list[str] = Field(
        min_length=1,
        max_length=MAX_CODES_PER_CALL,
        description=f"Codes to add to the stock, in the order they are to be handed out "
        f"(at most {MAX_CODES_PER_CALL} per call; visible ASCII, 1..{CODE_MAX} characters). "
        "A code already loaded for this reward is not added again.",
    )

    @field_validator("codes")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        for index, code in enumerate(value):
            problem = code_problem(code)
            if problem:
                raise ValueError(f"codes[{index}]: {problem}")
        return value


class CodeStock(DeferredModel):
    reward_id: str = Field(description="The master reward's external_id")
    codes: CodeSource
    loaded: int = Field(ge=0, description="Codes loaded so far")
    handed_out: int = Field(ge=0, description="Codes handed out to attributions")
    left: int = Field(ge=0, description="Codes loaded and not handed out yet")


class LoadResult(CodeStock):
    added: int = Field(ge=0, description="Codes of this call added to the stock")
    already_loaded: int = Field(
        ge=0, description="Codes of this call that were loaded before (or twice in it)"
    )


class CodePage(CodeStock):
    remaining_codes: list[str] = Field(description="The next codes to be handed out, in order")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


def codes_exhausted(reward_id: str) -> Conflict:
    return Conflict(
        f"reward {reward_id!r} has no loaded code left: load more codes",
        code="reward_codes_exhausted",
        details=[{"field": "reward_id", "reason": "reward_codes_exhausted"}],
    )


def codes_not_loaded(reward_id: str) -> Conflict:
    return Conflict(
        f"reward {reward_id!r} generates its codes: codes can only be loaded for a reward with codes=loaded",
        code="codes_not_loaded",
    )
