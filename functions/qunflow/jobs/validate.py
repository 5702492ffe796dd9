"""`qunflow validate`: check every tab and write the Problems tab, under the store's lease."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..sheet.workbook import Workbook
from ..sheet.writeback import problems_changes
from ..sheet.problems import ProblemSink
from .reading import read_workbook
from ..engine.warnings import no_campaign_start
from .splits import split_problems

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")   # the day dates are checked against, before Settings is read


def validate_store(store: Any, now: datetime, *, write: bool = True) -> Workbook:
    """The loaded workbook (its `problems` and `errors`); the Problems tab rewritten unless `write` is False."""
    with store.lease("validate", 30):
        snapshot, wb = read_workbook(store, now.astimezone(DEFAULT_ZONE).date())
        sink = ProblemSink(wb.lang, wb.problems)
        split_problems(wb, now, sink)          # texts a platform will receive as several posts
        no_campaign_start(wb, sink)
        wb.problems = sink.items
        if write:
            local = now.astimezone(wb.settings.timezone).replace(tzinfo=None)
            store.write(problems_changes(wb.problems, wb.previous_problems, local), snapshot, wb.lang)
    return wb
