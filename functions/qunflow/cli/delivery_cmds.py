"""`qunflow emulator` (a dry run: the six platforms, locally) and `qunflow send` (one message to one group, now)."""
from __future__ import annotations

import json
import logging
import random
import signal
import sys
import time

import click

from .app import SOURCE_HELP, cli, fail

EMULATOR_HELP = """Run the local chat emulator: a dry run of every post, without posting to real groups.

It answers like WeCom, DingTalk, Feishu, Slack, Discord and Telegram group webhooks (HTTP 200 with error
codes, byte limits, @mentions, signatures, rate limits) on 127.0.0.1 and records what each group would have
seen. Point the Groups tab's webhooks at it, e.g. set HOOK_G01 (the group's webhook env:HOOK_G01) to
http://127.0.0.1:8765/cgi-bin/webhook/send?key=G01, then run `qunflow tick` or `qunflow send` in another
terminal. Any key or token is accepted unless --strict (then register bots with POST /_emulator/bots).
Signing secrets are checked only for registered bots. Press Ctrl-C to stop; --html then writes the
transcript, one section per group.

\b
Example:
  qunflow emulator --port 8765 --transcript sent.jsonl --html sent.html
"""

SEND_HELP = f"""Send one message to one group now, through the group's webhook in the Groups tab.

The webhook and secret references (env:NAME, secret:NAME) are resolved as `qunflow tick` does, and the
message goes through the same sender: platform format, splitting, signing, rate limits, retries.
--mention takes `all` or member ids (the Members tab's member_id or platform_user_id, in that group),
comma-separated. Exits 0 when the platform accepted the message, 1 when it did not (the reason is
printed, with keys masked), 2 when the group or its webhook cannot be found. Nothing is written to the
workbook. {SOURCE_HELP}

\b
Example:
  qunflow send shop.xlsx --group G01 --text "今晚 8 点直播" --mention all
  qunflow send shop.xlsx --group G02 --markdown notice.md --mention M0001,M0002 --json
"""


@cli.command(help=EMULATOR_HELP)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--transcript", type=click.Path(dir_okay=False), help="Append every accepted message to FILE (JSONL).")
@click.option("--html", type=click.Path(dir_okay=False), help="On exit, write what each group saw to FILE.")
@click.option("--strict", is_flag=True, help="Only registered bots; unknown keys get the platform's bad-key answer.")
@click.option("--error-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Fraction of requests answered 500/502/503, to rehearse retries.")
@click.option("--timeout-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Fraction of requests accepted but answered too late (the sender must not resend).")
@click.option("--latency", default=0.0, show_default=True, type=click.FloatRange(0, 60),
              help="Seconds each request takes.")
