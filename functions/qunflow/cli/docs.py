"""docs/CLI.md, generated from every command's --help.

Run `python docs/generate.py` after changing a command or a schema; tests/test_docs.py
fails while the committed files are out of date.
"""
from __future__ import annotations

import click



def _commands(group: click.Group, prefix: str = "qunflow") -> list[tuple[str, click.Command]]:
    out = []
    ctx = click.Context(group, info_name=prefix)
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        full = f"{prefix} {name}"
        out.append((full, command))
        if isinstance(command, click.Group):
            out += _commands(command, full)
    return out


def command_names() -> list[str]:
    from . import cli
    return [name for name, _ in _commands(cli)]


def cli_reference() -> str:
    from . import cli
    parts = ["# Command reference\n", "Generated from `--help` by `python docs/generate.py`; do not edit by hand.\n"]
    settings = dict(terminal_width=100, max_content_width=100, help_option_names=["-h", "--help"])  # as cli's own
    contexts = {"qunflow": click.Context(cli, info_name="qunflow", **settings)}
    for name, command in _commands(cli):
        parent, _, own = name.rpartition(" ")
        # each context names only its own word: click joins the parents' names into the usage line
        ctx = contexts[name] = click.Context(command, info_name=own, parent=contexts[parent], **settings)
        parts.append(f"## {name}\n\n```\n{command.get_help(ctx)}\n```\n")
    return "\n".join(parts)
