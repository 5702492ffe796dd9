"""Regenerate docs/CLI.md (every command's --help) and docs/SCHEMA.md (sheets_schema/).

    python docs/generate.py        # after changing a command or a schema; tests/test_docs.py checks both
"""
from __future__ import annotations

import sys
from pathlib import Path

from qunflow.cli.docs import cli_reference
from qunflow.sheet.reference import schema_reference


def write(root: Path) -> None:
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "CLI.md").write_text(cli_reference(), encoding="utf-8")
    (root / "docs" / "SCHEMA.md").write_text(schema_reference(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
