"""Concurrency: every worker (a function serving no route) has a cap, so that imports, scheduled
jobs and batches cannot take the concurrency the API needs; the API functions end before API
Gateway gives up on them."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aws_cdk import App
from infra_testing import TEST_CONTEXT, Synthesized, function_resource, queue_ids

from infra.app import build_app
from infra.functions import is_worker
from loyalty_engine import wiring

pytestmark = pytest.mark.infra

WORKERS = [spec for spec in wiring.FUNCTIONS if is_worker(spec)]
QUEUE_FED = [spec for spec in WORKERS if spec.queue_trigger is not None]
OTHERS = [spec for spec in WORKERS if spec.queue_trigger is None and spec.stream_trigger is None]
SERVING = [spec for spec in wiring.FUNCTIONS if not is_worker(spec)]
# Lambda's default concurrency quota per account and region.
ACCOUNT_CONCURRENCY = 1000


def test_the_workers_are_the_functions_that_serve_no_request() -> None:
    assert {spec.name for spec in QUEUE_FED} >= {"Importer", "JobWorker", "BatchIssuer"}
    assert {spec.name for spec in OTHERS} >= {"JobStarter"}
    assert {spec.name for spec in SERVING} == {"Authorizer", "Api", "InstrumentApi"}


def _mapping(synthesized: Synthesized, spec: wiring.Function) -> dict:
    assert spec.queue_trigger is not None
    queue_id, _ = queue_ids(synthesized, spec.queue_trigger.queue)
    (mapping,) = [
        m["Properties"]
        for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    return mapping


@pytest.mark.parametrize("spec", QUEUE_FED, ids=lambda spec: spec.name)
def test_a_queue_fed_worker_is_capped_by_its_event_source_not_throttled(
    prod: Synthesized, spec: wiring.Function
) -> None:
    # The event source never invokes more than max_concurrency at once: extra messages wait in
    # the queue. Reserved concurrency instead would throttle the pollers' invocations, and each
    # throttled receive counts towards the dead-letter queue.
    assert spec.queue_trigger is not None
    assert _mapping(prod, spec)["ScalingConfig"] == {"MaximumConcurrency": spec.queue_trigger.max_concurrency}
    _, function = function_resource(prod, spec)
    assert "ReservedConcurrentExecutions" not in function


def test_the_job_worker_takes_one_runs_shards_at_once(prod: Synthesized) -> None:
    (worker,) = [spec for spec in QUEUE_FED if spec.queue_trigger and spec.queue_trigger.queue == "Jobs"]
    assert _mapping(prod, worker)["ScalingConfig"] == {"MaximumConcurrency": 16}


@pytest.mark.parametrize("spec", OTHERS, ids=lambda spec: spec.name)
def test_any_other_worker_has_reserved_concurrency(prod: Synthesized, spec: wiring.Function) -> None:
    _, function = function_resource(prod, spec)
    assert spec.reserved_concurrency is not None
    assert function["ReservedConcurrentExecutions"] == spec.reserved_concurrency


@pytest.mark.parametrize("spec", SERVING, ids=lambda spec: spec.name)
def test_the_functions_serving_requests_share_the_rest(prod: Synthesized, spec: wiring.Function) -> None:
    _, function = function_resource(prod, spec)
    assert "ReservedConcurrentExecutions" not in function


def test_the_workers_together_hold_a_small_part_of_the_accounts_concurrency() -> None:
    held = sum(
        spec.queue_trigger.max_concurrency
        if spec.queue_trigger and spec.queue_trigger.max_concurrency
        else spec.reserved_concurrency or 0
        for spec in WORKERS
    )
    assert 0 < held <= ACCOUNT_CONCURRENCY // 20  # the API keeps at least 95% of the default quota


@pytest.mark.parametrize("spec", SERVING, ids=lambda spec: spec.name)
def test_the_functions_serving_requests_end_before_api_gateway_gives_up(
    prod: Synthesized, spec: wiring.Function
) -> None:
    _, function = function_resource(prod, spec)
    assert function["Timeout"] < wiring.API_GATEWAY_TIMEOUT_S == 29


# The rules are checked at synth time.


def _build_with(monkeypatch: pytest.MonkeyPatch, original: wiring.Function, changed: wiring.Function) -> None:
    monkeypatch.setattr(
        wiring, "FUNCTIONS", tuple(changed if spec is original else spec for spec in wiring.FUNCTIONS)
    )
    build_app(App(post_cli_context=TEST_CONTEXT), "prod")


def _queue_fed(**changes: object) -> tuple[wiring.Function, wiring.Function]:
    spec = QUEUE_FED[0]
    assert spec.queue_trigger is not None
    trigger = replace(spec.queue_trigger, **{k: v for k, v in changes.items() if k == "max_concurrency"})
    others = {k: v for k, v in changes.items() if k != "max_concurrency"}
    return spec, replace(spec, queue_trigger=trigger, **others)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_concurrency": None}, "without a cap: set its QueueTrigger's max_concurrency"),
        ({"max_concurrency": 1}, "max_concurrency 1 is not in 2..1000"),
        ({"max_concurrency": 1001}, "max_concurrency 1001 is not in 2..1000"),
        ({"max_concurrency": 4, "reserved_concurrency": 3}, "would throttle the queue's invocations"),
    ],
)
def test_a_queue_fed_worker_without_a_valid_cap_is_refused(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, object], message: str
) -> None:
    original, changed = _queue_fed(**changes)
    with pytest.raises(ValueError, match=message):
        _build_with(monkeypatch, original, changed)


@pytest.mark.parametrize(("reserved", "message"), [(None, "no concurrency cap"), (0, "at least 1")])
def test_another_worker_without_reserved_concurrency_is_refused(
    monkeypatch: pytest.MonkeyPatch, reserved: int | None, message: str
) -> None:
    original = OTHERS[0]
    with pytest.raises(ValueError, match=message):
        _build_with(monkeypatch, original, replace(original, reserved_concurrency=reserved))


def test_a_function_serving_routes_with_api_gateways_timeout_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (original,) = [spec for spec in SERVING if spec.name == "InstrumentApi"]
    with pytest.raises(ValueError, match="must be below API Gateway's 29 s"):
        _build_with(monkeypatch, original, replace(original, timeout_s=29))
