"""Causeway: managed AWS PrivateLink connections for multi-tenant Kubernetes platforms."""
