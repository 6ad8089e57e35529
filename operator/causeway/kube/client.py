"""The kubernetes API client the operator's own requests go through (outside kopf):
one place that names the operator in its User-Agent, so audit logs show who asked."""

from __future__ import annotations

from typing import Any

import kubernetes

from causeway import __version__

USER_AGENT = f"causeway/{__version__}"


def operator_client(configuration: kubernetes.client.Configuration) -> Any:
    """An API client sending Causeway's User-Agent."""
    client = kubernetes.client.ApiClient(configuration)
    client.user_agent = USER_AGENT
    return client
