"""Generate docs/CLI.md (from every command's --help) and docs/SCHEMA.md (from sheets_schema/).

Run `python -m qunflow.docs` after changing a command or a schema; tests/test_docs.py
fails while the committed files are out of date.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .schema import load_schemas


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
    from .cli import cli
    return [name for name, _ in _commands(cli)]


def cli_reference() -> str:
    from .cli import cli
    parts = ["# Command reference\n", "Generated from `--help` by `python -m qunflow.docs`; do not edit by hand.\n"]
    settings = dict(terminal_width=100, max_content_width=100, help_option_names=["-h", "--help"])  # as cli's own
    root = click.Context(cli, info_name="qunflow", **settings)
    for name, command in _commands(cli):
        ctx = click.Context(command, info_name=name, parent=root, **settings)
        parts.append(f"## {name}\n\n```\n{command.get_help(ctx)}\n```\n")
    return "\n".join(parts)


def schema_reference() -> str:
    parts = ["# Sheet schema reference\n",
             "Generated from `sheets_schema/*.yaml` by `python -m qunflow.docs`; do not edit by hand.",
             "Headers are recognised in English (the key) or zh-CN, in any order; `*` marks what qunflow writes.\n"]
    for schema in load_schemas().values():
        parts.append(f"## {schema.titles['en']} / {schema.titles['zh-CN']}\n")
        parts.append("| key | 中文 | type | required | default | values | help |")
        parts.append("|---|---|---|---|---|---|---|")
        for c in schema.columns:
            values = ", ".join(f"{v.value} ({v.labels.get('zh-CN', '')})" for v in c.values)
            star = "*" if c.written or schema.written else ""
            parts.append(f"| {c.key}{star} | {c.headers['zh-CN']} | {c.type}{' →' + c.ref if c.ref else ''} | "
                         f"{'yes' if c.required else ''} | {c.default or ''} | {values} | {c.help['en']} {c.help['zh-CN']} |")
        if schema.settings:
            parts.append("\nKnown settings:\n")
            parts.append("| key | type | default | help |")
            parts.append("|---|---|---|---|")
            for c in schema.settings:
                parts.append(f"| {c.key} | {c.type} | {c.default or ''} | {c.help['en']} {c.help['zh-CN']} |")
        parts.append("")
    return "\n".join(parts)


def write(root: Path) -> None:
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "CLI.md").write_text(cli_reference(), encoding="utf-8")
    (root / "docs" / "SCHEMA.md").write_text(schema_reference(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])
