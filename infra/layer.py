"""The dependency layer: the runtime dependencies of pyproject.toml, pip-installed locally.

There is no Docker on the build machines, so the layer is bundled with a local `pip install`
that downloads manylinux wheels for the Lambda platform (Python 3.12 on arm64) instead of
building inside a container. `--only-binary=:all:` guarantees nothing is compiled for the
build host by accident.

pip matches `--platform` tags exactly (it does not infer that a newer glibc runs older
wheels), so every manylinux tag the runtime can load is named: the Lambda Python 3.12 runtime
is Amazon Linux 2023 (glibc 2.34), which runs `manylinux2014` (glibc 2.17) wheels and the
`manylinux_2_28` (glibc 2.28) wheels that more and more projects publish instead.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = REPO_ROOT / "pyproject.toml"

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
# pip's view of RUNTIME and ARCHITECTURE: keep the three in step.
PIP_PYTHON_VERSION = "3.12"
# In pip's order of preference: the newer glibc first, as pip on an arm64 Lambda host would rank them.
PIP_PLATFORMS: tuple[str, ...] = ("manylinux_2_28_aarch64", "manylinux2014_aarch64")

_PINNED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?==[A-Za-z0-9.+!-]+")


def runtime_dependencies(pyproject: Path = PYPROJECT) -> tuple[str, ...]:
    """`[project].dependencies`, each of which must be pinned with `==` (the layer is reproducible)."""
    with pyproject.open("rb") as file:
        dependencies = tuple(str(d).replace(" ", "") for d in tomllib.load(file)["project"]["dependencies"])
    if not dependencies:
        raise ValueError(f"{pyproject}: [project].dependencies is empty")
    unpinned = [d for d in dependencies if not _PINNED.fullmatch(d)]
    if unpinned:
        raise ValueError(f"{pyproject}: layer dependencies must be pinned with '==': {unpinned}")
    return dependencies


def pip_install_command(target: str, requirements: Sequence[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--no-compile",  # .pyc files would be for the build host's Python, not 3.12
        *(option for platform in PIP_PLATFORMS for option in ("--platform", platform)),
        "--implementation",
        "cp",
        "--python-version",
        PIP_PYTHON_VERSION,
        "--only-binary=:all:",
        "--target",
        target,
        *requirements,
    ]


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    """Installs the requirements into `<output_dir>/python` (the layer's import path) with local pip."""

    def __init__(self, requirements: Sequence[str]) -> None:
        self.requirements = tuple(requirements)

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        target = Path(output_dir) / "python"
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            pip_install_command(str(target), self.requirements),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            # Raising (rather than returning False) stops synth here with pip's own message,
            # instead of falling back to Docker bundling, which cannot work on these machines.
            raise RuntimeError(
                f"pip install for the dependency layer failed:\n{result.stdout}{result.stderr}"
            )
        shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts are useless in a layer
        for cache in list(target.rglob("__pycache__")):
            shutil.rmtree(cache, ignore_errors=True)
        return True


# Bump when PipLayerBundling changes what it does to pip's output: the hash must change with it.
BUNDLING_RECIPE_VERSION = 1


def layer_asset_hash(requirements: Sequence[str]) -> str:
    """Content hash of the layer: what is installed and how, so a cached bundle is reused only if valid."""
    recipe = {
        "requirements": list(requirements),
        "pip": pip_install_command("<target>", ())[3:],  # without the interpreter path
        "recipe": BUNDLING_RECIPE_VERSION,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def build_dependency_layer(
    scope: Construct, requirements: Sequence[str] | None = None
) -> lambda_.LayerVersion:
    requirements = tuple(requirements) if requirements is not None else runtime_dependencies()
    code = lambda_.Code.from_asset(
        # The bundle is made from the requirements alone (the custom hash below); the
        # source directory is only a placeholder that asset staging requires.
        str(Path(__file__).resolve().parent),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=layer_asset_hash(requirements),
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling-only"),
            local=PipLayerBundling(requirements),
        ),
    )
    return lambda_.LayerVersion(
        scope,
        "DependencyLayer",
        code=code,
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description=("Runtime dependencies: " + ", ".join(requirements))[:256],
    )
