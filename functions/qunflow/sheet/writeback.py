"""What a run writes back that is about the workbook itself: the Problems tab. Pure."""
from __future__ import annotations

from datetime import datetime

from .changes import Changes
from .problems import ERROR, Problem
from .records import ProblemRow


def problems_changes(problems: list[Problem], previous: list[ProblemRow], now: datetime, changes: Changes | None = None) -> Changes:
    """Replace the Problems tab; a problem seen before keeps its first seen_at."""
    changes = changes or Changes()
    first_seen = {(p.tab, p.row, p.column, p.message): p.seen_at for p in previous}
    stamp = now.replace(microsecond=0, tzinfo=None) if now.tzinfo is None else now.replace(microsecond=0)
    rows = []
    ordered = sorted(problems, key=lambda p: (p.severity != ERROR, p.tab, p.row or 0, p.column))
    for p in ordered:
        rows.append({"tab": p.tab, "row": p.row if p.row is not None else "", "column": p.column, "value": p.value,
                     "message": p.message, "severity": p.severity,
                     "seen_at": first_seen.get((p.tab, p.row, p.column, p.message)) or stamp})
    changes.replace["problems"] = rows
    return changes
