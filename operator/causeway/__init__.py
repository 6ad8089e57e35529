"""Causeway: managed AWS PrivateLink connections for multi-tenant Kubernetes platforms."""

__version__ = "0.1.0"
