"""The Kubernetes edge outside kopf: the only package that uses the kubernetes client.
`connection` finds and checks the cluster before the operator starts; `api` writes
status and records Events from outside kopf's handlers."""

from causeway.kube.api import KubeApi, ObjectRef
from causeway.kube.connection import (
    ClusterConnection,
    KubeConfigError,
    KubeUnavailableError,
    check_cluster,
    load_cluster,
)

__all__ = [
    "ClusterConnection",
    "KubeApi",
    "KubeConfigError",
    "KubeUnavailableError",
    "ObjectRef",
    "check_cluster",
    "load_cluster",
]
