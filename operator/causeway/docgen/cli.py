"""The command-line reference page: every `causeway` command and each of its flags,
read from the argparse parser in causeway/cli.py (the same one `--help` prints)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from causeway.cli import _parser
from causeway.docgen.markdown import code, header, table


def page() -> str:
    parser = _parser()
    text = header("the argparse parser in operator/causeway/cli.py") + (
        "# Command line reference\n\n"
        "`causeway` is installed with the package; the same program is the kubectl plugin "
        "`kubectl causeway` (every command works under both names). Every command has "
        "`--help`. A problem a user can cause ends as one line on stderr starting "
        "`causeway:`, with exit status 2 for bad input (arguments, config, kubeconfig, CRDs "
        "not installed), 1 when something needed did not answer, and 130 when "
        "interrupted.\n\n"
    )
    for name, help_text, command in _commands(parser):
        text += f"## causeway {name}\n\n{_sentence(help_text)}\n\n"
        text += f"```\n{_usage(command)}\n```\n"
        rows = list(_flags(command))
        if rows:
            text += table(("Argument", "Value", "Default", "Meaning"), rows)
        else:
            text += "\n"
    return text


def _commands(
    parser: argparse.ArgumentParser,
) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, command in action.choices.items():
                yield name, helps.get(name, ""), command


def _usage(command: argparse.ArgumentParser) -> str:
    usage = command.format_usage().removeprefix("usage: ").strip()
    return " ".join(usage.split())


def _flags(command: argparse.ArgumentParser) -> Iterator[list[str]]:
    for action in command._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        names = ", ".join(code(name) for name in action.option_strings) or code(action.dest)
        yield [names, _value(action), _default(action), _sentence(action.help or "")]


def _value(action: argparse.Action) -> str:
    if action.choices:
        return " or ".join(code(choice) for choice in action.choices)
    if action.nargs == 0 or isinstance(action, argparse._CountAction):
        return "(flag)" if not isinstance(action, argparse._CountAction) else "(repeatable)"
    return code(action.metavar or action.dest.upper())


def _default(action: argparse.Action) -> str:
    default = action.default
    if default in (None, False, argparse.SUPPRESS) or isinstance(action, argparse._CountAction):
        return ""
    if default is True:
        return code("true")
    return code(f"{default:g}" if isinstance(default, float) else default)


def _sentence(text: str) -> str:
    text = " ".join(text.split()).replace("%%", "%")
    return text[:1].upper() + text[1:] if text else ""
