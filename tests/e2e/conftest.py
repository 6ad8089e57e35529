"""The end-to-end suite's backends: every test runs on the embedded sandbox and on a
real API server. (What the operator did there is held to its permissions by
tests/permission_usage.py, over the whole run.)"""

from __future__ import annotations

import pytest

from causeway.sandbox.kube import ThreadedKubeSandbox
from causeway.sandbox.kube.backend import KubeBackendFactory
from realkube.session import RealCluster


@pytest.fixture(scope="session", params=["sandbox", "apiserver"])
def kube_backend(request: pytest.FixtureRequest) -> KubeBackendFactory:
    """Every end-to-end test runs twice: on the embedded sandbox and on a real API server
    (skipped, with the reason, where no control-plane binaries are configured)."""
    if request.param == "sandbox":
        return ThreadedKubeSandbox
    cluster: RealCluster = request.getfixturevalue("real_cluster")
    return cluster.backend
