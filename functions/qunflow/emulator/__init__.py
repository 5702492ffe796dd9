"""qunflow's local chat-platform emulator: WeCom, DingTalk, Feishu, Slack, Discord and Telegram group webhooks.

A strict, independent witness written from PLATFORMS.md (it imports
nothing from the senders): real paths, payload checks, byte limits, error
codes, signatures, rolling-window rate limits on an injected clock, faults,
and a transcript (JSONL and HTML) of what each group would have seen.
The platforms' event sources too (events_out.py: joins, leaves and messages POSTed, signed or encrypted, to a
configured URL, with each platform's retry rule), written from EVENTS.md.

    with Emulator([Bot("wecom", "k-123", name="Shop A")], clock=fake_clock) as emu:
        requests.post(emu.webhook_url(emu.bots[0]), json={"msgtype": "text", "text": {"content": "hi"}})
        emu.messages[-1]["text"]  # "hi"
"""
from .base import PLATFORMS, Bot, mask
from .events_out import EventSource
from .ratelimit import Limiter
from .run import serve
from .server import PLATFORM_CLASSES, Emulator
from .transcript import read_jsonl, render_html, write_html

__all__ = ["PLATFORMS", "PLATFORM_CLASSES", "Bot", "Emulator", "EventSource", "Limiter", "mask", "read_jsonl",
           "render_html", "serve", "write_html"]
