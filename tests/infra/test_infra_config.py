"""The parts of the infra code that need no synth: stage switch, layer recipe, grants, environment."""

from __future__ import annotations

import subprocess
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, DockerImage, Duration, RemovalPolicy
from infra_testing import TEST_CONTEXT

from infra import layer
from infra.app import build_app
from infra.config import (
    ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER,
    CLOUDWATCH_ROLE_CONTEXT,
    NONCURRENT_VERSION_EXPIRATION,
    OBJECT_EXPIRATION,
    stage_config,
)
from infra.functions import function_environment
from infra.table_grants import READ_ACTIONS, WRITE_ACTIONS, table_actions
from loyalty_engine import wiring

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_prod_keeps_data_and_dev_does_not() -> None:
    prod, dev = stage_config("prod"), stage_config("dev")
    assert (prod.removal_policy, prod.table_deletion_protection) == (RemovalPolicy.RETAIN, True)
    assert (dev.removal_policy, dev.table_deletion_protection) == (RemovalPolicy.DESTROY, False)
    assert (prod.auto_delete_objects, dev.auto_delete_objects) == (False, True)
    assert (prod.stack_name, dev.stack_name) == ("LoyaltyEngine-prod", "LoyaltyEngine-dev")


def test_unknown_stage_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown stage 'staging'"):
        stage_config("staging")


@pytest.mark.parametrize(
    ("context", "argument", "expected"),
    [
        ({}, None, "LoyaltyEngine-prod"),
        ({"stage": "dev"}, None, "LoyaltyEngine-dev"),
        ({}, "dev", "LoyaltyEngine-dev"),
    ],
)
def test_stage_comes_from_argument_then_context_then_defaults_to_prod(
    context: dict[str, str], argument: str | None, expected: str
) -> None:
    # Builds the construct tree only: no synth, and no layer bundling (which runs on construction).
    _, stack = build_app(App(context=context, post_cli_context=TEST_CONTEXT), argument)
    assert stack.stack_name == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), (False, False), ("false", False), ("FALSE", False), (True, True), ("true", True)],
)
def test_the_cloudwatch_role_context_is_a_yes_or_no(value: object, expected: bool) -> None:
    context = {} if value is None else {CLOUDWATCH_ROLE_CONTEXT: value}
    _, stack = build_app(App(context=context, post_cli_context=TEST_CONTEXT), "dev")
    assert stack.config.api_gateway_cloudwatch_role is expected
    assert (stack.api.rest_api.node.try_find_child("CloudWatchRole") is not None) is expected


def test_a_cloudwatch_role_context_that_is_not_a_yes_or_no_is_refused() -> None:
    with pytest.raises(ValueError, match="api_gateway_cloudwatch_role='yes please'"):
        build_app(App(context={CLOUDWATCH_ROLE_CONTEXT: "yes please"}, post_cli_context=TEST_CONTEXT), "dev")


def test_layer_installs_exactly_the_runtime_dependencies_of_pyproject() -> None:
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        declared = tomllib.load(file)["project"]["dependencies"]
    assert list(layer.runtime_dependencies()) == [d.replace(" ", "") for d in declared]


def test_unpinned_runtime_dependency_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["pydantic>=2", "boto3==1.0.0"]\n')
    with pytest.raises(ValueError, match="pinned"):
        layer.runtime_dependencies(pyproject)


def test_pip_targets_the_lambda_platform() -> None:
    command = layer.pip_install_command("/out/python", ["pydantic==2.0.0"])
    joined = " ".join(command)
    # Both the classic manylinux2014 tag and the PEP 600 manylinux_2_28 tag (glibc 2.28; the
    # Python 3.12 runtime has 2.34): pip matches platform tags exactly, so each is named.
    platforms = [command[i + 1] for i, option in enumerate(command) if option == "--platform"]
    assert platforms == ["manylinux_2_28_aarch64", "manylinux2014_aarch64"]
    assert "--implementation cp" in joined
    assert "--python-version 3.12" in joined
    assert "--only-binary=:all:" in command
    assert "--target /out/python" in joined
    assert command[-1] == "pydantic==2.0.0"
    assert layer.RUNTIME.name == f"python{layer.PIP_PYTHON_VERSION}"
    assert layer.ARCHITECTURE.name == "arm64"


