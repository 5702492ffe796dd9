"""Every job's first step: read the store once and load the workbook from that snapshot."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ..sheet.load import load_workbook
from ..sheet.workbook import Workbook


def read_workbook(store: Any, today: date | None = None, *, grid_rows: bool = True) -> tuple[Any, Workbook]:
    """(snapshot, workbook): one read of the store, loaded as the tick loads it (a Google sheet is shared)."""
    snapshot = store.read()
    wb = load_workbook(snapshot.raw, today=today, grid_rows=snapshot.grid_rows if grid_rows else None,
                       shared_sheet=store.kind == "google", merged=snapshot.merged)
    return snapshot, wb


def replay_moment(store: Any, text: str | None) -> datetime:
    """A `--now`: ISO 8601 with its offset, or without one in the workbook's Settings time zone (what an operator
    in Shanghai means by "2026-12-10 10:00"); that costs one read of the store. Not a moment: BadMoment (exit 2)."""
    from ..clock import names_its_offset, parse_now
    if names_its_offset(text):
        return parse_now(text)
    _, wb = read_workbook(store, None, grid_rows=False)
    return parse_now(text, wb.settings.timezone)
