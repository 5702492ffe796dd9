"""`qunflow demo`: the whole product on a sample shop, locally, in under a minute."""
from __future__ import annotations

from pathlib import Path

import click

from .app import cli

DEMO_HELP = """Build the sample shop workbook in DIR and run qunflow on it, locally.

Writes DIR/qunflow-demo.xlsx (the sample clothing shop: 4 groups on WeCom, DingTalk and Feishu,
members, coupons and a Chinese SOP calendar) and checks it.

\b
Example:
  qunflow demo --out demo-out --seed 7
"""


@cli.command(help=DEMO_HELP)
@click.option("--out", "out_dir", default="demo-out", show_default=True, type=click.Path(file_okay=False))
@click.option("--seed", default=7, show_default=True, help="Same seed, same result.")
@click.option("--days", default=30, show_default=True, help="Length of the simulated campaign.")
def demo(out_dir: str, seed: int, days: int) -> None:
    from ..clock import utc_now
    from ..demo_data import demo_rows
    from ..initbook import init_xlsx
    from ..stores.xlsx import XlsxStore
    from ..workbook import load_workbook
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "qunflow-demo.xlsx"
    path.unlink(missing_ok=True)
    today = utc_now().date()
    init_xlsx(path, "zh-CN", demo_rows(today, seed=seed))
    wb = load_workbook(XlsxStore(path).read().raw, today=today)
    click.echo(f"Wrote {path}: {len(wb.groups)} groups, {len(wb.members)} members, {len(wb.coupons)} coupons, "
               f"{len(wb.sop)} SOP rules; {len(wb.errors)} errors, {len(wb.problems) - len(wb.errors)} warnings.")
    if wb.errors:
        raise click.exceptions.Exit(1)
