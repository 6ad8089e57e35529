"""An operator stopped inside a process (tests, the demo, the benchmark) closes every
connection it opened: nothing is left for the garbage collector to report later,
in whatever happens to run next."""

from __future__ import annotations

import gc
import warnings

from causeway.sandbox.kube.backend import KubeBackendFactory
from causeway.sandbox.stack import SandboxStack


def test_starting_and_stopping_the_operator_leaves_no_open_socket(
    kube_backend: KubeBackendFactory,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with SandboxStack(namespaces=["acme"], kube_backend=kube_backend) as stack:
            for _ in range(2):
                stack.stop_operator(stack.start_operator())
        gc.collect()
    unclosed = [str(warning.message) for warning in caught if warning.category is ResourceWarning]
    assert unclosed == []
