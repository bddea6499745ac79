"""Print `export` lines that point an operator's command at a deployed stage.

    eval "$(python scripts/stack_env.py dev)"   # TABLE_NAME, IMPORT_BUCKET, SCHEDULE_GROUP, ..., API_URL

The values are the stack's outputs (CloudFormation DescribeStacks with the caller's credentials
and region), named as the functions get them (`infra.outputs.stage_environment`): what
`make sync-schedules STAGE=...` and `make run-job STAGE=...` need. Exit code 3 when the stage
has no stack (or an older one, without the outputs).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from infra.outputs import StageNotFound, read_outputs, stage_environment

NO_STAGE = 3


def cloudformation_client() -> Any:
    import boto3

    return boto3.client("cloudformation")


def main(argv: Sequence[str] | None = None, cloudformation: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="stack_env.py", description=__doc__.splitlines()[0])
    parser.add_argument("stage", help="the stage whose stack to read, e.g. dev or prod")
    args = parser.parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        environment = stage_environment(read_outputs(cloudformation or cloudformation_client(), args.stage))
    except StageNotFound as error:
        sys.stderr.write(f"{error}\n")
        return NO_STAGE
    except (BotoCoreError, ClientError) as error:  # no credentials, no network, access denied
        sys.stderr.write(f"cannot read the stack of stage {args.stage}: {error}\n")
        return 2
    for name, value in sorted(environment.items()):
        sys.stdout.write(f"export {name}={shlex.quote(value)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
