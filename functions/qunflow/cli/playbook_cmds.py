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

With --start, the rules are one campaign: a row of the Campaigns tab with that date as day 1, which the new
SOP rows name in their campaign column; a group can run several campaigns at once, and no other campaign's
day 1 moves. Without --start, `day N` counts from each group's campaign_start. Applying a playbook to a group
it is already applied to is refused (its posts would go out twice) unless you add --again. {SOURCE_HELP}

\b
Example:
  qunflow playbook apply campaign-30 --groups G01,G02 --start 2026-12-01 shop.xlsx
"""


@cli.group(help=PLAYBOOK_HELP)
def playbook() -> None:
    pass


@playbook.command("list", help=LIST_HELP)
def list_cmd() -> None:
    from ..jobs.playbook_apply import playbook_summaries
    for name, rules, title in playbook_summaries():
        click.echo(f"{name:<22} {rules:>2} rules  {title['zh-CN']} / {title['en']}")


@playbook.command("apply", help=APPLY_HELP)
@click.argument("name")
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--groups", required=True, help="Comma-separated group ids.")
@click.option("--start", "start", help="Day 1 of this campaign (YYYY-MM-DD), recorded in the Campaigns tab.")
@click.option("--again", is_flag=True, help="Apply it even though these groups already have it (a second campaign).")
def apply_cmd(name: str, source: str | None, groups: str, start: str | None, again: bool) -> None:
    from ..clock import utc_now
    from ..jobs.playbook_apply import apply_playbook
    from ..stores import open_store
    wanted = [g.strip() for g in groups.split(",") if g.strip()]
    start_day = None
    if start:
        try:
            start_day = date.fromisoformat(start)
        except ValueError:
            raise fail(f"--start {start!r} is not a date; write it like 2026-12-01") from None
    applied = apply_playbook(open_store(source), name, wanted, start_day, utc_now().date(), again=again)
    rows = applied.rows
    click.echo(f"Added {len(rows)} rules ({', '.join(r['rule_id'] for r in rows)}) for {', '.join(wanted)}"
               + (f", campaign {applied.campaign} (day 1 {start_day}, in the Campaigns tab)." if applied.campaign
                  else "."))
    if applied.needs_start:
        click.echo("Note: this playbook counts campaign days; set the groups' campaign_start (or use --start).")
