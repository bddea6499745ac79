"""The REST API: a /v1 tree built from the wiring routes, every method behind the Lambda authorizer
and counted against a usage plan: the API key source is AUTHORIZER (the authorizer returns the
caller's group's usage key, `access.quota_use_cases.usage_key_for`), every method requires a
key, and the stage's default plan (`access.quotas.DEFAULT_LIMITS`) holds the default key and
every group's key without limits of its own (docs/quotas.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import StageConfig
from loyalty_engine import wiring
from loyalty_engine.access.quotas import DEFAULT_LIMITS, default_usage_key

STAGE_NAME = "api"
AUTHORIZER_CACHE_TTL = Duration.seconds(wiring.AUTHORIZER_CACHE_TTL_S)
AUTHORIZATION_HEADER = wiring.AUTHORIZATION_HEADER


def _error_body(code: str, message: str | None = None) -> str:
    """Gateway response template: `{"code": ..., "message": ...}`, as the handlers answer errors."""
    if message is None:
        # $context.error.messageString is API Gateway's message, already quoted and escaped.
        return '{"code": ' + json.dumps(code) + ', "message": $context.error.messageString}'
    return json.dumps({"code": code, "message": message})


# Errors API Gateway answers itself (the request never reaches a handler), in the handlers'
# error shape and with stable codes (the API function uses the same ones, see loyalty_engine/kernel/errors.py).
# API Gateway's 429s get a Retry-After (a gateway response's headers are static): a second for
# the rate, an hour for the daily quota (it comes back at 00:00 UTC).
RETRY_AFTER = {"throttled": "1", "quota_exceeded": "3600"}  # by code
GATEWAY_RESPONSES: tuple[tuple[apigw.ResponseType, str | None, str, str | None], ...] = (
    (apigw.ResponseType.UNAUTHORIZED, "401", "unauthorized", "missing or invalid API key"),
    (apigw.ResponseType.ACCESS_DENIED, "403", "forbidden", "this API key may not call the API"),
    # API Gateway's answer to an unknown path or method (403 "Missing Authentication Token").
    (apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "404", "route_not_found", "no such route"),
    (apigw.ResponseType.THROTTLED, "429", "throttled", "too many requests: slow down"),
    (
        apigw.ResponseType.QUOTA_EXCEEDED,
        "429",
        "quota_exceeded",
        "the daily request quota of this loyalty group is used up",
    ),
    # The authorizer returned no usage key, or one in no plan of this stage.
    (apigw.ResponseType.INVALID_API_KEY, "403", "forbidden", "this API key may not call the API"),
    # Everything else keeps API Gateway's status code and message.
    (apigw.ResponseType.DEFAULT_4_XX, None, "bad_request", None),
    (apigw.ResponseType.DEFAULT_5_XX, None, "internal_error", None),
)


def authorizer_spec() -> wiring.Function:
    authorizers = [spec for spec in wiring.FUNCTIONS if spec.is_authorizer]
    if len(authorizers) != 1:
        raise ValueError(f"wiring.FUNCTIONS must have exactly one authorizer, found {len(authorizers)}")
    if authorizers[0].routes:
        raise ValueError(f"the authorizer {authorizers[0].name} cannot serve API routes")
    return authorizers[0]


class LoyaltyApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Mapping[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)

        # The authorizer answers with a policy for the whole API (not just the called
        # method), so a cached decision is valid for every route the same key calls.
        self.authorizer = apigw.RequestAuthorizer(
            self,
            "Authorizer",
            handler=functions[authorizer_spec().name],
            identity_sources=[apigw.IdentitySource.header(AUTHORIZATION_HEADER)],
            results_cache_ttl=AUTHORIZER_CACHE_TTL,
        )
        self.access_log_group = logs.LogGroup(
            self, "AccessLogs", retention=config.log_retention, removal_policy=config.removal_policy
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"loyalty-engine-{config.stage}",
            description="Loyalty engine: programs, members, earn, burn, returns, ledger",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The role API Gateway logs with is an account-wide setting (one per account and
            # region, shared by every API there): created only when asked for, and then kept
            # when the stack goes, because the other APIs of the account rely on it too.
            # Without it, the account must already have one (docs/deploying.md#prerequisites).
            cloud_watch_role=config.api_gateway_cloudwatch_role,
            cloud_watch_role_removal_policy=(
                RemovalPolicy.RETAIN if config.api_gateway_cloudwatch_role else None
            ),
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=config.api_logging_level,
                data_trace_enabled=False,  # full request/response bodies would log member data
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=config.api_rate_limit,
                throttling_burst_limit=config.api_burst_limit,
            ),
            default_method_options=apigw.MethodOptions(
                authorization_type=apigw.AuthorizationType.CUSTOM,
                authorizer=self.authorizer,
                api_key_required=True,  # the usage key the authorizer returns (key source AUTHORIZER)
            ),
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER,
        )
        made: set[str] = set()
        for response_type, status, code, message in GATEWAY_RESPONSES:
            retry = RETRY_AFTER.get(code)
            construct_id = f"{code.title().replace('_', '')}Response"
            if construct_id in made:  # a second response with a code (INVALID_API_KEY: forbidden)
                construct_id = f"{code.title().replace('_', '')}{status}KeyResponse"
            made.add(construct_id)
            self.rest_api.add_gateway_response(
                construct_id,
                type=response_type,
                status_code=status,
                templates={"application/json": _error_body(code, message)},
                response_headers={"Retry-After": f"'{retry}'"} if retry else None,
            )
        self._add_routes(functions)
        self._add_default_plan(config)
        self.docs_method = self._add_docs(functions) if config.swagger_ui else None

    def _add_docs(self, functions: Mapping[str, lambda_.IFunction]) -> apigw.Method:
        """Swagger UI (handlers/routes_docs.py), public: a browser opening it has no key to send.
        Served by the Api function, which answers it only with SWAGGER_UI set (infra/stack.py)."""
        integration = apigw.LambdaIntegration(
            functions[wiring.API.name], proxy=True, scope_permission_to_method=False
        )
        resource = self.rest_api.root.resource_for_path(wiring.DOCS_PATH.lstrip("/"))
        return resource.add_method(
            "GET", integration, authorization_type=apigw.AuthorizationType.NONE, api_key_required=False
        )

    def _add_default_plan(self, config: StageConfig) -> None:
        """The stage's default usage plan and its key: the usage identifier of every caller whose
        group has no key of its own (`loyalty-admin quotas set` adds the groups' keys and plans)."""
        self.default_plan = self.rest_api.add_usage_plan(
            "DefaultUsagePlan",
            name=f"loyalty-{config.stage}-default",
            description="Request limits of every loyalty group without limits of its own",
            throttle=apigw.ThrottleSettings(
                rate_limit=DEFAULT_LIMITS.rate_per_second, burst_limit=DEFAULT_LIMITS.burst
            ),
            quota=(
                apigw.QuotaSettings(limit=DEFAULT_LIMITS.daily_quota, period=apigw.Period.DAY)
                if DEFAULT_LIMITS.daily_quota
                else None
            ),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)],
        )
        # Not a credential: with key source AUTHORIZER, API Gateway takes the key from the
        # authorizer only, never from a request (docs/decisions.md).
        self.default_usage_key = default_usage_key(config.stage)
        self.default_key = apigw.ApiKey(
            self,
            "DefaultUsageKey",
            api_key_name=f"loyalty-{config.stage}-default",
            description="The default usage plan's key, returned by the authorizer for groups without their own",
            value=self.default_usage_key,
            enabled=True,
        )
        self.default_plan.add_api_key(self.default_key)

    def _add_routes(self, functions: Mapping[str, lambda_.IFunction]) -> None:
        for spec in wiring.FUNCTIONS:
            if not spec.routes:
                continue
            if spec.timeout_s >= wiring.API_GATEWAY_TIMEOUT_S:
                raise ValueError(
                    f"wiring function {spec.name} serves routes: its timeout ({spec.timeout_s} s) must be "
                    f"below API Gateway's {wiring.API_GATEWAY_TIMEOUT_S} s, or the gateway answers 504 "
                    "while the function is still at work"
                )
            # One integration (hence one invoke permission, scoped to this API) per function,
            # however many routes it serves: the function's resource policy stays small.
            integration = apigw.LambdaIntegration(
                functions[spec.name], proxy=True, scope_permission_to_method=False
            )
            for route in spec.routes:
                if not route.path.startswith("/v1/"):
                    raise ValueError(f"route {route.method} {route.path}: API paths live under /v1/")
                resource = self.rest_api.root.resource_for_path(route.path.lstrip("/"))
                resource.add_method(route.method, integration)

    @property
    def url(self) -> str:
        return self.rest_api.url
