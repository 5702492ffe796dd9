"""`qunflow playbook list|apply`."""
from __future__ import annotations

from datetime import date

import click

from .app import SOURCE_HELP, cli, fail

PLAYBOOK_HELP = """Ready-made SOP calendars: list them, or copy one into the SOP tab.

\b
Example:
  qunflow playbook list
  qunflow playbook apply campaign-30 --groups G01,G02 --start 2026-12-01 shop.xlsx
"""

LIST_HELP = """List the playbooks in workflows/playbooks/.

\b
Example:
  qunflow playbook list
"""

APPLY_HELP = f"""Copy playbook NAME's rules into the SOP tab for the given groups, with unique rule ids.

With --start, the groups' campaign_start is set to that date (day 1). {SOURCE_HELP}

\b
Example:
  qunflow playbook apply campaign-30 --groups G01,G02 --start 2026-12-01 shop.xlsx
"""


@cli.group(help=PLAYBOOK_HELP)
def playbook() -> None:
    pass


@playbook.command("list", help=LIST_HELP)
def list_cmd() -> None:
    from ..playbooks import load_playbooks
    for name, book in load_playbooks().items():
        click.echo(f"{name:<22} {len(book['rules']):>2} rules  {book['title']['zh-CN']} / {book['title']['en']}")


@playbook.command("apply", help=APPLY_HELP)
@click.argument("name")
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--groups", required=True, help="Comma-separated group ids.")
@click.option("--start", "start", help="Campaign day 1 for these groups (YYYY-MM-DD).")
def apply_cmd(name: str, source: str | None, groups: str, start: str | None) -> None:
    from ..changes import Changes
    from ..clock import utc_now
    from ..playbooks import load_playbooks, needs_campaign_start, sop_rows
    from ..stores import open_store
    from ..workbook import load_workbook
    if name not in load_playbooks():
        raise fail(f"no playbook named {name!r}; `qunflow playbook list` shows them")
    wanted = [g.strip() for g in groups.split(",") if g.strip()]
    start_day = None
    if start:
        try:
            start_day = date.fromisoformat(start)
        except ValueError:
            raise fail(f"--start {start!r} is not a date; write it like 2026-12-01") from None
    store = open_store(source)
    with store.lease("playbook", 30):
        snapshot = store.read()
        wb = load_workbook(snapshot.raw, today=utc_now().date())
        unknown = [g for g in wanted if g not in wb.groups]
        if unknown:
            raise fail(f"unknown group id(s): {', '.join(unknown)}; they must exist in the Groups tab")
        existing = {str(r[wb.tables['sop'].columns['rule_id']]) for r in wb.tables["sop"].rows
                    if 'rule_id' in wb.tables['sop'].columns and len(r) > wb.tables['sop'].columns['rule_id']}
        rows = sop_rows(name, wanted, wb.lang, existing)
        changes = Changes()
        changes.append("sop", rows)
        for g in wanted:
            if start_day:
                changes.set("groups", g, "campaign_start", start_day)
        store.write(changes, snapshot, wb.lang)
    click.echo(f"Added {len(rows)} rules ({', '.join(r['rule_id'] for r in rows)}) for {', '.join(wanted)}.")
    if needs_campaign_start(name) and not start_day and any(wb.groups[g].campaign_start is None for g in wanted):
        click.echo("Note: this playbook counts campaign days; set the groups' campaign_start (or use --start).")
