"""Per-group quotas on the REST API: key source AUTHORIZER, every method requires the usage key
the authorizer returns, the stage's default plan and key, 429s in the API's error shape with
Retry-After, and the outputs `loyalty-admin quotas set` reads."""

from __future__ import annotations

import json

import pytest
from infra_testing import Synthesized, function_resource, methods, refs

from infra import outputs
from loyalty_engine import wiring
from loyalty_engine.access.quotas import DEFAULT_LIMITS, default_usage_key

pytestmark = pytest.mark.infra


def test_the_api_takes_its_usage_key_from_the_authorizer_on_every_method(prod: Synthesized) -> None:
    (rest_api,) = prod.of_type("AWS::ApiGateway::RestApi").values()
    assert rest_api["Properties"]["ApiKeySourceType"] == "AUTHORIZER"
    for key, properties in methods(prod).items():
        assert properties["ApiKeyRequired"] is True, key
        assert properties["AuthorizationType"] == "CUSTOM", key


def test_the_default_plan_holds_the_default_key_on_the_stage(each_stage: Synthesized) -> None:
    (plan_id, plan), *others = each_stage.of_type("AWS::ApiGateway::UsagePlan").items()
    assert others == []
    properties = plan["Properties"]
    assert properties["UsagePlanName"] == f"loyalty-{each_stage.stage}-default"
    assert properties["Throttle"] == {
        "RateLimit": DEFAULT_LIMITS.rate_per_second,
        "BurstLimit": DEFAULT_LIMITS.burst,
    }
    assert "Quota" not in properties  # the default plan has no daily quota
    ((stage_ref,),) = [refs(stage["Stage"]) for stage in properties["ApiStages"]]
    assert each_stage.resources[stage_ref]["Type"] == "AWS::ApiGateway::Stage"
    (key_id, key), *more = each_stage.of_type("AWS::ApiGateway::ApiKey").items()
    assert more == []
    assert key["Properties"]["Value"] == default_usage_key(each_stage.stage)
    assert key["Properties"]["Enabled"] is True
    (link,) = each_stage.of_type("AWS::ApiGateway::UsagePlanKey").values()
    assert refs(link["Properties"]["KeyId"]) == {key_id}
    assert refs(link["Properties"]["UsagePlanId"]) == {plan_id}


@pytest.mark.parametrize(
    ("response_type", "code", "retry_after"),
    [("THROTTLED", "throttled", "'1'"), ("QUOTA_EXCEEDED", "quota_exceeded", "'3600'")],
)
def test_429s_answer_the_error_shape_with_retry_after(
    prod: Synthesized, response_type: str, code: str, retry_after: str
) -> None:
    (response,) = [
        r["Properties"]
        for r in prod.of_type("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == response_type
    ]
    assert response["StatusCode"] == "429"
    assert json.loads(response["ResponseTemplates"]["application/json"])["code"] == code
    assert response["ResponseParameters"] == {"gatewayresponse.header.Retry-After": retry_after}


def test_a_usage_key_in_no_plan_is_a_json_403(prod: Synthesized) -> None:
    (response,) = [
        r["Properties"]
        for r in prod.of_type("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "INVALID_API_KEY"
    ]
    assert response["StatusCode"] == "403"
    assert json.loads(response["ResponseTemplates"]["application/json"])["code"] == "forbidden"


def test_the_usage_plan_outputs(prod: Synthesized) -> None:
    values = {name: output["Value"] for name, output in prod.template_json["Outputs"].items()}
    (rest_api_id,) = prod.of_type("AWS::ApiGateway::RestApi")
    (plan_id,) = prod.of_type("AWS::ApiGateway::UsagePlan")
    assert values[outputs.REST_API_ID] == {"Ref": rest_api_id}
    assert values[outputs.DEFAULT_USAGE_PLAN_ID] == {"Ref": plan_id}
    assert values[outputs.STAGE_NAME] == "prod"


def _docs_methods(synthesized: Synthesized) -> dict[tuple[str, str], dict]:
    return {key: value for key, value in methods(synthesized).items() if key[1] == wiring.DOCS_PATH}


def test_swagger_ui_is_absent_in_prod(prod: Synthesized) -> None:
    assert _docs_methods(prod) == {}
    _, api = function_resource(prod, wiring.API)
    assert "SWAGGER_UI" not in api["Environment"]["Variables"]


def test_swagger_ui_is_public_on_dev_and_served_by_the_api_function(dev: Synthesized) -> None:
    ((_, method),) = _docs_methods(dev).items()
    assert method["AuthorizationType"] == "NONE"
    assert method["ApiKeyRequired"] is False
    api_id, api = function_resource(dev, wiring.API)
    assert refs(method["Integration"]["Uri"]) == {api_id}
    assert api["Environment"]["Variables"]["SWAGGER_UI"] == "true"
