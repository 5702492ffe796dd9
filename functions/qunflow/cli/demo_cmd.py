"""`qunflow demo`: the whole product on a sample shop, locally, in under a minute."""
from __future__ import annotations

import time
from pathlib import Path

import click

from .app import cli

DEMO_HELP = """Run the sample shop's 30-day campaign on a virtual clock against the local emulator.

Writes DIR/qunflow-demo.xlsx (the workbook after the campaign: SendLog, coupons, members, Problems),
DIR/transcript.html (what each group saw), DIR/transcript.jsonl, DIR/preview.html (the first week's
calendar) and DIR/report.html (the funnel, cohorts and rules that converted), and prints a summary per
group. Nothing is posted to real groups. The same seed gives the
same result.

\b
Example:
  qunflow demo --out demo-out --seed 7 --days 30
"""


@cli.command(help=DEMO_HELP)
@click.option("--out", "out_dir", default="demo-out", show_default=True, type=click.Path(file_okay=False))
@click.option("--seed", default=7, show_default=True, help="Same seed, same result.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 60), help="Length of the campaign.")
@click.option("--wecom-customer", "wecom_customer", is_flag=True,
              help="Instead: three WeCom customer groups (客户群), whose posts are group-send tasks the emulated owners "
                   "confirm, ignore or confirm late; writes DIR/qunflow-wecom-demo.xlsx.")
def demo(out_dir: str, seed: int, days: int, wecom_customer: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    if wecom_customer:
        return _wecom_demo(Path(out_dir), seed, days)

    from ..jobs.demo import DEMO_LANG, run_demo
    from ..jobs.speech import platform as platform_label, say
    from .app import speaking
    lang = speaking(DEMO_LANG)                         # the sample shop's workbook is zh-CN, and so is its summary
    console = Console()
    started = time.perf_counter()
    with console.status(say("demo_running", lang)):
        result = run_demo(Path(out_dir), seed=seed, days=days)
    table = Table(title=say("demo_title", lang, days=days, seed=seed))
    for head in say("demo_heads", lang).split("|"):
        table.add_column(head, overflow="fold")
    for g in result.summary:
        phases = ", ".join(f"{k or '-'} {v}" for k, v in sorted(g["sent"].items()))
        table.add_row(f"{g['group_id']} {g['name']}", platform_label(g["platform"], lang), phases, str(g["sent_total"]),
                      str(g["failed"]),
                      f"{g['missed']} ({g.get('missed_late_join', 0)} late joins)" if g.get("missed_late_join") else str(g["missed"]),
                      str(g["deferred"]), str(g["skipped"]),
                      str(g["coupons"]))
    console.print(table)
    t = result.totals
    console.print(say("demo_totals", lang, ticks=result.ticks, sent=t["sent"], failed=t["failed"], missed=t["missed"],
                      unknown=t["unknown"], deferred=t["deferred"],
                      skipped=t["skipped"], seconds=f"{time.perf_counter() - started:.1f}"))
    lot = result.lottery
    if lot:
        console.print(say("demo_lottery", lang, draw=lot["draw_id"], winners=", ".join(lot["winners"]),
                          issued=lot["issued_total"], verify=lot["verify"]))
    for label, path in zip(say("demo_files", lang).split("|"), (result.workbook, result.transcript, result.preview,
                                                                 Path(out_dir) / "report.html")):
        console.print(f"  {label:<10} {path}")


def _wecom_demo(out_dir: Path, seed: int, days: int) -> None:
    from ..jobs.demo_wecom import run_wecom_demo
    from ..jobs.speech import say
    from .app import speaking
    lang = speaking("zh-CN")
    started = time.perf_counter()
    result = run_wecom_demo(out_dir, days=days, seed=seed)
    for group, states in sorted(result.per_group.items()):
        click.echo(say("demo_wecom_group", lang, group=group, sent=states["sent"], awaiting=states["awaiting_confirmation"],
                       not_sent=states["not_sent"], quota=states["quota"], deferred=states["deferred"],
                       skipped=states["skipped"], week=result.max_per_week.get(group, 0)))
    o = result.owner
    click.echo(say("demo_wecom_totals", lang, ticks=result.ticks, confirm=o["confirm"], ignore=o["ignore"], late=o["late"],
                   after=o["after_cancel"], reminders=result.reminders, cancelled=result.cancelled,
                   deferred=result.deferred, mismatches=len(result.mismatches), seconds=f"{time.perf_counter() - started:.1f}"))
    click.echo("  " + say("demo_wecom_file", lang, path=result.workbook))
