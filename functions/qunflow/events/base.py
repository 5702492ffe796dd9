"""The shapes every platform receiver shares. Plain values, no I/O.

    receive(request: Inbound, keys: Keys, now: float) -> Answer

lives in `events/<platform>.py` (PLATFORM = "feishu", ...). `now` is unix seconds from the injected clock.
The receiver verifies before it parses anything: a request that fails verification is an Answer with a 401
(or 403) and no events. A verified request it cannot use (a poison payload: bad JSON inside a good
signature, an event type qunflow does not know) is a 2xx with `reason` set and no events, so the platform
stops retrying; the caller logs the reason. The handshake (Feishu/Slack url_verification, WeCom's GET
echostr) is an Answer with the body the platform expects and no events.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping

EVENT_TYPES = ("join", "leave", "message", "checkin")


@dataclass(frozen=True)
class Inbound:
    """One HTTP request as the entry point received it. `headers` keys are lower-case."""
    method: str
    path: str                      # "/feishu", "/slack", "/telegram", "/dingtalk", "/wecom"
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class PlatformEvent:
    """One thing that happened in a chat, in qunflow's words.

    `event_id` is the dedup key: the platform's own event id where it has one (prefixed with the platform:
    "feishu:<header.event_id>", "slack:<event_id>", "telegram:<update_id>:<n>"), else built from what is
    unique (WeCom: "wecom:<FromUserName>:<CreateTime>:<n>"). One platform delivery that names several users
    (Feishu's `users`, Telegram's `new_chat_members`) gives one event per user, `:<n>` apart."""
    platform: str
    event_id: str
    type: str                      # one of EVENT_TYPES
    chat_id: str                   # the platform's id of the chat: matched against Groups chat_id
    user_id: str                   # the platform's id of the person: matched against Members platform_user_id
    user_name: str = ""            # as the platform gives it (a join from someone unknown creates the member)
    at: datetime | None = None     # aware; when the platform says it happened
    text: str = ""                 # a message's text (kept only to spot the check-in keyword, never stored)
    inviter_id: str = ""           # the platform id of whoever added them, where the platform says
    detail: str = ""               # anything else worth showing an operator, short


@dataclass
class Answer:
    """What to answer the platform, and what the request told us."""
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    events: list[PlatformEvent] = field(default_factory=list)
    reason: str = ""               # why nothing was kept (refused, handshake, poison); logged, never a secret
    hints: list[str] = field(default_factory=list)   # chat ids to re-sync (WeCom callbacks are hints)


Keys = Callable[[str], "str | None"]
"""The platform's secrets by name, resolved by the caller (env or Secret Manager, with a short cache):
"FEISHU_ENCRYPT_KEY", "FEISHU_VERIFICATION_TOKEN", "SLACK_SIGNING_SECRET", "TELEGRAM_SECRET_TOKEN",
"DINGTALK_TOKEN", "DINGTALK_AES_KEY", "DINGTALK_APP_KEY", "WECOM_TOKEN", "WECOM_AES_KEY", "WECOM_CORP_ID".
None: not configured, and the receiver refuses with a reason that names the missing key."""


def header(request: Inbound, name: str) -> str:
    return request.headers.get(name.lower(), "")
