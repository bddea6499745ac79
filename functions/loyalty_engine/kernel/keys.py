"""Key values of every item type. Every partition key begins with the loyalty group."""

from __future__ import annotations

import zlib

from loyalty_engine.kernel.table import MEMBER_SHARDS

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


def program_version_sk(program_id: str, valid_from: str, version: int) -> str:
    """A program as it was from `valid_from` (UTC ISO text, so that keys sort by time)."""
    return f"{program_version_prefix(program_id)}{valid_from}#{version:06d}"


def program_version_prefix(program_id: str) -> str:
    return f"PROGRAMV#{program_id}#"


def program_name_sk(name: str) -> str:  # one claim per name, whatever its case and spacing
    return f"PROGRAMNAME#{' '.join(name.split()).casefold()}"


def tier_tally_sk(program_id: str) -> str:
    """A program's members per tier, as its latest reconciliation run counted them."""
    return f"TIERTALLY#{program_id}"


# Every program of every group, for the operators' schedule sync (gsi1): the one index
# partition that is not a group's. Only that sync reads it; the API never queries it.
ALL_PROGRAMS_GSI1PK = "PROGRAMS"


def all_programs_gsi1sk(group: str, program_id: str) -> str:
    """`<group>#<program id>` (a slug has no '#')."""
    return f"{group}#{program_id}"


def group_and_program(all_programs_sk: str) -> tuple[str, str]:
    group, _, program_id = all_programs_sk.partition("#")
    return group, program_id


def idempotency_sk(operation: str, key: str) -> str:
    return f"IDEM#{operation}#{key}"


def entry_sk(member_version: int, position: int) -> str:
    """Ledger order is commit order: the member version a write creates, then the entry's place in it.

    (Not the entry's ULID: ids from containers whose clocks differ could sort against commit order.)
    """
    return f"{ENTRY_PREFIX}{member_version:012d}#{position:02d}"


EXPIRY_NOTICE_PREFIX = "NOTICE#"


def expiry_notice_sk(kind: str, lot_id: str) -> str:
    """The one notice of a lot expiring soon (`points.expiring_soon`)."""
    return f"{EXPIRY_NOTICE_PREFIX}{kind}#{lot_id}"


def order_sk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def burn_sk(burn_id: str) -> str:
    return f"BURN#{burn_id}"


def payment_sk(payment_id: str) -> str:
    return f"PAY#{payment_id}"


def payment_reversal_sk(payment_id: str, reversal_id: str) -> str:
    return f"PAYREV#{payment_id}#{reversal_id}"


def return_sk(order_id: str, return_id: str) -> str:
    return f"RETURN#{order_id}#{return_id}"


# A member's live lots: small chunks by month of expiry (`points.lots`), sorted just before
# the member item so that one Query (`LOTS#` .. `MEMBER`) reads the member and all its live
# lots; the Q lots that expired, kept for "as of" tier decisions, sort apart (`QHIST#`).
LOTS_PREFIX = "LOTS#"
Q_HISTORY_PREFIX = "QHIST#"


def lot_chunk_sk(chunk: str) -> str:
    """A chunk of a member's live lots (`points.lots`: `open`, or `<YYYYMM>#<kind>#<nnnn>`)."""
    return f"{LOTS_PREFIX}{chunk}"


def q_history_sk(bucket: str) -> str:
    return f"{Q_HISTORY_PREFIX}{bucket}"


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


# Loaded codes of a reward: one item collection per reward. `SEQ#<n>` holds the n-th code
# loaded (handed out in that order: unit n of the stock is code n); `CODE#<code>` makes a code
# unique in the reward (loading it again adds nothing).
CODE_SEQ_PREFIX = "SEQ#"
CODE_PREFIX = "CODE#"


def reward_codes_pk(group: str, external_id: str) -> str:
    return f"G#{group}#RC#{external_id}"


def code_seq_sk(seq: int) -> str:
    return f"{CODE_SEQ_PREFIX}{seq:012d}"


def code_sk(code: str) -> str:
    return f"{CODE_PREFIX}{code}"


# Attributions: one item each, unique by attribution id in the group; gsi1 lists a card's.
ATTRIBUTION_SK = "ATTRIBUTION"


def attribution_pk(group: str, attribution_id: str) -> str:
    return f"G#{group}#A#{attribution_id}"


def member_attributions_gsi1pk(group: str, card_code: str) -> str:
    return f"G#{group}#C#{card_code}#ATTRIBUTIONS"


# Import jobs: one partition per job (the job item, its skipped lines and the rewards it
# holds stock reservations on); gsi1 finds a file's jobs by file name, a group's list partition
# holds one pointer per job by received time. The drain lock serializes the files of one group.
JOB_SK = "JOB"
SKIPPED_PREFIX = "SKIP#"
RESERVED_PREFIX = "RSV#"
GENERATED_PREFIX = "GEN#"  # an earnreward line's generated attribution id, for the report
LOCK_SK = "LOCK"


def import_pk(group: str, job_id: str) -> str:
    return f"G#{group}#IMPORT#{job_id}"


def skipped_sk(line: int) -> str:
    return f"{SKIPPED_PREFIX}{line:09d}"


def generated_sk(line: int) -> str:
    return f"{GENERATED_PREFIX}{line:09d}"


def reserved_sk(external_id: str) -> str:
    return f"{RESERVED_PREFIX}{external_id}"


def import_file_gsi1pk(group: str, file_name: str) -> str:
    return f"G#{group}#IMPORTFILE#{file_name}"


def import_list_pk(group: str) -> str:
    return f"G#{group}#IMPORTS"


