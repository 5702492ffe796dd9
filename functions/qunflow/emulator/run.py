"""`serve()`: the blocking entry behind `qunflow emulator [--port] [--transcript] [--html]`."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Iterable

from .base import Bot
from .server import Emulator

URL_TEMPLATES = (
    ("wecom", "POST {base}/cgi-bin/webhook/send?key=<KEY>"),
    ("dingtalk", "POST {base}/robot/send?access_token=<TOKEN>[&timestamp=<ms>&sign=<sign>]"),
    ("feishu", "POST {base}/open-apis/bot/v2/hook/<TOKEN>"),
    ("slack", "POST {base}/services/<T>/<B>/<X>"),
    ("discord", "POST {base}/api/webhooks/<ID>/<TOKEN>[?wait=true]"),
    ("telegram", "POST {base}/bot<TOKEN>/sendMessage"),
)


def serve(port: int = 8765, transcript: str | Path | None = None, html: str | Path | None = None,
          strict: bool = False, bots: Iterable[Bot] = (), error_rate: float = 0.0, timeout_rate: float = 0.0,
          timeout_stall: float = 5.0, latency: float = 0.0, seed: int = 0, quiet: bool = False,
          out: Callable[[str], None] = print, stop_event: threading.Event | None = None) -> Emulator:
    """Run the emulator until Ctrl-C (or `stop_event`), for `qunflow emulator`.

    Prints the URL to use for each platform; on exit writes the HTML
    transcript when `html` is given. Returns the stopped emulator.
    """
    emulator = Emulator(bots, strict=strict, error_rate=error_rate, timeout_rate=timeout_rate,
                        timeout_stall=timeout_stall, latency=latency, seed=seed,
                        transcript_path=transcript, log=None if quiet else out)
    base = emulator.start(port)
    mode = "strict: only registered bots" if strict else "lax: any token is accepted and registered"
    out(f"qunflow chat emulator on {base} ({mode}); nothing is posted to real groups.")
    for name, template in URL_TEMPLATES:
        out(f"  {name:9} {template.format(base=base)}")
    out(f"  {'admin':9} GET {base}/_emulator/messages | GET /_emulator/health | POST /_emulator/bots | "
        "POST /_emulator/reset | GET /_emulator/transcript.html")
    for bot in emulator.bots:
        out(f"  bot {bot.platform:9} {bot.token_masked:6} {bot.name or bot.group_id or ''}")
    if transcript:
        out(f"Recording accepted messages to {transcript} (JSONL).")
    out("Press Ctrl-C to stop.")
    stop = stop_event or threading.Event()
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        out("")
    finally:
        emulator.stop()
        out(f"Stopped: {len(emulator.messages)} messages accepted of {emulator.requests_total} requests.")
        if html:
            out(f"Wrote {emulator.write_html(html)}")
    return emulator
