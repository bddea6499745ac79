"""The parts of the infra code that need no synth: stage switch, layer recipe, grants, environment."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, DockerImage, RemovalPolicy
from infra_testing import TEST_CONTEXT

from infra import layer
from infra.app import build_app
from infra.config import stage_config
from infra.functions import READ_ACTIONS, WRITE_ACTIONS, function_environment, table_actions
from loyalty_engine import wiring

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_prod_keeps_data_and_dev_does_not() -> None:
    prod, dev = stage_config("prod"), stage_config("dev")
    assert (prod.removal_policy, prod.table_deletion_protection) == (RemovalPolicy.RETAIN, True)
    assert (dev.removal_policy, dev.table_deletion_protection) == (RemovalPolicy.DESTROY, False)
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
    assert "--platform manylinux2014_aarch64" in joined
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


def test_function_environment_cannot_override_the_common_variables() -> None:
    spec = wiring.Function(
        name="X", handler="m.h", description="d", table_access="read", environment={"TABLE_NAME": "other"}
    )
    with pytest.raises(ValueError, match="TABLE_NAME"):
        function_environment(spec, table_name="t")
    extra = wiring.Function(
        name="X", handler="m.h", description="d", table_access="read", environment={"A": "1"}
    )
    assert function_environment(extra, table_name="t")["A"] == "1"
