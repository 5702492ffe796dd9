"""Every job's first step: read the store once and load the workbook from that snapshot."""
from __future__ import annotations

from datetime import date
from typing import Any

from ..sheet.load import load_workbook
from ..sheet.workbook import Workbook


def read_workbook(store: Any, today: date | None = None, *, grid_rows: bool = True) -> tuple[Any, Workbook]:
    """(snapshot, workbook): one read of the store, loaded as the tick loads it (a Google sheet is shared)."""
    snapshot = store.read()
    wb = load_workbook(snapshot.raw, today=today, grid_rows=snapshot.grid_rows if grid_rows else None,
                       shared_sheet=store.kind == "google", merged=snapshot.merged)
    return snapshot, wb
