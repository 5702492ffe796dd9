"""Rows a job moves from a live tab to its archive tab, and what the live tab holds afterwards. Pure.

`qunflow.jobs.housekeeping` plans the moves; each store carries them out, archive first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Move:
    tab: str                          # "sendlog" | "events"
    title: str                        # the live tab's title
    archive_title: str
    header: list[Any]
    keep: list[list[Any]] = field(default_factory=list)
    archive: list[list[Any]] = field(default_factory=list)
    old_rows: int = 0                 # data rows the live tab had


def rewritten(move: Move) -> list[list[Any]]:
    """The live tab's data rows after the move, padded with blank rows over the old extent."""
    width = max([len(move.header)] + [len(r) for r in move.keep + move.archive])
    rows = [r + [""] * (width - len(r)) for r in move.keep]
    return rows + [[""] * width for _ in range(move.old_rows - len(move.keep))]
