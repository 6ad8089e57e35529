"""Failures meant for the person at the terminal: each carries a one-line message and
the exit code it means, so the CLI turns any of them into `causeway: <message>`."""

from __future__ import annotations


class UserError(Exception):
    """Bad input (arguments, config, kubeconfig, a missing install step): exit 2."""

    exit_code = 2


class UnavailableError(Exception):
    """Something the command needs did not answer in time: exit 1."""

    exit_code = 1
