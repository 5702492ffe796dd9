"""`qunflow emulator` (a dry run: the six platforms, locally) and `qunflow send` (one message to one group, now)."""
from __future__ import annotations

import json
import logging
import signal
import sys
import time

import click

from .app import SOURCE_HELP, cli, fail

EMULATOR_HELP = """Run the local chat emulator: a dry run of every post, without posting to real groups.

It answers like WeCom, DingTalk, Feishu, Slack, Discord and Telegram group webhooks (HTTP 200 with error
codes, byte limits, @mentions, signatures, rate limits) on 127.0.0.1 and records what each group would have
seen. Point the Groups tab's webhooks at it, e.g. set QUNFLOW_HOOK_G01 (the group's webhook
env:QUNFLOW_HOOK_G01) to http://127.0.0.1:8765/cgi-bin/webhook/send?key=G01, then run `qunflow tick` or
`qunflow send` in another terminal. Any key or token is accepted unless --strict (then register bots with
POST /_emulator/bots). A signed request is checked against the secret its bot was registered with: register
a signed bot with its secret (POST /_emulator/bots), or its signed requests are refused as a wrong secret
is. Press Ctrl-C to stop; --html then writes the transcript, one section per group.

\b
Example:
  qunflow emulator --port 8765 --transcript sent.jsonl --html sent.html
"""

SEND_HELP = f"""Send one message to one group now, through the group's webhook in the Groups tab.

The webhook and secret references (env:QUNFLOW_NAME, secret:NAME) are resolved as `qunflow tick` does, and the
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
    import requests

    from ..clock import utc_now
    from ..jobs.send import NotSent, send_message
    from ..stores import open_store
    if (text is None) == (markdown_file is None):
        raise fail("give the message with exactly one of --text or --markdown FILE")
    body = text if text is not None else markdown_file.read()
    if not body.strip():
        raise fail("the message is empty")
    handler = None
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    with requests.Session() as session:
        try:
            sent = send_message(open_store(source), group_id, "text" if text is not None else "markdown", body,
                                mention, session=session, clock=time.time, sleep=time.sleep,
                                today=utc_now().date(), wait=wait, log_handler=handler,
                                warn=lambda note: click.echo(note, err=True))
        except NotSent as exc:
            if as_json:
                _echo_json(exc.sent)
            raise fail(str(exc), exc.code) from None
    if as_json:
        _echo_json(sent)
    else:
        parts = f" in {sent.parts} parts" if sent.parts > 1 else ""
        click.echo(f"Sent to {sent.group.group_id} ({sent.group.name}, {sent.group.platform}){parts}; "
                   f"{sent.attempts} attempt(s).")


def _echo_json(sent) -> None:
    click.echo(json.dumps({"group_id": sent.group.group_id, "status": sent.status, "attempts": sent.attempts,
                           "reason": sent.reason, "parts": sent.parts}, ensure_ascii=False))