@click.option("--seed", default=0, show_default=True, help="Same seed, same faults.")
def emulator(port: int, transcript: str | None, html: str | None, strict: bool, error_rate: float,
             timeout_rate: float, latency: float, seed: int) -> None:
    from ..emulator import serve
    if error_rate + timeout_rate > 1:
        raise fail("--error-rate and --timeout-rate together must not exceed 1")
    previous = _stop_on_sigterm()
    try:
        serve(port=port, transcript=transcript, html=html, strict=strict, error_rate=error_rate,
              timeout_rate=timeout_rate, latency=latency, seed=seed, out=click.echo)
    except OSError as exc:
        raise fail(f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}): try another --port, "
                   f"or --port 0 for any free port")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm():
    """`kill` (SIGTERM) stops the emulator like Ctrl-C does, so --html is still written. Returns the previous
    handler, or None when signals cannot be set here (not the main thread)."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, stop)
    except ValueError:
        return None


@cli.command(help=SEND_HELP)
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--group", "group_id", required=True, help="The group_id in the Groups tab.")
@click.option("--text", help="The message, as plain text.")
@click.option("--markdown", "markdown_file", type=click.File("r", encoding="utf-8"), metavar="FILE",
              help="A markdown file (- for stdin), converted to each platform's format.")
@click.option("--mention", help="`all`, or member ids separated by commas.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"group_id", "status", "attempts", "reason", "parts"} as JSON.')
@click.option("--wait", default=120.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds to keep retrying while the platform is busy or rate-limits the robot (0: one try).")
@click.option("--verbose", "-v", is_flag=True, help="Show each attempt on stderr (keys masked).")
def send(source: str | None, group_id: str, text: str | None, markdown_file, mention: str | None, as_json: bool,
         wait: float, verbose: bool) -> None:
    from ..delivery import Delivery, Dispatcher, Masker, MaskingFilter, Message, Target
    if (text is None) == (markdown_file is None):
        raise fail("give the message with exactly one of --text or --markdown FILE")
    body = text if text is not None else markdown_file.read()
    if not body.strip():
        raise fail("the message is empty")
    wb, group = _load_group(source, group_id)
    mentions = _mentions(wb, group, mention)
    webhook, secret = _resolve(group)
    target = Target(group.platform, group.group_id, webhook, secret)
    message = Message("text" if text is not None else "markdown", body, mentions=mentions)

    import requests
    masker = Masker([webhook, secret])
    logger = logging.Logger("qunflow.send")   # private: nothing global is configured
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        handler.addFilter(MaskingFilter(masker))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    else:
        logger.addHandler(logging.NullHandler())
    with requests.Session() as session:
        dispatcher = Dispatcher(session, time.time, time.sleep, random.Random(), masker=masker, logger=logger,
                                max_attempts=4 if wait else 1, deadline=time.time() + wait if wait else None)
        report = dispatcher.dispatch([Delivery("manual-send", target, message)])
    result = report.results[0]
    reason = masker.mask(result.reason)
    if as_json:
        click.echo(json.dumps({"group_id": group.group_id, "status": result.status, "attempts": result.attempts,
                               "reason": reason, "parts": result.parts}, ensure_ascii=False))
    if result.status == "sent":
        if not as_json:
            parts = f" in {result.parts} parts" if result.parts > 1 else ""
            click.echo(f"Sent to {group.group_id} ({group.name}, {group.platform}){parts}; "
                       f"{result.attempts} attempt(s).")
        raise click.exceptions.Exit(0)
    if group.group_id in report.disabled:
        why = _dead_target(group, result.code, masker.mask(report.disabled[group.group_id]))
    elif result.status == "retry":
        why = (f"the platform did not take it within --wait ({wait:g} s) and its retries ({reason}); try again "
               f"later (-v shows each reply)")
    elif result.status == "unknown":
        why = f"no answer from the platform after sending: it may have reached the group, so it was not resent ({reason})"
    else:
        why = reason
    raise fail(f"not sent to {group.group_id} ({group.platform}): {why}", 1)


SECURITY_CODES = {"310000", "19021", "19022", "19024"}  # DingTalk security settings; Feishu signature, IP, keyword


def _dead_target(group, code: str, reason: str) -> str:
    """Why the webhook no longer takes messages, in plain words, and what to fix."""
    if code in SECURITY_CODES:
        return (f"{reason}. Check the signing secret of {group.group_id} in the Groups tab, and the robot's keyword "
                f"and IP allow-list settings")
    if code == "bad-url":
        return f"the webhook address is malformed: fix the webhook of {group.group_id} in the Groups tab ({reason})"
    if "supergroup" in reason:
        return reason
    return (f"the robot was removed or its key is invalid: fix the webhook of {group.group_id} in the Groups tab "
            f"({reason})")


def _load_group(source: str | None, group_id: str):
    """(workbook, group); a clear error when the group is missing or its row has an error."""
    from ..cells import fold, parse_id
    from ..clock import utc_now
    from ..stores import open_store
    from ..workbook import load_workbook
    store = open_store(source)
    snapshot = store.read()
    wb = load_workbook(snapshot.raw, today=utc_now().date(), grid_rows=snapshot.grid_rows,
                       shared_sheet=store.kind == "google")
    group = wb.groups.get(group_id) or next((g for g in wb.groups.values() if fold(g.group_id) == fold(group_id)), None)
    if group is not None:
        return wb, group
    table = wb.tables["groups"]
    for index, row in enumerate(table.rows):
        try:
            row_id = parse_id(table.cell(row, "group_id"))
        except ValueError:  # a bad id cell (lost digits): not the group we look for
            continue
        if row_id and fold(row_id) == fold(group_id):
            problems = [p.message for p in wb.errors if p.tab == table.title and p.row == index + 2]
            detail = "; ".join(problems) or "the row has an error"
            raise fail(f"group {group_id} (row {index + 2} of the {table.title} tab) cannot be used: {detail}. "
                       f"Run `qunflow validate` for the details.")
    known = ", ".join(sorted(wb.groups)[:20]) or "none"
    raise fail(f"no group {group_id!r} in the {table.title} tab (groups: {known})")


def _mentions(wb, group, mention: str | None):
    """`all` and member ids (member_id or platform_user_id of the group's members) → Mentions."""
    from ..delivery import Mentions
    if not mention or not mention.strip():
        return Mentions()
    wanted = [m.strip() for m in mention.split(",") if m.strip()]
    everyone = any(w.lower() == "all" for w in wanted)
    members = [m for m in wb.members.values() if m.group_id == group.group_id]
    user_ids, names, mobiles, unknown = [], [], [], []
    for w in wanted:
        if w.lower() == "all":
            continue
        member = next((m for m in members if m.member_id == w), None) or \
            next((m for m in members if m.platform_user_id == w), None)
        if member is None:
            unknown.append(w)
        elif member.platform_user_id:
            if member.platform_user_id not in user_ids:
                user_ids.append(member.platform_user_id)
                names.append(member.name)
        elif member.mobile:
            if member.mobile not in mobiles:
                mobiles.append(member.mobile)
        else:
            raise fail(f"member {w} has neither platform_user_id nor mobile in the Members tab: "
                       f"fill one in to mention them")
    if unknown:
        raise fail(f"no member {', '.join(unknown)} in group {group.group_id} (Members tab: member_id or "
                   f"platform_user_id); use --mention all to notify everyone")
    if mobiles and group.platform not in ("wecom", "dingtalk"):
        click.echo(f"note: {group.platform} cannot @ a member by mobile number; {', '.join(mobiles)} will not be "
                   f"notified (fill in platform_user_id)", err=True)
    return Mentions(all=everyone, user_ids=tuple(user_ids), mobiles=tuple(mobiles), names=tuple(names))


def _resolve(group) -> tuple[str, str | None]:
    from ..secrets import SecretResolver, UnresolvedSecret
    resolver = SecretResolver.from_environment()
    try:
        return resolver.resolve(group.webhook), resolver.resolve(group.secret)
    except UnresolvedSecret as exc:
        which = "webhook" if exc.reference == (group.webhook or "").strip() else "secret"
        raise fail(f"the {which} of group {group.group_id} is {exc.reference}, which is not set: {exc.where}")
