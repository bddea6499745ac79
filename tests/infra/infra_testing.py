"""Helpers for the infra tests: synthesize the app once and look into the result."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.stack import LoyaltyEngineStack
from loyalty_engine import wiring

REPO_ROOT = Path(__file__).resolve().parents[2]
# The context `cdk synth` gets from cdk.json (feature flags such as minimizePolicies shape the template).
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
TEST_CONTEXT = {
    "aws:cdk:bundling-stacks": [],  # no local pip install of the dependency layer in tests
    "@aws-cdk/core:failSynthOnValidationErrors": False,  # cdk-nag findings are asserted on instead
}


@dataclass(frozen=True)
class Synthesized:
    stage: str
    app: App
    stack: LoyaltyEngineStack
    template: Template
    template_json: dict[str, Any]
    outdir: Path
    validation_report: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template_json["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def logical_id(self, construct: Any) -> str:
        """Logical id of a construct's CloudFormation resource (or of a CfnResource itself)."""
        cfn = getattr(construct.node, "default_child", None) or construct
        return str(self.stack.resolve(self.stack.get_logical_id(cfn)))

    def plugin_report(self, plugin: str) -> dict[str, Any] | None:
        reports = [r for r in self.validation_report["pluginReports"] if r["pluginName"] == plugin]
        assert len(reports) <= 1
        return reports[0] if reports else None

    def findings(self) -> list[tuple[str, str, str, str]]:
        """(plugin, rule, severity, construct path) of every finding not acknowledged."""
        return [
            (
                report["pluginName"],
                violation["ruleName"],
                violation["severity"],
                resource.get("constructPath", "?"),
            )
            for report in self.validation_report["pluginReports"]
            for violation in report["violations"]
            for resource in violation["violatingConstructs"]
        ]

    def acknowledged_findings(self, plugin: str) -> list[dict[str, Any]]:
        """The findings an acknowledgment suppressed, as listed in the validation report."""
        report = self.plugin_report(plugin)
        return list(report.get("suppressedViolations", [])) if report else []

    def acknowledgments(self) -> list[tuple[str, str, str]]:
        """(acknowledged id, construct path, reason) of every acknowledgment in the stack."""
        return [
            (rule_id, construct.node.path, reason)
            for construct in self.stack.node.find_all()
            for entry in construct.node.metadata
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY
            for rule_id, reason in entry.data.items()
        ]


def synthesize(outdir: Path, stage: str = "prod", context: dict[str, Any] | None = None) -> Synthesized:
    app = App(
        outdir=str(outdir), context=CDK_JSON_CONTEXT, post_cli_context={**TEST_CONTEXT, **(context or {})}
    )
    app, stack = build_app(app, stage)
    assembly = app.synth()
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    template = Template.from_stack(stack)
    return Synthesized(
        stage=stage,
        app=app,
        stack=stack,
        template=template,
        template_json=dict(template.to_json()),
        outdir=Path(assembly.directory),
        validation_report=report,
    )


def function_resource(synthesized: Synthesized, spec: wiring.Function) -> tuple[str, dict[str, Any]]:
    """(logical id, properties) of the Lambda function of the wiring function `spec`."""
    (found,) = [
        (logical_id, resource["Properties"])
        for logical_id, resource in synthesized.of_type("AWS::Lambda::Function").items()
        if resource["Properties"].get("Handler") == spec.handler
    ]
    return found


def wiring_functions(synthesized: Synthesized) -> dict[str, tuple[str, dict[str, Any]]]:
    """Wiring function name -> (logical id, properties); CDK's own custom-resource handlers left out."""
    return {spec.name: function_resource(synthesized, spec) for spec in wiring.FUNCTIONS}


def bucket_id(synthesized: Synthesized, name: str) -> str:
    """Logical id of the wiring bucket called `name`."""
    return synthesized.logical_id(synthesized.stack.buckets.buckets[name])


def queue_ids(synthesized: Synthesized, name: str) -> tuple[str, str]:
    """Logical ids of the wiring queue called `name` and of its dead-letter queue."""
    queue = synthesized.stack.queues[name]
    return synthesized.logical_id(queue.queue), synthesized.logical_id(queue.dead_letter_queue)


def own_dead_letter_queues(synthesized: Synthesized, spec: wiring.Function) -> list[str]:
    """The dead-letter queue a worker gives messages up to itself: its trigger queue's, when that
    queue has a `dead_letter_env` and the worker sends to it (infra/webhooks.py)."""
    trigger = spec.queue_trigger
    if trigger is None or trigger.queue not in spec.sends_to:
        return []
    queue = next(queue for queue in wiring.QUEUES if queue.name == trigger.queue)
    return [queue_ids(synthesized, queue.name)[1]] if queue.dead_letter_env else []


@dataclass(frozen=True)
class ScheduleIds:
    """Logical ids of the program schedules' group, Scheduler's role and its dead-letter queue."""

    group: str
    role: str
    dead_letter_queue: str


def schedule_ids(synthesized: Synthesized) -> ScheduleIds:
    schedules = synthesized.stack.schedules
    return ScheduleIds(
        group=synthesized.logical_id(schedules.group),
        role=synthesized.logical_id(schedules.role),
        dead_letter_queue=synthesized.logical_id(schedules.dead_letter_queue),
    )


def refs(value: Any) -> set[str]:
    """Logical ids referenced (Ref / Fn::GetAtt) anywhere in a template fragment (not AWS::*)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str) and not value["Ref"].startswith("AWS::"):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= refs(item)
    elif isinstance(value, list):
        for item in value:
            found |= refs(item)
    return found


def as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def statements(policy: dict) -> list[dict]:
    return as_list(policy["Properties"]["PolicyDocument"]["Statement"])


def role_statements(synthesized: Synthesized, spec: wiring.Function) -> list[dict]:
    """Every statement of every policy attached to the role of the wiring function `spec`."""
    _, function = function_resource(synthesized, spec)
    role_id = function["Role"]["Fn::GetAtt"][0]
    role = synthesized.resources[role_id]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert "Policies" not in role["Properties"]
    return [
        statement
        for policy in synthesized.of_type("AWS::IAM::Policy").values()
        if role_id in refs(policy["Properties"]["Roles"])
        for statement in statements(policy)
    ]


def resource_paths(synthesized: Synthesized) -> dict[str, str]:
    """API Gateway resource logical id -> full path, rebuilt from PathPart/ParentId."""
    resources = synthesized.of_type("AWS::ApiGateway::Resource")
    (rest_api_id,) = synthesized.of_type("AWS::ApiGateway::RestApi")

    def path_of(logical_id: str) -> str:
        properties = resources[logical_id]["Properties"]
        parent = properties["ParentId"]
        if parent == {"Fn::GetAtt": [rest_api_id, "RootResourceId"]}:
            return "/" + properties["PathPart"]
        return path_of(parent["Ref"]) + "/" + properties["PathPart"]

    return {logical_id: path_of(logical_id) for logical_id in resources}


def methods(synthesized: Synthesized) -> dict[tuple[str, str], dict]:
    """(HTTP method, path) -> method properties."""
    paths = resource_paths(synthesized)
    return {
        (m["Properties"]["HttpMethod"], paths[m["Properties"]["ResourceId"]["Ref"]]): m["Properties"]
        for m in synthesized.of_type("AWS::ApiGateway::Method").values()
    }


def stream_on_failure(prod: Synthesized, spec: wiring.Function) -> list[str]:
    """The on-failure queue of a stream-triggered function's event source mapping."""
    if spec.stream_trigger is None:
        return []
    return [prod.logical_id(prod.stack.domain_events.on_failure)]
