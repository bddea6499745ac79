"""One Lambda per wiring function, on the dependency layer, traced, with its own log group and a DLQ
(or its queue trigger)."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match
from infra_testing import Synthesized, bucket_id, queue_ids, refs, schedule_ids, wiring_functions

from infra.functions import FUNCTIONS_DIR
from infra.layer import runtime_dependencies
from loyalty_engine import wiring
from loyalty_engine.access.quotas import default_usage_key
from loyalty_engine.events.models import BUS_ENV
from loyalty_engine.kernel import settings

pytestmark = pytest.mark.infra


ASYNC_DLQ = [spec for spec in wiring.FUNCTIONS if spec.queue_trigger is None and spec.stream_trigger is None]
# A stream-triggered function's dead-letter queue is its event source mapping's on-failure destination.
STREAM_TRIGGERED = [spec for spec in wiring.FUNCTIONS if spec.stream_trigger is not None]
QUEUE_TRIGGERED = [spec for spec in wiring.FUNCTIONS if spec.queue_trigger is not None]


def functions_by_handler(synthesized: Synthesized) -> dict[str, tuple[str, dict]]:
    """The wiring functions by handler (CDK's custom-resource handlers left out)."""
    return {
        properties["Handler"]: (logical_id, properties)
        for logical_id, properties in wiring_functions(synthesized).values()
    }


def test_one_function_per_wiring_entry(each_stage: Synthesized) -> None:
    ours = {logical_id for logical_id, _ in wiring_functions(each_stage).values()}
    assert len(ours) == len(wiring.FUNCTIONS)
    # Every other function is one of CDK's inline custom-resource handlers (bucket notifications,
    # and in dev the emptying of buckets on stack deletion), not application code.
    others = {k: f for k, f in each_stage.of_type("AWS::Lambda::Function").items() if k not in ours}
    assert {f["Properties"]["Handler"] for f in others.values()} == {"index.handler"}
    assert all("Layers" not in f["Properties"] for f in others.values())
    assert len(others) == {"prod": 1, "dev": 2}[each_stage.stage]


def expected_schedule_environment(synthesized: Synthesized, spec: wiring.Function) -> dict:
    """The program schedules' group, Scheduler's role, the target and the DLQ, for a function managing them."""
    if not spec.manages_schedules:
        return {}
    ids = schedule_ids(synthesized)
    (target,) = [s for s in wiring.FUNCTIONS if s.schedule_target]
    target_id, _ = functions_by_handler(synthesized)[target.handler]
    schedules = wiring.PROGRAM_SCHEDULES
    return {
        schedules.group_env: {"Ref": ids.group},
        schedules.role_env: {"Fn::GetAtt": [ids.role, "Arn"]},
        schedules.target_env: {"Fn::GetAtt": [target_id, "Arn"]},
        schedules.dead_letter_env: {"Fn::GetAtt": [ids.dead_letter_queue, "Arn"]},
    }


def expected_environment(synthesized: Synthesized, spec: wiring.Function) -> dict:
    """Common settings, every bucket's name, the URL of each queue the function sends to, and the
    program schedules' settings if it manages them."""
    (table_id,) = synthesized.of_type("AWS::DynamoDB::Table")
    queues = {queue.name: queue for queue in wiring.QUEUES}
    return {
        "TABLE_NAME": {"Ref": table_id},
        "POWERTOOLS_SERVICE_NAME": "loyalty-engine",
        "POWERTOOLS_METRICS_NAMESPACE": "LoyaltyEngine",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        **{bucket.env: {"Ref": bucket_id(synthesized, bucket.name)} for bucket in wiring.BUCKETS},
        **{queues[name].env: {"Ref": queue_ids(synthesized, name)[0]} for name in spec.sends_to},
        **expected_schedule_environment(synthesized, spec),
        **expected_bus_environment(synthesized, spec),
        **expected_dead_letter_environment(synthesized, spec),
        **spec.environment,
        # The authorizer returns the default plan's key for groups without their own (infra/api.py).
        **({"DEFAULT_USAGE_KEY": default_usage_key(synthesized.stage)} if spec.is_authorizer else {}),
    }


def expected_bus_environment(synthesized: Synthesized, spec: wiring.Function) -> dict:
    """The domain events' bus, for the publisher (infra/domain_events.py)."""
    if spec.stream_trigger is None:
        return {}
    (bus_id,) = synthesized.of_type("AWS::Events::EventBus")
    return {BUS_ENV: {"Ref": bus_id}}


def expected_dead_letter_environment(synthesized: Synthesized, spec: wiring.Function) -> dict:
    """The dead-letter queue a worker gives messages up to itself (infra/webhooks.py)."""
    trigger = spec.queue_trigger
    queue = next((q for q in wiring.QUEUES if trigger and q.name == trigger.queue), None)
    if queue is None or queue.dead_letter_env is None or queue.name not in spec.sends_to:
        return {}
    return {queue.dead_letter_env: {"Ref": queue_ids(synthesized, queue.name)[1]}}


def test_wiring_exercises_the_environment_rules() -> None:
    # Otherwise the environment assertions below would check less than they claim.
    assert wiring.BUCKETS
    assert any(spec.sends_to for spec in wiring.FUNCTIONS)
    assert any(not spec.sends_to for spec in wiring.FUNCTIONS)
    assert any(not spec.buckets for spec in wiring.FUNCTIONS)  # still gets every bucket's name
    assert any(spec.manages_schedules for spec in wiring.FUNCTIONS)
    assert any(not spec.manages_schedules for spec in wiring.FUNCTIONS)


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_function_configuration(prod: Synthesized, spec: wiring.Function) -> None:
    (layer_id,) = prod.of_type("AWS::Lambda::LayerVersion")
    prod.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": spec.handler,
            "Runtime": "python3.12",
            "Architectures": ["arm64"],
            "TracingConfig": {"Mode": "Active"},
            "Layers": [{"Ref": layer_id}],
            "MemorySize": spec.memory_mb,
            "Timeout": spec.timeout_s,
            "Description": spec.description,
            "Environment": {"Variables": Match.object_equals(expected_environment(prod, spec))},
        },
    )


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_deployed_environment_satisfies_the_function_settings(
    prod: Synthesized, spec: wiring.Function
) -> None:
    """Every resource variable the function's settings model declares is set, the optional ones
    included (their absence is a reduced mode for tests), and the model accepts the environment.
    Tunables with a default value (a cache's lifetime, a size limit) may be left out."""
    model = getattr(settings, spec.settings)
    _, properties = functions_by_handler(prod)[spec.handler]
    variables = properties["Environment"]["Variables"]
    resources = {
        field.alias for field in model.model_fields.values() if field.default is None or field.is_required()
    }
    assert resources <= variables.keys()
    resolved = {
        name: value if isinstance(value, str) else f"resolved-{name.lower()}"
        for name, value in variables.items()
    }
    model.model_validate(resolved)


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_function_has_own_log_group_with_retention(each_stage: Synthesized, spec: wiring.Function) -> None:
    _, properties = functions_by_handler(each_stage)[spec.handler]
    log_group_id = properties["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = each_stage.resources[log_group_id]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    expected_days = {"prod": 90, "dev": 7}[each_stage.stage]
    assert log_group["Properties"]["RetentionInDays"] == expected_days


@pytest.mark.parametrize("spec", ASYNC_DLQ, ids=lambda spec: spec.name)
def test_function_has_encrypted_ssl_only_dead_letter_queue(prod: Synthesized, spec: wiring.Function) -> None:
    _, properties = functions_by_handler(prod)[spec.handler]
    (queue_id,) = refs(properties["DeadLetterConfig"]["TargetArn"])
    queue = prod.resources[queue_id]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True

    policies = [
        p
        for p in prod.of_type("AWS::SQS::QueuePolicy").values()
        if queue_id in refs(p["Properties"]["Queues"])
    ]
    assert len(policies) == 1
    statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


@pytest.mark.parametrize("spec", QUEUE_TRIGGERED, ids=lambda spec: spec.name)
def test_queue_triggered_function_has_no_async_dead_letter_queue(
    prod: Synthesized, spec: wiring.Function
) -> None:
    # Lambda polls the queue (a synchronous invocation): a failing message goes to the queue's
    # own dead-letter queue after max_receive_count receives, where the alarm is.
    _, properties = functions_by_handler(prod)[spec.handler]
    assert "DeadLetterConfig" not in properties


def test_dead_letter_queues_are_distinct(prod: Synthesized) -> None:
    queues = [
        refs(p["DeadLetterConfig"]["TargetArn"]).pop()
        for _, p in functions_by_handler(prod).values()
        if "DeadLetterConfig" in p
    ]
    assert len(set(queues)) == len(ASYNC_DLQ)
    # Plus each wiring queue and its dead-letter queue, and the program schedules' dead-letter queue.
    assert len(prod.of_type("AWS::SQS::Queue")) == (
        len(ASYNC_DLQ) + 2 * len(wiring.QUEUES) + 1 + len(STREAM_TRIGGERED)
    )
    assert schedule_ids(prod).dead_letter_queue not in queues


def test_function_depends_on_its_policy_but_not_redundantly_on_its_role(prod: Synthesized) -> None:
    for logical_id, _ in functions_by_handler(prod).values():
        resource = prod.resources[logical_id]
        role_id = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        (policy_id,) = [
            pid
            for pid, policy in prod.of_type("AWS::IAM::Policy").items()
            if role_id in refs(policy["Properties"]["Roles"])
        ]
        assert resource["DependsOn"] == [policy_id]


def test_layer_is_built_for_the_function_platform(prod: Synthesized) -> None:
    (layer,) = prod.of_type("AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    for requirement in runtime_dependencies():
        assert requirement in layer["Properties"]["Description"]


def test_function_code_asset_is_the_functions_directory_without_caches(prod: Synthesized) -> None:
    (key,) = {p["Code"]["S3Key"] for _, p in functions_by_handler(prod).values()}
    asset_dir = prod.outdir / f"asset.{key.removesuffix('.zip')}"
    assert (asset_dir / "loyalty_engine" / "wiring.py").is_file()
    assert (asset_dir / "loyalty_engine" / "kernel" / "table.py").is_file()
    leftovers = [
        p.relative_to(asset_dir)
        for p in asset_dir.rglob("*")
        if p.name == "__pycache__" or p.suffix == ".pyc" or p.name.endswith(".egg-info")
    ]
    assert leftovers == []
    source_modules = {
        p.relative_to(FUNCTIONS_DIR)
        for p in FUNCTIONS_DIR.rglob("*.py")
        if "__pycache__" not in p.parts and not any(part.endswith(".egg-info") for part in p.parts)
    }
    assert source_modules <= {p.relative_to(asset_dir) for p in asset_dir.rglob("*.py")}
