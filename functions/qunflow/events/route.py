"""The `events` function's paths: one receiver per platform, a size cap, and nothing else. Pure.

    receive(request: Inbound, keys: Keys, now: float) -> Answer

"/feishu", "/slack", "/telegram", "/dingtalk" (POST) go to their receiver; a trailing slash is forgiven. Any
other path is a 404 and any other method a 405, with no events. A body over MAX_BODY (256 KiB: Slack's and
Feishu's events are a few KiB; Telegram's largest updates stay well under) is a 413 before any receiver reads
it. A receiver that raises (it should not: each answers poison instead) becomes a 200 with a poison reason, so a
platform never loops on a payload qunflow cannot read; the caller logs `reason`. The one exception is `keys`
itself failing (Secret Manager unreachable): that is a 503 without events, so the platform retries later.
"""
from __future__ import annotations

from typing import Callable

from . import dingtalk, feishu, slack, telegram, wecom
from .answers import poison, refused
from .base import Answer, Inbound, Keys

MAX_BODY = 256 * 1024
Receiver = Callable[[Inbound, Keys, float], Answer]

RECEIVERS: dict[str, tuple[Receiver, frozenset[str]]] = {
    "/feishu": (feishu.receive, frozenset({"POST"})),
    "/slack": (slack.receive, frozenset({"POST"})),
    "/telegram": (telegram.receive, frozenset({"POST"})),
    "/dingtalk": (dingtalk.receive, frozenset({"POST"})),
    "/wecom": (wecom.receive, frozenset({"GET", "POST"})),
}
"""path -> (receiver, methods)."""


def path_of(request: Inbound) -> str:
    path = (request.path or "/").split("?", 1)[0]
    return path.rstrip("/") or "/"


def receive(request: Inbound, keys: Keys, now: float) -> Answer:
    path = path_of(request)
    route = RECEIVERS.get(path)
    if route is None:
        return refused(f"no receiver at {path[:60]!r}", status=404)
    receiver, methods = route
    if request.method.upper() not in methods:
        return refused(f"{request.method.upper()[:10]} is not accepted at {path}", status=405,
                       headers={"Allow": ", ".join(sorted(methods))})
    if len(request.body) > MAX_BODY:
        return refused(f"the body has {len(request.body)} bytes, more than {MAX_BODY}", status=413)
    failed: list[str] = []

    def guarded(name: str) -> str | None:
        try:
            return keys(name)
        except Exception:
            failed.append(name)
            raise

    try:
        return receiver(request, guarded, now)
    except Exception as err:   # noqa: BLE001 - a receiver bug must not make the platform retry forever
        if failed:
            return refused(f"could not read {failed[0]} ({type(err).__name__}); try again", status=503)
        return poison(f"{path[1:]} receiver failed on this payload ({type(err).__name__})")
