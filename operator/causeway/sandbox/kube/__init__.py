"""An in-process, real-HTTP Kubernetes API for running the real operator end to
end (the demo, the e2e tests and the benchmark), built on kmock's emulator with a
thin shim for what a real API server does and kmock 0.8 does not."""

from causeway.sandbox.kube.kinds import CORE_KINDS, ResourceKind, kinds_from_crds
from causeway.sandbox.kube.server import KubeSandbox, KubeSandboxError, ThreadedKubeSandbox

__all__ = [
    "CORE_KINDS",
    "KubeSandbox",
    "KubeSandboxError",
    "ResourceKind",
    "ThreadedKubeSandbox",
    "kinds_from_crds",
]
