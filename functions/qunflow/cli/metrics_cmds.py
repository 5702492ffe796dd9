"""`qunflow metrics` (the daily rollup, the chart, the daily report) and `qunflow report` (the HTML report)."""
from __future__ import annotations

import json
import random
import time
from datetime import date

import click

from .app import SOURCE_HELP, cli, fail

METRICS_HELP = f"""Roll up the funnel per group and day, and write it to the sheet by key.

Computes, in each group's time zone, the Metrics tab (members, joins, activation, activity, lurkers,
messages, coupons, orders, revenue, conversion, referrals), the Cohorts tab (retention d1/d7/d30 by join
day) and the RulesReport tab (sends, reach and orders per SOP rule, last touch within Settings
attribution_hours). Default: yesterday and today so far. Rows are replaced by key, so a re-run adds no
rows and earlier days stay. Draws the north-star chart (Settings north_star) with drops of more than 20%
highlighted: once in a Google sheet (delete its tab to redraw), on every run in an .xlsx. With --post, the
daily report goes to the Settings ops_group, once per day. {SOURCE_HELP}

\b
Example:
  qunflow metrics shop.xlsx --date 2026-12-15 --post
  qunflow metrics shop.xlsx --date 2026-12-30 --days 30 --print
"""

REPORT_HELP = f"""Write the HTML report: one self-contained file that works offline.

The north-star per group, the funnel per group, retention by join cohort (a heatmap), orders per SOP rule,
the campaign timeline by phase, and the A/B experiments with their lift and 95% interval (or a plain
"too few groups to tell"). Nothing is written to the workbook. {SOURCE_HELP}

\b
Example:
  qunflow report shop.xlsx --html report.html --date 2026-12-30 --days 30
"""


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"--date {text!r} is not a date like 2026-12-15")


@cli.command(help=METRICS_HELP)
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--date", "date_text", help="The day to roll up (YYYY-MM-DD). Default: yesterday and today so far.")
@click.option("--days", type=click.IntRange(1, 400), help="Roll up this many days, ending --date (or today).")
@click.option("--now", "now_text", help="Act as if it were this moment: ISO 8601; without an offset it is read in "
                                        "the Settings time zone.")
@click.option("--post", is_flag=True, help="Post the daily report to the Settings ops_group (once per day).")
@click.option("--chart/--no-chart", default=True, show_default=True, help="Draw the north-star chart in the sheet.")
@click.option("--print", "show", is_flag=True, help="Print the daily report's markdown.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def metrics(source: str | None, date_text: str | None, days: int | None, now_text: str | None, post: bool,
            chart: bool, show: bool, as_json: bool) -> None:
    import requests

    from ..clock import names_its_offset
    from ..jobs.metrics_job import run_metrics
    from ..jobs.reading import replay_moment
    from ..stores import open_store
    from ..jobs.tick import TickDeps
    from .app import log_masker
    names_its_offset(now_text)
    day = _day(date_text)
    store = open_store(source)
    now = replay_moment(store, now_text)
    offset = now.timestamp() - time.time()
    from .tick_cmds import _state_for
    deps = TickDeps(session=requests.Session(), clock=lambda: time.time() + offset, sleep=time.sleep,
                    rng=random.Random(), masker=log_masker(), state=_state_for(store, create=post))
    report = run_metrics(store, now, deps, day=day, count=days, post=post, chart=chart)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        click.echo(f"days {report.days[0]}…{report.days[-1]} · Metrics {report.metrics} rows · Cohorts "
                   f"{report.cohorts} · RulesReport {report.rules} · north star {report.north_star}"
                   + (" · chart drawn" if report.chart else "")
                   + (f"\nreport: {report.posted}{' (' + report.post_note + ')' if report.post_note else ''}"
                      if post else "") + (f"\n{report.note}" if report.note else ""))
        if show:
            click.echo(report.report)
    raise click.exceptions.Exit(1 if report.posted in ("failed", "unknown") else 0)


@cli.command(help=REPORT_HELP)
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--html", "html_path", required=True, type=click.Path(dir_okay=False), help="The HTML file to write.")
@click.option("--date", "date_text", help="The last day of the report (YYYY-MM-DD). Default: the last day with data.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 400), help="How many days it covers.")
def report(source: str | None, html_path: str, date_text: str | None, days: int) -> None:
    from ..jobs.metrics_job import report_from_store
    from ..stores import open_store
    path = report_from_store(open_store(source), html_path, as_of=_day(date_text), days=days)
    click.echo(f"Wrote {path} ({path.stat().st_size // 1024} KB): open it in a browser; it works offline.")
