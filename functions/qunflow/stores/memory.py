"""An in-memory workbook, for unit tests and benchmarks: the same plan logic as every store."""
from __future__ import annotations

import copy
import threading
from datetime import date, datetime, time
from contextlib import contextmanager
from typing import Any, Iterator

from ..sheet.changes import Changes
from ..sheet.schema import load_schemas
from ..sheet.tables import RawWorkbook, locate
from ..sheet.problems import ProblemSink
from .writeplan import apply_to_raw, plan_writes
from .base import RequestCount, Snapshot, WriteReport


def _copy(raw: RawWorkbook) -> RawWorkbook:
    """A copy no one can change the store's rows through. Cells are scalars (text, numbers, dates, None, as
    every reader gives them), which never change in place: copying the row lists is enough, and 100x faster
    than deepcopy at 100k members (14 s under a profiler). A cell that is not a scalar is copied deeply."""
    return {title: [list(row) if all(type(c) in SCALARS for c in row) else copy.deepcopy(row) for row in rows]
            for title, rows in raw.items()}


SCALARS = {str, int, float, bool, type(None), datetime, date, time}


class MemoryStore:
    kind = "memory"

    def __init__(self, raw: RawWorkbook | None = None):
        self.raw: RawWorkbook = _copy(raw or {})
        self.requests = RequestCount()
        self._lock = threading.Lock()

    def read(self) -> Snapshot:
        self.requests.read += 1
        return Snapshot(_copy(self.raw), version=None)

    def write(self, changes: Changes, snapshot: Snapshot, lang: str) -> WriteReport:
        if changes.is_empty():
            return WriteReport()
        self.requests.write += 1
        tables = locate(self.raw, load_schemas(), ProblemSink(lang)).tables
        plan = plan_writes(tables, changes, lang)
        apply_to_raw(self.raw, plan)
        return WriteReport(skipped=plan.skipped)

    def move_rows(self, moves, snapshot: Snapshot) -> None:
        from ..sheet.moves import rewritten
        for move in moves:
            archive = self.raw.setdefault(move.archive_title, [list(move.header)])
            archive.extend(list(r) for r in move.archive)
            self.raw[move.title] = [list(move.header)] + [r for r in rewritten(move) if any(v not in ("", None) for v in r)]

    @contextmanager
    def lease(self, name: str, seconds: float) -> Iterator[None]:
        with self._lock:
            yield

    def describe(self) -> str:
        return "memory"
