"""Types shared by the emulator's platform modules: the bot, the request, the verdict.

Nothing here is shared with the senders (qunflow.delivery): the emulator is an
independent witness written from PLATFORMS.md, so a misreading in the senders
cannot hide behind the same misreading here.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

PLATFORMS = ("wecom", "dingtalk", "feishu", "slack", "discord", "telegram")

TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")


def mask(secret: str | None) -> str:
    """Keep the first 4 characters of a token or secret (fewer for short ones) and hide the rest."""
    if not secret:
        return ""
    return secret[:min(4, len(secret) // 2)] + "…"


def utf8len(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass
class Bot:
    """One group webhook the emulator knows.

    `token` is what identifies the webhook in the URL: the WeCom key, the
    DingTalk access_token, the Feishu hook token, the Slack "T/B/X" path tail,
    the Discord "id/token", the Telegram bot token. `dead` is True (the
    platform's usual removal answer) or one specific removal code/status.
    Telegram: every chat_id is accepted except those in `dead_chats`
    (kicked) and `migrated_chats` ({old_id: new_supergroup_id}).
    """

    platform: str
    token: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    dead: bool | int = False
    keyword: str | None = None
    name: str | None = None
    group_id: str | None = None
    dead_chats: tuple = ()
    migrated_chats: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise ValueError(f"Bot.platform must be one of {', '.join(PLATFORMS)}; got {self.platform!r}")
        if not isinstance(self.token, str) or not self.token:
            raise ValueError(f"{self.platform} bot needs a non-empty token")
        if self.platform == "slack" and (self.token.count("/") != 2 or "" in self.token.split("/")):
            raise ValueError(f"slack token is the 'T/B/X' tail of the webhook path; got {mask(self.token)!r}")
        if self.platform == "discord":
            parts = self.token.split("/")
            if len(parts) != 2 or not parts[0].isdigit() or not parts[1]:
                raise ValueError("discord token is 'id/token' with a numeric webhook id")
        if self.platform == "telegram" and not TELEGRAM_TOKEN.match(self.token):
            raise ValueError("telegram token looks like '123456:ABC-def' (bot id, colon, secret)")
        self.dead_chats = tuple(str(c) for c in self.dead_chats)
        self.migrated_chats = {str(k): v for k, v in dict(self.migrated_chats).items()}

    @property
    def token_masked(self) -> str:
        return mask(self.token)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={getattr(self, k)!r}" for k in ("dead", "keyword", "name", "group_id") if getattr(self, k))
        secret = ", secret=<set>" if self.secret else ""
        return f"Bot({self.platform!r}, token={self.token_masked!r}{secret}{extra})"

    @classmethod
    def from_dict(cls, data: dict) -> "Bot":
        known = {"platform", "token", "secret", "dead", "keyword", "name", "group_id", "dead_chats", "migrated_chats"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown bot fields: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]  # first value of each parameter, percent-decoded once
    headers: dict[str, str]  # lower-case names
    body: bytes
    now: float = 0.0
    wall_now: float | None = None  # the platform's wall clock, for signature timestamps; None: `now`

    @property
    def signed_now(self) -> float:
        """The moment a signature's timestamp is checked against (DingTalk, Feishu: within 1 hour)."""
        return self.now if self.wall_now is None else self.wall_now

    def json(self) -> tuple[Any, str | None]:
        """(object, None) or (None, reason)."""
        try:
            return json.loads(self.body.decode("utf-8")), None
        except UnicodeDecodeError:
            return None, "body is not UTF-8"
        except ValueError as exc:
            return None, f"body is not JSON: {exc}"


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def json_reply(status: int, obj: Any, headers: dict | None = None) -> Reply:
    return Reply(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), headers=dict(headers or {}))


def admin_body(body: bytes) -> tuple[Any, Reply | None]:
    """A control endpoint's JSON body, or the 400 to answer."""
    try:
        return json.loads(body.decode("utf-8") or "null"), None
    except ValueError as exc:
        return None, json_reply(400, {"ok": False, "error": str(exc)})


def text_reply(status: int, text: str, headers: dict | None = None) -> Reply:
    return Reply(status, text.encode("utf-8"), "text/html", dict(headers or {}))


@dataclass
class Message:
    """What members of the group see, once a platform module accepted a request."""

    bot: Bot
    msgtype: str
    text: str
    mentions: list[str]
    payload: Any
    warnings: list[str] = field(default_factory=list)
    group_id: str | None = None  # overrides bot.group_id (Telegram: the chat)
    author: str | None = None  # a per-message display name (Slack/Discord username)
    extra: dict = field(default_factory=dict)


@dataclass
class Outcome:
    reply: Reply
    code: str | None = None  # rejection code, for counting; None when accepted
    message: Message | None = None
    limit_key: Any = None  # the rate-limit key to consume on acceptance

    @classmethod
    def reject(cls, reply: Reply, code: Any) -> "Outcome":
        return cls(reply, str(code))


class Context:
    """What a platform module may use while judging one request."""

    def __init__(self, lookup: Callable[[str, str], "Bot | None"], bots: Callable[[str], list], limiter, now: float, strict: bool, seq: int):
        self._lookup = lookup
        self._bots = bots
        self.limiter = limiter
        self.now = now
        self.strict = strict
        self.seq = seq  # the seq the next accepted message will get

    def bot(self, platform: str, token: str) -> Bot | None:
        """The registered bot, auto-registered when the emulator is lax; None when strict and unknown."""
        return self._lookup(platform, token)

    def bots(self, platform: str) -> list[Bot]:
        return self._bots(platform)


def str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""