def import_content_pk(group: str, file_name: str, sha256: str) -> str:
    """The claim of a file's bytes under its name: the first import that reads them holds it."""
    return f"G#{group}#FILEHASH#{sha256}#{file_name}"


CONTENT_SK = "CLAIM"


def import_lock_pk(group: str) -> str:
    return f"G#{group}#IMPORTLOCK"


# Tier history: in the member's partition, in commit order (the member version it created).
TIER_HISTORY_PREFIX = "TIER#"


def tier_history_sk(member_version: int) -> str:
    return f"{TIER_HISTORY_PREFIX}{member_version:012d}"


IMPORT_LINE_PREFIX = "IMPORTLINE#"


def import_line_sk(source: str) -> str:
    """The outcome of an import line (`import:<id>:<line>`) that changed a member, in its partition."""
    return f"{IMPORT_LINE_PREFIX}{source}"


# Scheduled runs: kernel/run_keys.py.


# Merchants and merchant groups: one item collection per group (few items, read by key);
# a store id is claimed by one merchant through its own item.
def merchants_pk(group: str) -> str:
    return f"G#{group}#MERCHANTS"


def merchant_sk(merchant_id: str) -> str:
    return f"M#{merchant_id}"


def merchant_group_sk(merchant_group_id: str) -> str:
    return f"MG#{merchant_group_id}"


def store_claim_sk(store_id: str) -> str:
    return f"STORE#{store_id}"


# Series: one item collection per group. The series item is keyed by its prefix, so that a
# number's series is one read of its leading digits; a second item claims the series id.
def series_pk(group: str) -> str:
    return f"G#{group}#SERIES"


SERIES_PREFIX_PREFIX = "P#"


def series_prefix_sk(prefix: str) -> str:
    return f"{SERIES_PREFIX_PREFIX}{prefix}"


def series_id_sk(series_id: str) -> str:
    return f"S#{series_id}"


# Pre-issue batches: one item per batch, in the series' collection.
def batch_sk(series_id: str, batch_id: str) -> str:
    return f"B#{series_id}#{batch_id}"


# Instruments: one partition per number: the instrument, its ledger (by the version each
# movement created) and its idempotency records (activations, redemptions, reversals).
# A pre-issued card is written by its batch as ISSUED and never changed there; its first
# movement creates INSTRUMENT, which from then on is the card (a batch worker repeating a
# chunk rewrites ISSUED only, so it can never undo a sale).
INSTRUMENT_SK = "INSTRUMENT"
ISSUED_INSTRUMENT_SK = "ISSUED"
INSTRUMENT_ENTRY_PREFIX = "E#"


def instrument_pk(group: str, number: str) -> str:
    return f"G#{group}#I#{number}"


def instrument_entry_sk(version: int) -> str:
    return f"{INSTRUMENT_ENTRY_PREFIX}{version:012d}"


def activation_sk(activation_id: str) -> str:
    return f"ACT#{activation_id}"


def redemption_sk(redemption_id: str) -> str:
    return f"RED#{redemption_id}"


def reversal_sk(reversal_id: str) -> str:
    return f"REV#{reversal_id}"


def cancellation_sk(cancellation_id: str) -> str:
    return f"CAN#{cancellation_id}"


# Store credit issued on a return: the return's claim (its idempotency record) sits in the
# series' return partition, since the number is not known before the credit exists.
def store_credit_return_pk(group: str, series_id: str, return_id: str) -> str:
    return f"G#{group}#SCRETURN#{series_id}#{return_id}"


RETURN_CLAIM_SK = "RETURN"


# Customers: one partition each (the customer and its links); customer groups in one collection.
CUSTOMER_SK = "CUSTOMER"


def customer_pk(group: str, customer_id: str) -> str:
    return f"G#{group}#CU#{customer_id}"


def customers_pk(group: str) -> str:
    """The group's customer directory: one item per customer (`CU#<id>`, its id only), written
    with every save of the customer, so that the customers can be listed by one Query."""
    return f"G#{group}#CUSTOMERS"


def customer_entry_sk(customer_id: str) -> str:
    return f"CU#{customer_id}"


def customer_card_link_sk(card_code: str) -> str:
    return f"CARD#{card_code}"


def customer_instrument_link_sk(number: str) -> str:
    return f"INSTR#{number}"


def customer_groups_pk(group: str) -> str:
    return f"G#{group}#CUSTOMERGROUPS"


def customer_group_sk(customer_group_id: str) -> str:
    return f"CG#{customer_group_id}"


def customer_group_members_pk(group: str, customer_group_id: str) -> str:
    """The customers of one customer group: one item each, kept in step with the customers."""
    return f"G#{group}#CGM#{customer_group_id}"


def customer_group_member_sk(customer_id: str) -> str:
    return f"CU#{customer_id}"


# A member card's link to a customer, in the member's partition.
CUSTOMER_LINK_SK = "CUSTOMERLINK"


# Audit log: every audited write once in the group's audit partition, by time (`T#<at>#<request
# id>`, gsi1 by the calling key), and once more under the object it touched.
AUDIT_PREFIX = "T#"


def audit_pk(group: str) -> str:
    return f"G#{group}#AUDIT"


def audit_sk(at: str, request_id: str) -> str:
    return f"{AUDIT_PREFIX}{at}#{request_id}"


def audit_key_gsi1pk(group: str, key_id: str) -> str:
    return f"G#{group}#AUDITKEY#{key_id}"


def audit_object_pk(group: str, audit_object: str) -> str:
    return f"G#{group}#AUDITOBJ#{audit_object}"


def adjustment_sk(idempotency_key: str) -> str:
    """A customer service adjustment's record (its stored answer), in the member's partition."""
    return f"ADJ#{idempotency_key}"
