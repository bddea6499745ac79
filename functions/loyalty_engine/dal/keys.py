"""Key values of every item type. Every partition key begins with the loyalty group."""

from __future__ import annotations

import zlib

from loyalty_engine.table import MEMBER_SHARDS

GROUP_SK = "GROUP"
MEMBER_SK = "MEMBER"
ENTRY_PREFIX = "E#"


def group_pk(group: str) -> str:
    return f"G#{group}"


def member_pk(group: str, card_code: str) -> str:
    return f"G#{group}#C#{card_code}"


def key_sk(key_id: str) -> str:
    return f"KEY#{key_id}"


def program_sk(program_id: str) -> str:
    return f"PROGRAM#{program_id}"


def program_name_sk(name: str) -> str:
    return f"PROGRAMNAME#{name.casefold()}"


def idempotency_sk(operation: str, key: str) -> str:
    return f"IDEM#{operation}#{key}"


def entry_sk(member_version: int, position: int) -> str:
    """Ledger order is commit order: the member version a write creates, then the entry's place in it.

    (Not the entry's ULID: ids from containers whose clocks differ could sort against commit order.)
    """
    return f"{ENTRY_PREFIX}{member_version:012d}#{position:02d}"


def order_sk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def burn_sk(burn_id: str) -> str:
    return f"BURN#{burn_id}"


def return_sk(order_id: str, return_id: str) -> str:
    return f"RETURN#{order_id}#{return_id}"


def member_shard(card_code: str) -> int:
    return zlib.crc32(card_code.encode()) % MEMBER_SHARDS


def program_members_gsi1pk(group: str, program_id: str, shard: int) -> str:
    return f"G#{group}#P#{program_id}#S{shard:02d}"


# Rewards: the catalog is one item collection per group (listed by a Query on it); the
# stock counter of a reward is a separate item so that catalog updates never touch it.
def rewards_pk(group: str) -> str:
    return f"G#{group}#REWARDS"


REWARD_PREFIX = "R#"
STOCK_PREFIX = "STOCK#"


def reward_sk(external_id: str) -> str:
    return f"{REWARD_PREFIX}{external_id}"


def stock_sk(external_id: str) -> str:
    return f"{STOCK_PREFIX}{external_id}"


# Attributions: one item each, unique by attribution id in the group; gsi1 lists a card's.
ATTRIBUTION_SK = "ATTRIBUTION"


def attribution_pk(group: str, attribution_id: str) -> str:
    return f"G#{group}#A#{attribution_id}"


def member_attributions_gsi1pk(group: str, card_code: str) -> str:
    return f"G#{group}#C#{card_code}#ATTRIBUTIONS"


# Import jobs: one partition per job (the job item and its skipped lines); gsi1 finds a
# file's jobs by file name. The drain lock serializes the files of one group.
JOB_SK = "JOB"
SKIPPED_PREFIX = "SKIP#"
LOCK_SK = "LOCK"


def import_pk(group: str, job_id: str) -> str:
    return f"G#{group}#IMPORT#{job_id}"


def skipped_sk(line: int) -> str:
    return f"{SKIPPED_PREFIX}{line:09d}"


def import_file_gsi1pk(group: str, file_name: str) -> str:
    return f"G#{group}#IMPORTFILE#{file_name}"


def import_lock_pk(group: str) -> str:
    return f"G#{group}#IMPORTLOCK"


# Tier history: in the member's partition, in commit order (the member version it created).
TIER_HISTORY_PREFIX = "TIER#"


def tier_history_sk(member_version: int) -> str:
    return f"{TIER_HISTORY_PREFIX}{member_version:012d}"


# Scheduled runs: one partition per (program, job, scheduled time): the run and its shards.
RUN_SK = "RUN"
SHARD_PREFIX = "SHARD#"


def run_pk(group: str, program_id: str, run_id: str) -> str:
    return f"G#{group}#P#{program_id}#RUN#{run_id}"


def shard_sk(shard: int) -> str:
    return f"{SHARD_PREFIX}{shard:02d}"
