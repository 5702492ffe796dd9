"""`qunflow validate`: check every tab and write the Problems tab, under the store's lease."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from ..sheet.workbook import Workbook
from ..sheet.writeback import problems_changes
from ..sheet.problems import ProblemSink
from .reading import read_workbook
from ..engine.warnings import no_campaign_start
from .card_checks import card_problems
from .images import feishu_link_warnings
from .splits import split_problems

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")   # the day dates are checked against, before Settings is read


def validate_store(store: Any, now: datetime, *, write: bool = True,
                   say_in: Callable[[str], str] | None = None) -> Workbook:
    """The loaded workbook (its `problems` and `errors`); the Problems tab rewritten unless `write` is False.

    `say_in(workbook language)`: the language the caller shows problems in (the CLI's --lang); the Problems tab
    is always in the workbook's own language."""
    with store.lease("validate", 30):
        today = now.astimezone(DEFAULT_ZONE).date()
        snapshot, wb = read_workbook(store, today)
        _planner_checks(wb, now)
        if write:
            local = now.astimezone(wb.settings.timezone).replace(tzinfo=None)
            store.write(problems_changes(wb.problems, wb.previous_problems, local), snapshot, wb.lang)
    shown = say_in(wb.lang) if say_in else wb.lang
    if shown != wb.lang:
        from ..sheet.load import load_workbook
        wb = load_workbook(snapshot.raw, today=today, grid_rows=snapshot.grid_rows,
                           shared_sheet=store.kind == "google", merged=snapshot.merged, lang=shown)
        _planner_checks(wb, now)
    return wb


def _planner_checks(wb: Workbook, now: datetime) -> None:
    """What only the planner knows: texts a platform will receive as several posts, cards a platform would cut or
    refuse, day-N rules without a start."""
    sink = ProblemSink(wb.lang, wb.problems)
    split_problems(wb, now, sink)
    card_problems(wb, now, sink)
    feishu_link_warnings(wb, sink)   # Feishu image rows without the Settings app (or with a secret written whole)
    no_campaign_start(wb, sink)
    wb.problems = sink.items
