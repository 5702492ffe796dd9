"""`qunflow housekeeping`."""
from __future__ import annotations

import json

import click

from .app import SOURCE_HELP, cli, fail

HOUSEKEEPING_HELP = f"""Move SendLog and Events rows older than KEEP_DAYS to archive tabs, so the live sheet stays small.

The archive rows are written first, then the live tab is rewritten without them: a failure in between
leaves rows in both places, never in neither. Whole rows move, your own extra columns included.
Archived sends are never sent again. {SOURCE_HELP}

\b
Example:
  qunflow housekeeping shop.xlsx --keep-days 90 --dry-run
"""


@cli.command(help=HOUSEKEEPING_HELP)
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--keep-days", default=90, show_default=True, help="Rows newer than this stay (at least 31).")
@click.option("--dry-run", is_flag=True, help="Say what would move; move nothing.")
def housekeeping(source: str | None, keep_days: int, dry_run: bool) -> None:
    from ..clock import utc_now
    from ..jobs.housekeeping import run_housekeeping
    from ..stores import open_store
    try:
        summary = run_housekeeping(open_store(source), utc_now(), keep_days, dry_run)
    except ValueError as exc:
        raise fail(str(exc)) from None
    click.echo(json.dumps(summary, ensure_ascii=False))
