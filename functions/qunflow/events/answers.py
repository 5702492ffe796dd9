"""What every receiver answers, and the small checks they share (freshness, JSON, keys, constant-time compare).

A reason is one line for the log, in four kinds, always starting with its kind:
- "refused: ..."   (401/403/404/405/413): verification failed or the request is not for us; nothing kept;
- "handshake: ..." (200): the platform's URL verification was answered;
- "poison: ..."    (200): verified, but the payload cannot be used; acknowledged so the platform stops retrying;
- "ignored: ..."   (200): verified and understood, but not something qunflow keeps (a bot's message, an edit).
A reason names what failed (a header, a key's name) and never holds a secret or a signature.
"""
from __future__ import annotations

import hmac
import json
from datetime import datetime, timezone
from typing import Any

from .base import Answer, Keys, PlatformEvent

WINDOW = 300                  # seconds a signed timestamp may be off from our clock (Slack's 5 minutes)
OK_BODY = b'{"ok":true}'


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def refused(reason: str, status: int = 401, headers: dict[str, str] | None = None) -> Answer:
    text = reason if reason.startswith("refused: ") else f"refused: {reason}"
    return Answer(status=status, body=_json({"ok": False, "reason": text}), headers=dict(headers or {}),
                  reason=text)


def handshake(body: bytes, reason: str, content_type: str = "application/json") -> Answer:
    return Answer(status=200, body=body, content_type=content_type, reason=f"handshake: {reason}")


def poison(reason: str, body: bytes = OK_BODY) -> Answer:
    return Answer(status=200, body=body, reason=f"poison: {reason}")


def ignored(reason: str, body: bytes = OK_BODY) -> Answer:
    return Answer(status=200, body=body, reason=f"ignored: {reason}")


def accepted(events: list[PlatformEvent], body: bytes = OK_BODY) -> Answer:
    return Answer(status=200, body=body, events=list(events))


def challenge_body(challenge: str) -> bytes:
    return _json({"challenge": challenge})


def missing_key(keys: Keys, *names: str) -> tuple[dict[str, str], str]:
    """({name: value}, "") when every key is configured, else ({}, the reason naming the missing ones)."""
    found, absent = {}, []
    for name in names:
        value = keys(name)
        if value is None or not str(value).strip():
            absent.append(name)
        else:
            found[name] = str(value).strip()
    if absent:
        return {}, f"{', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not configured"
    return found, ""


def same(expected: str | bytes, given: str | bytes) -> bool:
    """Constant-time equality of two strings (or bytes)."""
    a = expected.encode("utf-8") if isinstance(expected, str) else expected
    b = given.encode("utf-8") if isinstance(given, str) else given
    return hmac.compare_digest(a, b)


def stale(timestamp: str, now: float, name: str, window: int = WINDOW, millis: bool = False) -> str:
    """"" when `timestamp` (unix seconds, or milliseconds with `millis`, or either when it is 13 digits) is within
    `window` seconds of `now`; else the reason."""
    text = (timestamp or "").strip()
    if not text:
        return f"{name} is missing"
    try:
        value = int(text)
    except ValueError:
        return f"{name} is not a unix time"
    seconds = value / 1000 if millis or value > 10**11 else value
    off = seconds - now
    if abs(off) > window:
        return f"stale {name}: {abs(off):.0f} s {'ahead of' if off > 0 else 'behind'} our clock (window {window} s)"
    return ""


def load_json(raw: bytes | str) -> Any:
    """The parsed JSON, or None when it is not JSON (or not UTF-8)."""
    try:
        return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (UnicodeDecodeError, ValueError):
        return None


def when(seconds: Any = None, millis: Any = None) -> datetime | None:
    """An aware UTC datetime from unix seconds or milliseconds (numbers or numeric strings); None if neither reads."""
    for value, scale in ((millis, 1000.0), (seconds, 1.0)):
        try:
            if value is None or value == "":
                continue
            return datetime.fromtimestamp(float(value) / scale, tz=timezone.utc)
        except (TypeError, ValueError, OverflowError, OSError):
            continue
    return None


def text_of(value: Any) -> str:
    """A platform id as text: Telegram's ints stay exact, None is ""."""
    if value is None or isinstance(value, bool):
        return ""
    return str(value).strip()
