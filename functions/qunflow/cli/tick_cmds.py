"""`qunflow tick` and `qunflow preview`."""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import click

from .app import SOURCE_HELP, cli

TICK_HELP = f"""Run the main job once: post everything due since the last tick, then write back.

Reads every tab (1 request), checks it, computes what is due in (last tick, now] with the quiet-hours,
daily-cap and catch-up policies, delivers through each group's webhook, and writes back the SendLog,
SOP status, group status, coupons and Problems in one batch. {SOURCE_HELP}

Exits 0 when all went well; 1 when a send failed, may have failed (unknown) or waits for a retry; 2 when a tab
or column qunflow needs cannot be used (a required column deleted, a header it cannot find, a tab renamed
beyond recognition): the rest still ran, and the Problems tab says what to fix.

\b
Example:
  qunflow tick shop.xlsx --now 2026-12-01T12:00:00Z --json
"""

PREVIEW_HELP = f"""List every send in the next DAYS days, rendered, and what the policies will do to it.

Nothing is sent or written. {SOURCE_HELP}

\b
Example:
  qunflow preview shop.xlsx --days 7 --group G01 --html plan.html
"""


NOW_HELP = ("Act as if it were this moment: ISO 8601, e.g. 2026-12-10T10:00:00+08:00; without an offset "
            "(2026-12-10 10:00) it is read in the Settings time zone.")


def check_days(ctx, param, value):
    """--days is a whole number of days from 1 to MAX_DAYS: anything else is the operator's typo (exit 2)."""
    from ..jobs.errors import bad_days
    if value is not None and not 1 <= value <= MAX_DAYS:
        raise bad_days(value, MAX_DAYS)
    return value


MAX_DAYS = 366


@cli.command(help=TICK_HELP)
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--now", "now_text", help=NOW_HELP)
@click.option("--dry-run", is_flag=True, help="Compute what is due; send and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def tick(source: str | None, now_text: str | None, dry_run: bool, as_json: bool) -> None:
    import requests

    from ..clock import names_its_offset
    from ..jobs.journal import FileJournal, NullJournal
    from ..jobs.reading import replay_moment
    from ..stores import open_store
    from ..jobs.tick import TickDeps, run_tick
    names_its_offset(now_text)          # a typo fails before the store is opened
    store = open_store(source)
    now = replay_moment(store, now_text)
    offset = now.timestamp() - time.time()  # --now replays a moment: the dispatcher's clock follows it
    journal = FileJournal(Path(str(store.path) + ".qunflow-journal.jsonl")) if store.kind == "xlsx" else NullJournal()
    from .app import log_masker
    deps = TickDeps(session=requests.Session(), clock=lambda: time.time() + offset, sleep=time.sleep,
                    rng=random.Random(), journal=journal, masker=log_masker(), state=_state_for(store, create=not dry_run))
    report = run_tick(store, now, deps, dry_run=dry_run)
    if as_json:
        data = report.as_json()
        click.echo(json.dumps({k: data[k] for k in ("due", "sent", "failed", "skipped", "missed", "unknown",
                                                    "deferred", "retry", "problems", "sheets_requests", "note",
                                                    "blocked")},
                              ensure_ascii=False))
    else:
        from ..jobs.speech import say as message
        from .app import speaking
        lang = speaking(report.lang)
        note = message("cli_dry_run", lang) if dry_run and report.note.startswith("dry run") else report.note
        click.echo(message("cli_tick_summary", lang, **{k: getattr(report, k) for k in (
            "due", "sent", "failed", "skipped", "missed", "unknown", "deferred", "retry", "problems")})
                   + (f"\n{note}" if note else ""))
    for line in report.blocked:
        click.echo(f"qunflow: {line}", err=True)
    raise click.exceptions.Exit(exit_code(report))


def exit_code(report) -> int:
    """2: a tab or column qunflow needs cannot be used; 1: a send failed, is unknown or waits; else 0."""
    if report.blocked:
        return 2
    return 1 if report.failed or report.unknown or report.retry else 0


@cli.command(help=PREVIEW_HELP)
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--now", "now_text", help="Start of the window (default: now). " + NOW_HELP.split(": ", 1)[1])
@click.option("--days", default=7, show_default=True, type=int, callback=check_days,
              help=f"How many days ahead, 1 to {MAX_DAYS}.")
@click.option("--group", help="Only this group_id.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Also write a calendar per group.")
def preview(source: str | None, now_text: str | None, days: int, group: str | None, as_json: bool,
            html_path: str | None) -> None:
    from ..clock import names_its_offset
    from ..jobs.preview import calendar_html, preview_store
    from ..jobs.preview_flags import flag_sends
    from ..jobs.reading import replay_moment
    from ..stores import open_store
    names_its_offset(now_text)
    store = open_store(source)
    now = replay_moment(store, now_text)
    wb, items = preview_store(store, now, days, group, state=_state_for(store, create=False))
    items = flag_sends(wb, items)
    if html_path:
        Path(html_path).write_text(calendar_html(wb, items, now, days), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    from ..jobs.speech import policy as _policy, say as message
    from .app import speaking
    lang = speaking(wb.lang)
    for i in items:
        policy = _policy(i["policy"], lang)
        click.echo(f"{i['at'][:16]}  {i['group_id']:<6} {i['rule_id']:<6} {policy:<24} {i['text'][:60]}"
                   + "".join(f"\n    ⚠ {flag}" for flag in i["flags"]))
    click.echo(message("cli_preview_summary", lang, count=len(items), days=days)
               + (message("cli_preview_calendar", lang, path=html_path) if html_path else ""))


def _state_for(store, create: bool = True):
    """qunflow's memory: $QUNFLOW_STATE, else a SQLite file beside a local workbook (`shop.qunflow-state.sqlite`).
    A Google sheet without $QUNFLOW_STATE keeps its memory in the sheet, as before. A dry run (`create` False)
    reads a store that exists and creates none."""
    import os
    from pathlib import Path

    from ..state.open import open_state, state_spec
    if store.kind != "xlsx" and not os.environ.get("QUNFLOW_STATE"):
        return None
    if store.kind == "xlsx" and not Path(store.path).exists():
        return None            # the tick says the workbook is missing; no state file is left behind for it
    spec = state_spec(store.path if store.kind == "xlsx" else None)
    if not create and not spec.startswith("firestore:") and not Path(spec).exists():
        return None
    return open_state(spec)