def test_layer_hash_changes_with_the_requirements() -> None:
    assert layer.layer_asset_hash(["a==1"]) == layer.layer_asset_hash(["a==1"])
    assert layer.layer_asset_hash(["a==1"]) != layer.layer_asset_hash(["a==2"])


def test_local_bundling_installs_into_python_dir_and_drops_scripts_and_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def fake_pip(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        target = Path(command[command.index("--target") + 1])
        for directory in ("bin", "pkg/__pycache__"):
            (target / directory).mkdir(parents=True)
        (target / "pkg" / "__init__.py").write_text("")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(layer.subprocess, "run", fake_pip)
    bundler = layer.PipLayerBundling(["pkg==1.0"])

    assert bundler.try_bundle(str(tmp_path), image=DockerImage.from_registry("unused")) is True
    assert calls and calls[0][-1] == "pkg==1.0"
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "python",
        "python/pkg",
        "python/pkg/__init__.py",
    ]


def test_local_bundling_failure_stops_synth_with_pips_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_pip(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            command, 1, "", "ERROR: No matching distribution found for nope==9"
        )

    monkeypatch.setattr(layer.subprocess, "run", failing_pip)
    with pytest.raises(RuntimeError, match="No matching distribution found"):
        layer.PipLayerBundling(["nope==9"]).try_bundle(
            str(tmp_path), image=DockerImage.from_registry("unused")
        )


def test_read_access_has_no_write_action() -> None:
    assert set(table_actions("read")) == set(READ_ACTIONS)
    assert not set(table_actions("read")) & set(WRITE_ACTIONS)
    assert set(table_actions("read_write")) == set(READ_ACTIONS) | set(WRITE_ACTIONS)
    with pytest.raises(ValueError):
        table_actions("admin")  # type: ignore[arg-type]


def test_bucket_retention_policy() -> None:
    # The retention the operators agreed on; the constants in infra.config are the one place to change it.
    assert {
        bucket: {prefix: after.to_days() for prefix, after in rules}
        for bucket, rules in OBJECT_EXPIRATION.items()
    } == {
        "Imports": {"processed/": 90, "reports/": 400},
        "Exports": {"exports/": 30},  # a hand-off to the card printer: see infra.config
    }
    assert NONCURRENT_VERSION_EXPIRATION.to_days() == 30
    assert ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER.to_days() == 7


def test_object_expiration_must_name_wiring_buckets_and_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra import buckets

    monkeypatch.setitem(buckets.OBJECT_EXPIRATION, "Nope", (("x/", Duration.days(1)),))
    with pytest.raises(ValueError, match="Nope"):
        buckets.object_expiration("Imports")
    monkeypatch.delitem(buckets.OBJECT_EXPIRATION, "Nope")
    monkeypatch.setitem(buckets.OBJECT_EXPIRATION, "Exports", (("exports", Duration.days(1)),))
    with pytest.raises(ValueError, match="folder"):
        buckets.object_expiration("Exports")


BUCKET_NAMES = {bucket.name: f"bucket-{bucket.name}" for bucket in wiring.BUCKETS}
QUEUE_URLS = {queue.name: f"https://sqs/{queue.name}" for queue in wiring.QUEUES}


def environment(spec: wiring.Function) -> dict[str, str]:
    return function_environment(spec, table_name="t", bucket_names=BUCKET_NAMES, queue_urls=QUEUE_URLS)


def test_function_environment_cannot_override_the_common_variables() -> None:
    spec = wiring.Function(
        name="X", handler="m.h", description="d", table_access="read", environment={"TABLE_NAME": "other"}
    )
    with pytest.raises(ValueError, match="TABLE_NAME"):
        environment(spec)
    extra = wiring.Function(
        name="X", handler="m.h", description="d", table_access="read", environment={"A": "1"}
    )
    assert environment(extra)["A"] == "1"


