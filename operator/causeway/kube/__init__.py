"""The Kubernetes edge outside kopf: the only package that uses the kubernetes client.
`connection` finds and checks the cluster before the operator starts; `api` writes
status and records Events from outside kopf's handlers; `secrets` reads, publishes and
watches the Secrets NamedCredentials use."""

from causeway.kube.api import KubeApi, ObjectRef, StaleObjectError
from causeway.kube.connection import (
    ClusterConnection,
    KubeConfigError,
    KubeUnavailableError,
    check_cluster,
    load_cluster,
)
from causeway.kube.secrets import (
    PublishedSecret,
    SecretAccessDeniedError,
    SecretApiError,
    SecretContent,
    SecretsApi,
)

__all__ = [
    "ClusterConnection",
    "KubeApi",
    "KubeConfigError",
    "KubeUnavailableError",
    "ObjectRef",
    "PublishedSecret",
    "SecretAccessDeniedError",
    "SecretApiError",
    "SecretContent",
    "SecretsApi",
    "StaleObjectError",
    "check_cluster",
    "load_cluster",
]
