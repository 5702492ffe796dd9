"""`qunflow lottery draw|verify` and `qunflow import events`."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .app import SOURCE_HELP, cli, fail

LOTTERY_HELP = """Lotteries anyone can check: draw winners among a group's members, give them prize coupons.

\b
Example:
  qunflow lottery draw shop.xlsx --group G01 --prize lucky50 --winners 3 --among tag:VIP
  qunflow lottery verify shop.xlsx --group G01 --seed G01:lucky50:20261201T120000Z --winners-list M0003,M0007,M0012
"""

DRAW_HELP = f"""Draw winners among the group's members and issue them the prize coupons.

Who may win: the group's active members who have not left, never anyone blacklisted (in any group);
--among tag:NAME (a tag in the Members tab, or a Tags-tab tag whose rule matches) or layer:core narrows it.
The eligible member ids are sorted and hashed (sha256); the winners are drawn with a random generator
seeded by "SEED:HASH", so anyone with the seed and the list gets the same winners. Without --seed, the seed
is the group, the prize and the draw time (UTC), all printed; for a draw nobody could steer, announce a seed
beforehand (e.g. tonight's closing index) and pass it with --seed. --prize CAMPAIGN gives each winner the
next available code of that coupon campaign (status issued, bound to them); if there are not enough
codes nothing is drawn. --post posts the result to the group, @-mentioning the winners, with the seed,
the hash and the verify command. --save-eligible FILE keeps the list, one id a line, for `verify
--eligible-file`. Exits 0 on success, 1 if posting failed, 2 when nothing could be drawn. {SOURCE_HELP}

\b
Example:
  qunflow lottery draw shop.xlsx --group G01 --prize lucky50 --winners 3 --among tag:VIP --post
"""

VERIFY_HELP = f"""Re-run a draw and say whether the claimed winners are the ones it picks.

The eligible list is recomputed from the sheet (as `draw` did, with --among), or read from
--eligible-file (one member id a line, as `draw --save-eligible` wrote it). With --hash, the list is first
checked against the hash the draw printed: members who joined or left since then change it. Exits 0 when
the winners match, 1 when they do not (or the list changed). {SOURCE_HELP}

\b
Example:
  qunflow lottery verify shop.xlsx --group G01 --seed G01:lucky50:20261201T120000Z --hash 3f9a… \\
      --winners-list M0003,M0007,M0012
"""

IMPORT_HELP = """Import records from a file exported elsewhere.

\b
Example:
  qunflow import events orders.csv shop.xlsx --mapping orders
"""

IMPORT_EVENTS_HELP = f"""Append the events in FILE (.csv or .xlsx) to the Events tab, skipping those already there.

The first row holds the column names (case, spaces and full-width forms do not matter).

\b
--mapping:
  events         the Events tab's columns: event_id/事件ID, type/类型, member_id/成员ID, at/时间 (required),
                 group_id/群ID, amount/金额, coupon_code/券码, detail/详情
  wecom-members  a WeCom group-member export, one `join` per row, id wecom-join:GROUP:MEMBER:TIME:
                 成员ID|UserID (required), 群成员|成员名称 (name), 入群时间 (required), 入群方式
                 (channel), 所在群|群名称|群ID (required: a group id or name of the Groups tab)
  orders         an order export, one `order` per row, id order:ORDER_ID: 订单号|order_id, 会员ID|member_id,
                 下单时间|paid_at (required), 实付金额|amount, 优惠券码|coupon_code, 群ID|group_id

Importing the same file twice adds nothing. A bad row is listed with its row number and reason and
skipped; the others are imported. CSV may be UTF-8 or GBK (GB18030). At most 50,000 rows a file. Exits 0
when every row was good, 1 when some rows were skipped as bad, 2 when the file cannot be imported.
{SOURCE_HELP}

\b
Example:
  qunflow import events wecom-export.xlsx shop.xlsx --mapping wecom-members
"""


# --- lottery --------------------------------------------------------------------------------------------

@cli.group(help=LOTTERY_HELP)
def lottery() -> None:
    pass


@lottery.command("draw", help=DRAW_HELP)
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--group", "group_id", required=True, help="The group_id in the Groups tab.")
@click.option("--prize", help="Coupon campaign whose available codes go to the winners (omit: no coupons).")
@click.option("--winners", default=1, show_default=True, type=click.IntRange(1, 1000), help="How many winners.")
@click.option("--among", help="Only members with this tag (tag:NAME) or in this layer (layer:core).")
@click.option("--seed", help="The seed (default: group, prize and draw time, printed).")
@click.option("--now", "now_text", help="The draw time (ISO 8601; default: now).")
@click.option("--post", is_flag=True, help="Post the result to the group through its webhook.")
@click.option("--dry-run", is_flag=True, help="Draw and print; issue no coupons, post nothing.")
@click.option("--save-eligible", type=click.Path(dir_okay=False), help="Write the eligible ids to FILE.")
@click.option("--json", "as_json", is_flag=True, help="Print the draw as JSON.")
def draw_cmd(source, group_id, prize, winners, among, seed, now_text, post, dry_run, save_eligible, as_json) -> None:
    from ..clock import parse_now
    from ..jobs.lottery_draw import run_draw
    from ..stores import open_store
    drawn = run_draw(open_store(source), group_id, parse_now(now_text), prize=prize, winners=winners, among=among,
                     seed=seed, post=post, dry_run=dry_run, warn=lambda note: click.echo(note, err=True))
    from ..jobs.speech import say as message
    from .app import speaking
    lang = speaking(drawn.wb.lang if drawn.wb is not None else None)
    if drawn.note:
        click.echo(message("cli_note", lang, note=drawn.note), err=True)
    if save_eligible:
        Path(save_eligible).write_text("\n".join(drawn.eligible) + "\n", encoding="utf-8")
    result, awarded = drawn.result, drawn.awarded
    if as_json:
        click.echo(json.dumps({"group_id": drawn.group.group_id, "seed": result.seed, "hash": result.eligible_hash,
                               "eligible": result.eligible_count, "winners": list(result.winners), "coupons": awarded,
                               "dry_run": dry_run}, ensure_ascii=False))
    else:
        click.echo(drawn.text)
        for member_id in result.winners:
            code = f" → {awarded[member_id]}" if member_id in awarded else ""
            click.echo(f"  {member_id} {drawn.names.get(member_id, '')}{code}")
        if dry_run:
            click.echo(message("cli_lottery_dry_run", lang))
    if post and not dry_run:
        import time

        import requests

        from ..jobs.lottery_draw import post_result
        with requests.Session() as session:
            post_result(drawn, session=session, clock=time.time, sleep=time.sleep)
        click.echo(message("cli_lottery_posted", lang, group=drawn.group.group_id, name=drawn.group.name), err=True)


@lottery.command("verify", help=VERIFY_HELP)
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--group", "group_id", required=True, help="The group_id in the Groups tab.")
@click.option("--seed", required=True, help="The seed the draw printed.")
@click.option("--hash", "expected_hash", help="The eligible list's hash the draw printed.")
@click.option("--among", help="The same --among as the draw.")
@click.option("--winners-list", required=True, help="The winners' member ids, separated by commas.")
@click.option("--eligible-file", type=click.Path(exists=True, dir_okay=False),
              help="The eligible ids, one a line (instead of the sheet).")
@click.option("--now", "now_text", help="Evaluate tag rules as of this time (ISO 8601; default: now).")
def verify_cmd(source, group_id, seed, expected_hash, among, winners_list, eligible_file, now_text) -> None:
    from ..clock import parse_now
    from ..jobs.lottery_draw import verify_draw
    from ..stores import open_store
    lines = Path(eligible_file).read_text(encoding="utf-8").replace(",", "\n").splitlines() if eligible_file else None
    claimed = [w.strip() for w in winners_list.replace("，", ",").split(",") if w.strip()]
    checked = verify_draw(None if eligible_file else open_store(source), group_id, seed, claimed, parse_now(now_text),
                          among=among, eligible_lines=lines, expected_hash=expected_hash)
    click.echo(f"eligible: {checked.eligible} members, hash {checked.digest}")
    if not checked.hash_ok:
        raise fail(f"the eligible list differs from the draw's (hash {expected_hash.strip()}): members joined, left or "
                   f"were retagged since; verify with the list the draw saved (--eligible-file)", 1)
    if checked.ok:
        click.echo(f"OK: seed {seed!r} on this list picks exactly {', '.join(claimed)}.")
        raise click.exceptions.Exit(0)
    raise fail(f"MISMATCH: seed {seed!r} on this list picks {', '.join(checked.picks)}, not {', '.join(claimed)}", 1)


# --- import ---------------------------------------------------------------------------------------------

@cli.group("import", help=IMPORT_HELP)
def import_group() -> None:
    pass


@import_group.command("events", help=IMPORT_EVENTS_HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--mapping", type=click.Choice(["events", "wecom-members", "orders"]), default="events",
              show_default=True, help="How the file's columns become events.")
@click.option("--dry-run", is_flag=True, help="Check and count; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_events(file: str, source: str | None, mapping: str, dry_run: bool, as_json: bool) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..clock import utc_now
    from ..jobs.importer import ImportRefused, import_into, read_rows
    from ..stores import open_store
    try:
        header, rows = read_rows(file)
    except ImportRefused as exc:
        raise fail(str(exc)) from None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        console=Console(stderr=True), transient=True, disable=as_json)
    with progress:
        task = progress.add_task(Path(file).name, total=len(rows))
        try:
            result, wb, note = import_into(open_store(source), header, rows, mapping, utc_now(), dry_run=dry_run,
                                           progress=lambda n: progress.advance(task, n))
        except ImportRefused as exc:
            raise fail(str(exc)) from None
    if note:
        click.echo(f"note: {note}", err=True)
    if as_json:
        click.echo(json.dumps({**result.summary(), "dry_run": dry_run}, ensure_ascii=False))
    else:
        from .app import speaking
        _print_summary(result, wb.title("events"), dry_run, speaking(wb.lang))
    raise click.exceptions.Exit(1 if result.bad else 0)


def _print_summary(result, tab: str, dry_run: bool, lang: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    console = Console(soft_wrap=True)
    zh = lang == "zh-CN"
    if zh:
        line = (f"读取 {result.read} 行 · 新增 {len(result.new)}（{'试运行，未写入' if dry_run else f'已写入「{tab}」'}）· "
                f"重复 {result.duplicates} · 有误的行 {len(result.bad)}")
    else:
        line = (f"read {result.read} · new {len(result.new)} ({'would be added' if dry_run else 'added to ' + tab}) · "
                f"duplicates {result.duplicates} · bad rows {len(result.bad)}")
    console.print(line, markup=False, highlight=False)
    for bad in result.bad[:50]:
        console.print(f"  第 {bad.row} 行：{escape(bad.reason)}" if zh else f"  row {bad.row}: {escape(bad.reason)}",
                      highlight=False)
    if len(result.bad) > 50:
        more = len(result.bad) - 50
        console.print(f"  ……另有 {more} 行有误（--json 可列出全部）" if zh else
                      f"  … and {more} more bad rows (--json lists them all)", markup=False, highlight=False)
    for warning in result.warnings[:50]:          # imported, but with something to fix in the file
        console.print(f"  第 {warning.row} 行（已导入）：{escape(warning.reason)}" if zh else
                      f"  row {warning.row} (imported): {escape(warning.reason)}", highlight=False)