def test_function_environment_names_every_bucket_and_the_queues_it_sends_to() -> None:
    (queue, *_) = wiring.QUEUES
    plain = wiring.Function(name="X", handler="m.h", description="d", table_access="read")
    sender = wiring.Function(
        name="Y", handler="m.h", description="d", table_access="read", sends_to=(queue.name,)
    )
    buckets = {bucket.env: BUCKET_NAMES[bucket.name] for bucket in wiring.BUCKETS}
    assert {k: v for k, v in environment(plain).items() if k in buckets or k == queue.env} == buckets
    assert environment(sender)[queue.env] == QUEUE_URLS[queue.name]
    for name in (wiring.BUCKETS[0].env, queue.env):
        overriding = wiring.Function(
            name="Z", handler="m.h", description="d", table_access="read", environment={name: "other"}
        )
        with pytest.raises(ValueError, match=name):
            environment(overriding)


SCHEDULE_SETTINGS = {
    wiring.PROGRAM_SCHEDULES.group_env: "group",
    wiring.PROGRAM_SCHEDULES.role_env: "arn:role",
    wiring.PROGRAM_SCHEDULES.target_env: "arn:function",
    wiring.PROGRAM_SCHEDULES.dead_letter_env: "arn:queue",
}


def test_function_environment_gives_the_schedule_settings_to_the_functions_managing_them_only() -> None:
    manager = wiring.Function(
        name="X", handler="m.h", description="d", table_access="read", manages_schedules=True
    )
    plain = wiring.Function(name="Y", handler="m.h", description="d", table_access="read")
    managed = function_environment(
        manager, table_name="t", bucket_names=BUCKET_NAMES, queue_urls=QUEUE_URLS, schedules=SCHEDULE_SETTINGS
    )
    assert {k: managed[k] for k in SCHEDULE_SETTINGS} == SCHEDULE_SETTINGS
    unmanaged = function_environment(
        plain, table_name="t", bucket_names=BUCKET_NAMES, queue_urls=QUEUE_URLS, schedules=SCHEDULE_SETTINGS
    )
    assert not set(SCHEDULE_SETTINGS) & set(unmanaged)
    with pytest.raises(ValueError, match="manages the program schedules"):
        environment(manager)  # no settings given
    partial = dict(list(SCHEDULE_SETTINGS.items())[:3])
    with pytest.raises(ValueError, match="manages the program schedules"):
        function_environment(
            manager, table_name="t", bucket_names=BUCKET_NAMES, queue_urls=QUEUE_URLS, schedules=partial
        )


def test_function_environment_cannot_override_or_reuse_the_schedule_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    overriding = wiring.Function(
        name="X",
        handler="m.h",
        description="d",
        table_access="read",
        environment={wiring.PROGRAM_SCHEDULES.group_env: "other"},
    )
    with pytest.raises(ValueError, match=wiring.PROGRAM_SCHEDULES.group_env):
        environment(overriding)
    # A schedule variable may not be a queue's (or bucket's) variable too.
    monkeypatch.setattr(
        wiring, "PROGRAM_SCHEDULES", replace(wiring.PROGRAM_SCHEDULES, role_env=wiring.QUEUES[0].env)
    )
    plain = wiring.Function(name="Y", handler="m.h", description="d", table_access="read")
    with pytest.raises(ValueError, match="not distinct"):
        environment(plain)


def test_a_queue_must_stay_invisible_longer_than_its_consumer_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Checked at synth time: a shorter visibility timeout would hand a message to a second
    # consumer while the first is still working on it.
    consumer = next(spec for spec in wiring.FUNCTIONS if spec.queue_trigger is not None)
    assert consumer.queue_trigger is not None
    short = [
        replace(queue, visibility_timeout_s=consumer.timeout_s - 1)
        if queue.name == consumer.queue_trigger.queue
        else queue
        for queue in wiring.QUEUES
    ]
    monkeypatch.setattr(wiring, "QUEUES", tuple(short))
    with pytest.raises(ValueError, match=f"visibility timeout of {consumer.timeout_s - 1} s"):
        build_app(App(post_cli_context=TEST_CONTEXT), "prod")


def test_a_grant_on_the_whole_bucket_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    granted = next(spec for spec in wiring.FUNCTIONS if spec.buckets)
    wide = replace(granted, buckets=(replace(granted.buckets[0], read=("",)),))
    monkeypatch.setattr(wiring, "FUNCTIONS", tuple(wide if s is granted else s for s in wiring.FUNCTIONS))
    with pytest.raises(ValueError, match="not the whole bucket"):
        build_app(App(post_cli_context=TEST_CONTEXT), "prod")
