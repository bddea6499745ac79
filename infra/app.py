"""CDK entry point: `python -m infra.app` (what cdk.json runs) synthesizes LoyaltyEngine-<stage>.

The stage comes from the `stage` context (`cdk synth -c stage=dev`); cdk.json defaults it to prod.
`-c api_gateway_cloudwatch_role=true` makes the stack create API Gateway's account-wide logging
role (off by default: see infra/config.py).
"""

from __future__ import annotations

from dataclasses import replace

from aws_cdk import App, Tags

from infra.config import CLOUDWATCH_ROLE_CONTEXT, DEFAULT_STAGE, SERVICE_NAME, context_flag, stage_config
from infra.console import ConsoleStack, allow_browser_transfers
from infra.nag import add_nag_checks
from infra.stack import LoyaltyEngineStack
from loyalty_engine import wiring


def build_app(app: App | None = None, stage: str | None = None) -> tuple[App, LoyaltyEngineStack]:
    """Build the app's one stack, checked by cdk-nag's AwsSolutions pack at synth.

    `stage` defaults to the app's `stage` context, then to prod.
    """
    app = app if app is not None else App()
    stage = stage or app.node.try_get_context("stage") or DEFAULT_STAGE
    config = replace(
        stage_config(str(stage)),
        api_gateway_cloudwatch_role=context_flag(
            CLOUDWATCH_ROLE_CONTEXT, app.node.try_get_context(CLOUDWATCH_ROLE_CONTEXT)
        ),
    )
    stack = LoyaltyEngineStack(app, config)
    # The operator console: its own stack (CloudFront, a bucket), in front of this stage's API.
    console = ConsoleStack(app, config, rest_api=stack.api.rest_api)
    allow_browser_transfers(stack.buckets.bucket(wiring.IMPORT_BUCKET.name))
    for tagged in (stack, console):
        Tags.of(tagged).add("project", SERVICE_NAME)
        Tags.of(tagged).add("stage", config.stage)
    add_nag_checks(app)
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
