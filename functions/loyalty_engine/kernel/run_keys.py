"""Key values of the scheduled runs' items (kernel/keys.py is full). Every partition key begins
with the loyalty group.

- `G#<group>#P#<program>#RUN#<job>@<scheduled time>`: one partition per run, its summary (`RUN`)
  and one checkpoint per member shard (`SHARD#<nn>`);
- the summary's gsi1 entry, `G#<group>#P#<program>#RUNS#<job>` / `<scheduled time>`: the
  program's runs of one job, newest first with a descending Query (`GET /v1/programs/{id}/jobs`).
  One partition per (program, job): a filter by job is one Query, the whole list a merge of the
  four; a run is a few writes a day, far from a partition's limits.
"""

from __future__ import annotations

RUN_SK = "RUN"
SHARD_PREFIX = "SHARD#"
RUN_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # a run's scheduled time in its id and its index entry


def run_pk(group: str, program_id: str, run_id: str) -> str:
    return f"G#{group}#P#{program_id}#RUN#{run_id}"


def shard_sk(shard: int) -> str:
    return f"{SHARD_PREFIX}{shard:02d}"


def program_runs_gsi1pk(group: str, program_id: str, job: str) -> str:
    return f"G#{group}#P#{program_id}#RUNS#{job}"
