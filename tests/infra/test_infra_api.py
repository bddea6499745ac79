"""The REST API: every wiring route, behind the authorizer, proxied to the function that owns it."""

from __future__ import annotations

import json

import pytest
from infra_testing import Synthesized, methods, refs, resource_paths, synthesize

from loyalty_engine import wiring

pytestmark = pytest.mark.infra


def function_id(synthesized: Synthesized, spec: wiring.Function) -> str:
    (logical_id,) = [
        logical_id
        for logical_id, f in synthesized.of_type("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == spec.handler
    ]
    return logical_id


def wiring_routes() -> dict[tuple[str, str], wiring.Function]:
    return {(route.method, route.path): spec for spec in wiring.FUNCTIONS for route in spec.routes}


def test_every_wiring_route_and_nothing_else_is_a_method(prod: Synthesized) -> None:
    assert set(methods(prod)) == set(wiring_routes())
    assert all(path.startswith("/v1/") or path == "/v1" for path in resource_paths(prod).values())


def test_every_method_uses_the_request_authorizer(prod: Synthesized) -> None:
    (authorizer_id,) = prod.of_type("AWS::ApiGateway::Authorizer")
    for key, properties in methods(prod).items():
        assert properties["AuthorizationType"] == "CUSTOM", key
        assert properties["AuthorizerId"] == {"Ref": authorizer_id}, key


def test_every_method_proxies_to_the_function_owning_the_route(prod: Synthesized) -> None:
    routes = wiring_routes()
    for key, properties in methods(prod).items():
        integration = properties["Integration"]
        assert integration["Type"] == "AWS_PROXY", key
        assert integration["IntegrationHttpMethod"] == "POST", key
        assert refs(integration["Uri"]) == {function_id(prod, routes[key])}, key


def test_authorizer(prod: Synthesized) -> None:
    (authorizer,) = prod.of_type("AWS::ApiGateway::Authorizer").values()
    (spec,) = [spec for spec in wiring.FUNCTIONS if spec.is_authorizer]
    properties = authorizer["Properties"]
    assert properties["Type"] == "REQUEST"
    assert properties["IdentitySource"] == "method.request.header.Authorization"
    assert properties["AuthorizerResultTtlInSeconds"] == 60
    assert refs(properties["AuthorizerUri"]) == {function_id(prod, spec)}


def test_functions_may_be_invoked_by_this_api_only(prod: Synthesized) -> None:
    (rest_api_id,) = prod.of_type("AWS::ApiGateway::RestApi")
    invoked = set()
    for permission in prod.of_type("AWS::Lambda::Permission").values():
        properties = permission["Properties"]
        assert properties["Principal"] == "apigateway.amazonaws.com"
        assert rest_api_id in refs(properties["SourceArn"])
        invoked |= refs(properties["FunctionName"])
    assert invoked == {
        function_id(prod, spec) for spec in wiring.FUNCTIONS if spec.routes or spec.is_authorizer
    }


def test_stage(prod: Synthesized) -> None:
    (stage,) = prod.of_type("AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    assert properties["StageName"] == "api"
    assert properties["TracingEnabled"] is True
    (log_group_id,) = refs(properties["AccessLogSetting"]["DestinationArn"])
    assert prod.resources[log_group_id]["Type"] == "AWS::Logs::LogGroup"
    assert json.loads(properties["AccessLogSetting"]["Format"])["status"] == "$context.status"
    (settings,) = properties["MethodSettings"]
    assert settings["HttpMethod"] == "*"
    assert settings["ResourcePath"] == "/*"
    assert settings["MetricsEnabled"] is True
    assert settings["DataTraceEnabled"] is False
    assert settings["LoggingLevel"] in {"ERROR", "INFO"}
    assert settings["ThrottlingRateLimit"] == 100
    assert settings["ThrottlingBurstLimit"] == 200


@pytest.mark.parametrize(
    ("response_type", "status", "code"),
    [("UNAUTHORIZED", "401", "unauthorized"), ("ACCESS_DENIED", "403", "forbidden")],
)
def test_auth_failures_answer_json_with_a_stable_code(
    prod: Synthesized, response_type: str, status: str, code: str
) -> None:
    (response,) = [
        r["Properties"]
        for r in prod.of_type("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == response_type
    ]
    assert response["StatusCode"] == status
    body = json.loads(response["ResponseTemplates"]["application/json"])
    assert set(body) == {"code", "message"}
    assert body["code"] == code


def test_default_gateway_responses_are_json_errors(prod: Synthesized) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in prod.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    for response_type in ("DEFAULT_4XX", "DEFAULT_5XX"):
        template = responses[response_type]["ResponseTemplates"]["application/json"]
        # API Gateway substitutes its message, a quoted and escaped JSON string.
        body = json.loads(template.replace("$context.error.messageString", '"a message"'))
        assert set(body) == {"code", "message"}


def test_api_url_is_output(prod: Synthesized) -> None:
    (rest_api_id,) = prod.of_type("AWS::ApiGateway::RestApi")
    (stage_id,) = prod.of_type("AWS::ApiGateway::Stage")
    output = prod.template_json["Outputs"]["ApiUrl"]
    assert refs(output["Value"]) == {rest_api_id, stage_id}


def test_a_route_or_function_added_to_the_wiring_is_deployed(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = wiring.Function(
        name="Reports",
        handler="loyalty_engine.handlers.reports.handler",
        description="Program reports",
        table_access="read",
        routes=(wiring.ApiRoute("GET", "/v1/programs/{program_id}/reports/{report_id}", ("admin",)),),
    )
    monkeypatch.setattr(wiring, "FUNCTIONS", (*wiring.FUNCTIONS, reports))

    synthesized = synthesize(tmp_path_factory.mktemp("cdk-extended"), "prod")

    added = methods(synthesized)[("GET", "/v1/programs/{program_id}/reports/{report_id}")]
    assert refs(added["Integration"]["Uri"]) == {function_id(synthesized, reports)}
    assert added["AuthorizationType"] == "CUSTOM"
    assert set(methods(synthesized)) == set(wiring_routes())
    alarmed = set().union(
        *(refs(a["Properties"]) for a in synthesized.of_type("AWS::CloudWatch::Alarm").values())
    )
    assert function_id(synthesized, reports) in alarmed
    assert synthesized.findings() == []  # the new function and method are covered like the others
