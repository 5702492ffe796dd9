"""`qunflow validate`: check every tab and write the Problems tab, under the store's lease."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..sheet.workbook import Workbook
from ..sheet.writeback import problems_changes
from .reading import read_workbook

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")   # the day dates are checked against, before Settings is read


def validate_store(store: Any, now: datetime, *, write: bool = True) -> Workbook:
    """The loaded workbook (its `problems` and `errors`); the Problems tab rewritten unless `write` is False."""
    with store.lease("validate", 30):
        snapshot, wb = read_workbook(store, now.astimezone(DEFAULT_ZONE).date())
        if write:
            local = now.astimezone(wb.settings.timezone).replace(tzinfo=None)
            store.write(problems_changes(wb.problems, wb.previous_problems, local), snapshot, wb.lang)
    return wb
