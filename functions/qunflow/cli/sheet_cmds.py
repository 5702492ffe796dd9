"""`qunflow init` and `qunflow validate`."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..clock import utc_now
from ..stores import open_store
from ..stores.source import parse_source
from .app import SOURCE_HELP, cli


INIT_HELP = f"""Create every tab, with headers, notes, dropdowns and TEXT id columns.

Existing tabs are left as they are; only missing tabs are added. {SOURCE_HELP}

\b
Example:
  qunflow init shop.xlsx --lang zh --demo
"""

VALIDATE_HELP = f"""Check every tab; write the problems to the Problems tab and list them.

Exits 1 if there is an error (a row that will be skipped, or a tab or column qunflow cannot use: a required
column deleted, a header it cannot find), 0 otherwise. {SOURCE_HELP}

\b
Example:
  qunflow validate shop.xlsx --json
"""


@cli.command(help=INIT_HELP)
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of tab titles, headers and notes.")
@click.option("--demo", is_flag=True, help="Fill in a sample clothing shop: 4 groups, members, coupons, SOP rules.")
def init(source: str | None, lang: str, demo: bool) -> None:
    from ..jobs.demo_data import demo_rows
    from ..jobs.initbook import init_google, init_xlsx
    language = "zh-CN" if lang == "zh" else "en"
    rows = demo_rows(utc_now().date()) if demo else None
    kind, where = parse_source(source)
    if kind == "xlsx":
        created = init_xlsx(Path(where), language, rows)
    else:
        created = init_google(open_store(source), language, rows)
    if created:
        click.echo(f"Created {len(created)} tabs in {where}: {', '.join(created)}")
    else:
        click.echo(f"{where} already has every tab; nothing to do.")


@cli.command(help=VALIDATE_HELP)
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--json", "as_json", is_flag=True, help='Print {"problems": [...]} instead of a table.')
@click.option("--no-write", is_flag=True, help="Do not write the Problems tab.")
def validate(source: str | None, as_json: bool, no_write: bool) -> None:
    from ..jobs.validate import validate_store
    from .app import speaking
    wb = validate_store(open_store(source), utc_now(), write=not no_write, say_in=speaking)
    if as_json:
        click.echo(json.dumps({"problems": [
            {k: p.as_dict()[k] for k in ("tab", "row", "column", "value", "message", "severity")} for p in wb.problems]},
            ensure_ascii=False, indent=2))
    else:
        _print_problems(wb)
    raise click.exceptions.Exit(1 if wb.errors else 0)


def _print_problems(wb) -> None:
    from rich.console import Console
    from rich.table import Table
    from ..jobs.speech import say as message, severity as severity_label
    console = Console()
    if not wb.problems:
        console.print(f"[green]{message('cli_no_problems', wb.lang)}[/green]")
        return
    zh = wb.lang == "zh-CN"
    table = Table(title=message("cli_problems_title", wb.lang))
    for head in (("表", "行", "列", "值", "说明", "级别") if zh else ("Tab", "Row", "Column", "Value", "Message", "Severity")):
        table.add_column(head, overflow="fold")
    for p in wb.problems:
        said = severity_label(p.severity, wb.lang)
        table.add_row(p.tab, "" if p.row is None else str(p.row), p.column, p.value, p.message,
                      f"[red]{said}[/red]" if p.severity == "error" else f"[yellow]{said}[/yellow]")
    console.print(table)
    console.print(message("cli_problems_found", wb.lang, errors=len(wb.errors), warnings=len(wb.problems) - len(wb.errors)))
