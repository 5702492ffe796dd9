"""The `qunflow` command: a thin layer over the library.

Every command's help ends with an example; tests/test_docs.py fails if a
command is missing from docs/CLI.md.
"""
from __future__ import annotations

import sys

import click

from .app import cli, run_cli
from . import delivery_cmds, demo_cmd, deploy_cmds, housekeeping_cmd, member_cmds, metrics_cmds, playbook_cmds, secrets_cmds, sheet_cmds, tick_cmds, wecom_cmds  # noqa: F401  (registers commands)


def main() -> None:
    sys.exit(run_cli(cli))


__all__ = ["cli", "main"]
