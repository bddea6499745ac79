"""Import benchmarks (issue 3), part of `make bench`; also `python bench/imports.py --help`.

For each scope (masterreward, earnreward), against a moto server in a process of its own
(`bench/moto_backend.py`, one per scope), the real importer (`handlers.imports.handler`, an
SQS event of the file's S3 notification) applies a small file, then a large one, each in a
fresh process that does nothing else, and reports:

- wall time and lines/s, and the ratio to a raw boto3 `batch_writer` putting as many items
  of the same shape (a copy of an item the pipeline wrote, keys varied) to the same backend
  in the same process, right after the large import (goal >= 0.7);
- AWS requests per line, by operation, counted with botocore `before-call` hooks on the
  clients the code uses (goal <= 0.06 DynamoDB requests per line), and the time spent in them;
- peak RSS (VmHWM) when the import returns: large minus small (goal <= 16 MB);
- a projection of a 200,000-line file (MAX_DATA_LINES) on DynamoDB and S3 from the large
  run's request counts and CPU time, scaled linearly (assumptions in PROJECTION, printed
  with the figures), against the importer's 900 s.

Sizes: the issue's 20,000 and 200,000 lines take about 21 minutes on 2 cores (moto spends
15-45 ms per batch request), too long for `make bench`, which runs 10,000 and 50,000 lines
(about 6 minutes; per-line figures hardly change with size). The issue's sizes:
`BENCH_IMPORT_SIZES=20000,200000 make bench`, or `python bench/imports.py --sizes 20000 200000`.
`python bench/imports.py profile --scope earnreward --lines 20000` prints a cProfile of one run.

Setup is not measured: the table, bucket (versioned, as deployed) and queue; group `demo`
with program `silver` (manual card codes) through the API handler; for earnreward, one
limited reward (1,000,000 units) imported through the importer and 20,000 member items
written directly (`member_store.member_item`, BatchWriteItem). Earn lines cycle over those
members: a chunk (at most 20,000 lines) names distinct cards, so it reads as many member
keys as with one member per line.

Figures are printed as tables and written to `.bench/imports.json`. The children's steps are in
`bench/imports_child.py`, the figures and tables in `bench/imports_report.py`, the files, sizes and
names in `bench/imports_files.py`.
"""

from __future__ import annotations

import argparse
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

if (_root := str(Path(__file__).resolve().parent.parent)) not in sys.path:
    sys.path.insert(0, _root)  # run as a script: only bench/ is on the path

from bench.imports_child import do_measure, do_setup
from bench.imports_files import (
    BUCKET,
    GROUP,
    OUT,
    QUEUE,
    SCOPES,
    TABLE,
    WORK,
    default_sizes,
    file_content,
    file_name,
)
from bench.imports_report import figures, table
from bench.processes import (
    REGION,
    ROOT,
    Backend,
    backend_client,
    child_env,
    run_child,
)

# --- the moto backend and the child processes (parent side) ------------------------------


def prepare(endpoint: str) -> str:
    """Table, bucket (versioned, as deployed) and queue; returns the queue URL."""
    from loyalty_engine.kernel.table import create_table_params, enable_ttl_params

    dynamodb = backend_client("dynamodb", endpoint)
    dynamodb.create_table(**create_table_params(TABLE))
    dynamodb.update_time_to_live(**enable_ttl_params(TABLE))
    s3 = backend_client("s3", endpoint)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return str(backend_client("sqs", endpoint).create_queue(QueueName=QUEUE)["QueueUrl"])


def child(mode: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    return run_child(__file__, WORK / f"{mode}.json", mode, env, *args)


def run_scope(
    scope: str,
    sizes: tuple[int, ...],
    raw_at: int | None,
    profile: Path | None = None,
    aws: str | None = None,
) -> dict[int, dict[str, Any]]:
    runs: dict[int, dict[str, Any]] = {}
    with Backend() as endpoint:
        # No quiet period: the bench measures applying a file, not the wait before it.
        env = child_env(
            endpoint,
            TABLE,
            IMPORT_BUCKET=BUCKET,
            IMPORT_QUEUE_URL=prepare(endpoint),
            IMPORT_QUIET_PERIOD_S="0",
        )
        child("setup", env, "--scope", scope)
        s3 = backend_client("s3", endpoint)
        for index, lines in enumerate(sizes, start=1):
            name = file_name(scope, index)
            content = file_content(scope, lines)
            s3.put_object(Bucket=BUCKET, Key=f"incoming/{GROUP}/{name}", Body=content)
            args = ["--scope", scope, "--lines", str(lines), "--name", name]
            if lines == raw_at:
                args.append("--raw")
            if profile is not None:
                args += ["--profile", str(profile)]
            if aws:  # "latency": injected, frozen while moto serves; "meter": write units (bench/aws_pass.py)
                args += ["--aws", aws]
            runs[lines] = child("measure", env, *args) | {"file_bytes": len(content)}
            del content
    return runs


def run_all(sizes: tuple[int, ...] | None = None, scopes: tuple[str, ...] = SCOPES) -> dict[str, Any]:
    """Every scope and size; prints the tables, writes .bench/imports.json, returns the figures."""
    sizes = sizes or default_sizes()
    started = time.perf_counter()
    runs = {scope: run_scope(scope, sizes, raw_at=sizes[-1]) for scope in scopes}
    result = figures(runs, sizes)
    result["sizes"] = list(sizes)
    result["bench_wall_s"] = round(time.perf_counter() - started)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result, sizes))
    print(f"\n(import benchmarks: {result['bench_wall_s']} s; figures in {OUT.relative_to(ROOT)})")
    return result


def profile(scope: str, lines: int, top: int) -> None:
    """cProfile of one import in its child process: our functions by cumulative time."""
    path = WORK / f"{scope}-{lines}.prof"
    WORK.mkdir(parents=True, exist_ok=True)
    run = run_scope(scope, (lines,), raw_at=None, profile=path)[lines]
    print(f"{scope}, {lines:,} lines: {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU (profiled)\n")
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats("loyalty_engine", top)
    stats.sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", nargs="?", default="all", choices=["all", "profile", "setup", "measure"])
    parser.add_argument("--scope", choices=SCOPES, default="earnreward")
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="line counts (default: BENCH_IMPORT_SIZES, else 10000 50000)"
    )
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=30)
    # child processes
    parser.add_argument("--out", type=Path)
    parser.add_argument("--name")
    parser.add_argument("--raw", action="store_true")
    parser.add_argument(
        "--aws", choices=("latency", "meter"), help="injected AWS latency, or metered write units"
    )
    parser.add_argument("--profile", dest="profile_path")
    args = parser.parse_args(argv)
    if args.mode == "all":
        run_all(tuple(sorted(args.sizes)) if args.sizes else None)
    elif args.mode == "profile":
        profile(args.scope, args.lines, args.top)
    else:
        if args.mode == "setup":
            result = do_setup(args.scope)
        else:
            result = do_measure(args.scope, args.lines, args.name, args.raw, args.profile_path, args.aws)
        args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
