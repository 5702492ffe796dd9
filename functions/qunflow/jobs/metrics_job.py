"""`qunflow metrics`: the thin shell around the rollup. Read (1 request), roll up, post, write back (1 batch).

The clock, HTTP session, store and secrets are injected, as for the tick.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ..sheet.load import load_workbook
from ..metrics.facts import build_facts, north_star
from ..metrics.report_md import daily_report, metric_label, ops_group
from ..metrics.rollup import rollup


@dataclass
class MetricsReport:
    days: list[str] = field(default_factory=list)
    metrics: int = 0                 # rows upserted per tab
    cohorts: int = 0
    rules: int = 0
    north_star: str = ""
    report: str = ""                 # the daily report's markdown
    posted: str = ""                 # sent | failed | unknown | skipped | "" (not asked)
    post_note: str = ""
    chart: bool = False
    note: str = ""
    sheets_requests: dict[str, int] = field(default_factory=lambda: {"read": 0, "write": 0})

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def days_for(today: date, day: date | None, count: int | None) -> list[date]:
    """Default: yesterday and today so far; with a day: that day (or the `count` days ending it)."""
    last = day or today
    n = count or (1 if day else 2)
    return [last - timedelta(days=k) for k in range(n - 1, -1, -1)]


def run_metrics(store: Any, now: datetime, deps: Any = None, *, day: date | None = None, count: int | None = None,
                post: bool = False, chart: bool = True) -> MetricsReport:
    """`deps` (a tick.TickDeps) is needed only to post the daily report."""
    report = MetricsReport()
    read0, write0 = store.requests.read, store.requests.write
    with store.lease("tick", 60):
        snapshot = store.read()
        wb = load_workbook(snapshot.raw, today=now.astimezone(timezone(timedelta(hours=8))).date(),
                           grid_rows=snapshot.grid_rows, shared_sheet=store.kind == "google")
        today = now.astimezone(wb.settings.timezone).date()
        days = days_for(today, day, count)
        state = getattr(deps, "state", None)
        if state is not None:     # the SendLog tab shows a window; the store remembers every send
            from .sendlog_projection import records
            since = datetime.combine(days[0] - timedelta(days=1), datetime.min.time(), wb.settings.timezone)
            wb.sendlog = records([s for s in state.sends(since=since) if s.status != "claimed"])
            from .events_inbox import add_chat_events     # chat messages are activity in the store, not rows
            add_chat_events(state, wb, now, since=(days[0] - timedelta(days=30)).isoformat())
        facts = build_facts(wb)
        result = rollup(wb, days, facts)
        report.days = [d.isoformat() for d in days]
        report.metrics, report.cohorts, report.rules = len(result.metrics), len(result.cohorts), len(result.rules)
        report.north_star = north_star(wb)
        changes = result.changes(wb.tables)
        report_day = day or today - timedelta(days=1)
        report.report = daily_report(wb, report_day, facts)
        if post:
            if deps is None or ops_group(wb) is None:
                report.posted, report.post_note = "skipped", "Settings ops_group is empty" if deps else "no sender"
            else:
                from .report_post import post_daily_report, post_once
                posted = post_once(state, wb, report_day, now, lambda: post_daily_report(
                    wb, report_day, report.report, session=deps.session, clock=deps.clock, sleep=deps.sleep,
                    resolver=deps.resolver, rng=deps.rng, masker=getattr(deps, "masker", None)))
                report.posted, report.post_note = posted.status, posted.reason
                if posted.row:
                    changes.append("sendlog", [posted.row])
        written = store.write(changes, snapshot, wb.lang)
        if written.deferred:
            report.note = written.reason
        elif chart:
            report.chart = _chart(store, wb, report.north_star)
    report.sheets_requests = {"read": store.requests.read - read0, "write": store.requests.write - write0}
    return report


def _chart(store: Any, wb: Any, metric: str) -> bool:
    from ..stores import charts
    label = metric_label(metric, wb.lang)
    if store.kind == "xlsx":
        return charts.decorate_xlsx(store.path, wb.lang, metric, label)
    if store.kind == "google":
        return charts.apply_google(store, wb, metric, label)
    return False


def report_from_store(store: Any, html_path: Any, *, as_of: date | None, days: int) -> Any:
    """`qunflow report`: the HTML report from one read of the store; the path it was written to."""
    from ..metrics.report_html import write_report
    snapshot = store.read()
    wb = load_workbook(snapshot.raw, grid_rows=snapshot.grid_rows)
    return write_report(wb, html_path, as_of=as_of, days=days)


def finish_demo(xlsx: Any, html: Any, first: date, days: int, state: Any = None) -> Any:
    """For `qunflow demo`, after it exported the workbook: Metrics, Cohorts and RulesReport for every day of
    the campaign written into it, the north-star chart drawn, and the HTML report beside it. `state`: the demo's
    store, whose chat activity the metrics count."""
    from pathlib import Path

    from ..stores.xlsx import XlsxStore
    from ..metrics.report_html import write_report
    store = XlsxStore(xlsx)
    last = first + timedelta(days=days - 1)
    end_of_last = datetime.combine(last + timedelta(days=1), datetime.min.time(), timezone.utc)
    from types import SimpleNamespace
    run_metrics(store, end_of_last, SimpleNamespace(state=state) if state is not None else None, day=last,
                count=days, chart=True)
    wb = load_workbook(store.read().raw)
    return write_report(wb, Path(html), as_of=last, days=days)
