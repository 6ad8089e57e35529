"""Test-wide hygiene: the CLI configures logging (root handlers and levels) as a real
process does; every test gets the logging setup it started with back afterwards.
And the session's real Kubernetes control plane, for the tests that use one; and the
judging of the operator's permissions against what the whole run saw it do."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from permission_usage import (  # noqa: F401 (hooks: the operator's permissions, judged)
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_testnodedown,
)
from realkube.controlplane import ControlPlane, asset_directory, missing_assets
from realkube.session import RealCluster

_CONFIGURED = ("causeway", "kopf", "aiohttp.access", "urllib3", "botocore", "boto3", "kubernetes")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in _CONFIGURED}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


@pytest.fixture(scope="session")
def real_cluster() -> Iterator[RealCluster]:
    """A real control plane (etcd, kube-apiserver, kube-controller-manager) with Causeway
    installed from deploy/install.yaml; skipped when no binaries are configured."""
    assets = asset_directory()
    reason = missing_assets(assets)
    if reason or assets is None:
        pytest.skip(reason or "no assets")
    with ControlPlane(assets) as plane:
        cluster = RealCluster(plane)
        cluster.install()
        yield cluster
