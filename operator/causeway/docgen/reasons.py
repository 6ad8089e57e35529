"""The condition reasons page: every reason in the registry (causeway/reasons.py), with
the error table's verdict for those that come from AWS answers (terminal or
recoverable, and the AWS codes that lead to it), and the phases that double as
reasons."""

from __future__ import annotations

from causeway.api import Phase
from causeway.docgen.markdown import code, header, table
from causeway.errors import ERROR_TABLE, ErrorKind
from causeway.reasons import REASONS, ReasonInfo


def page() -> str:
    return (
        header("operator/causeway/reasons.py and operator/causeway/errors.py")
        + "# Condition reasons\n\n"
        "Every reason Causeway writes on a condition or an Event. Reasons are stable "
        "CamelCase words a script may match on; messages are for people and may change. "
        "`kubectl causeway status` prints the message and the next step for anything "
        "not Ready; the [troubleshooting guide](../operations/troubleshooting.md) reads "
        "them by phase.\n\n"
        "## From AWS answers\n\n"
        "One table (`operator/causeway/errors.py`) sorts every AWS error code, and every "
        "failure botocore raises (by its class name), into *terminal*: the object goes "
        "Stalled and is not retried until its spec changes or it is synced (a "
        "platform-side one is retried once the operator restarts with a fixed config); "
        "or *recoverable*: retried with exponential backoff from 2 s, doubling to 5 "
        "minutes, with `Synced=False` and the reason while the phase and `Ready` stay as "
        "last observed. Codes the table does not know are recoverable (`AwsError`). While "
        "an object is being deleted every failure is retried. An object's own recoverable "
        "failure logs one WARNING line per attempt; a platform-wide one (missing "
        "credentials, say) logs one line per region when it starts and one when it ends.\n"
        + table(
            ("Reason", "Kind", "Shows on", "Meaning", "Who acts", "What to do", "AWS codes"),
            [_aws_row(info) for info in REASONS if info.name in _codes()],
        )
        + "## From Causeway's own checks\n"
        + table(
            ("Reason", "Shows on", "Meaning", "Who acts", "What to do"),
            [_row(info) for info in REASONS if info.name not in _codes()],
        )
        + "## Phases as reasons\n\n"
        "Otherwise a connection's `Ready`, `Reconciling` and `Stalled` conditions carry "
        "its phase as the reason: "
        + ", ".join(code(phase.value) for phase in Phase)
        + ". A credential's phase is `Ready`, `Pending` or `Invalid`.\n"
    )


def _codes() -> dict[str, list[str]]:
    codes: dict[str, list[str]] = {"AwsError": ["any other"]}
    for code_name, rule in ERROR_TABLE.items():
        codes.setdefault(rule.reason, []).append(code_name)
    return codes


def _kind(reason: str) -> str:
    kinds = {rule.kind for rule in ERROR_TABLE.values() if rule.reason == reason}
    return "terminal" if kinds == {ErrorKind.TERMINAL} else "recoverable"


def _aws_row(info: ReasonInfo) -> list[str]:
    codes = ", ".join(code(name) for name in _codes()[info.name])
    return [code(info.name), _kind(info.name), *_row(info)[1:], codes]


def _row(info: ReasonInfo) -> list[str]:
    return [code(info.name), info.where, info.meaning, str(info.actor), info.action]
