"""Discord webhook: POST /api/webhooks/{id}/{token}. 204 (or 200 with ?wait=true) on success; HTTP status decides."""
from __future__ import annotations

from typing import Mapping

from ..message import NO_MENTIONS, Mentions, Message, Target, place_mentions
from .base import (DISABLE_TARGET, OK, REJECT_MESSAGE, RETRY, HttpRequest, Outcome, Platform, gateway_timeout, header,
                   image_caption, latest, parse_json, require_card, require_image_url, require_text, seconds, short,
                   split_text, truncate, utf16_len)
from .markup import markdown_to_plain


class Discord(Platform):
    name = "discord"
    content_chars = 2000
    embed_title_chars = 256
    embed_description_chars = 4096
    embeds_total_chars = 6000
    max_mentioned_users = 100
    # Discord's buckets are dynamic (X-RateLimit-* headers, honoured by the dispatcher); this static ceiling is the
    # commonly observed webhook limit (5 per 2 s, 30 a minute per channel), so we rarely meet a 429 at all.
    rate_windows = ((5, 2.0), (30, 60.0))

    @classmethod
    def build_requests(cls, message: Message, target: Target, timestamp: float) -> list[HttpRequest]:
        m = message.mentions
        if message.kind in ("text", "markdown"):
            text = require_text(message, "Discord")

            def content(part: str, index: int) -> str:
                return place_mentions(part, cls._mentions(m if index == 0 else NO_MENTIONS))

            parts = split_text(text, lambda s, i: utf16_len(content(s, i)) <= cls.content_chars, "Discord content")
            return [cls._request(target, {"content": content(p, i)}, m if i == 0 else NO_MENTIONS)
                    for i, p in enumerate(parts)]
        if message.kind == "image":
            image_url = require_image_url(message, "Discord", "messages go as JSON, without file uploads")
            embed: dict = {"image": {"url": image_url}}
            caption = image_caption(message)
            if caption:
                embed["description"] = truncate(markdown_to_plain(caption), cls.embed_description_chars, utf16_len)
            return [cls._request(target, {"content": cls._mentions(m).strip(), "embeds": [embed]}, m)]
        card = require_card(message)
        embed = {"title": truncate(card.title or card.url or "…", cls.embed_title_chars, utf16_len)}
        if card.description:
            embed["description"] = truncate(card.description, cls.embed_description_chars, utf16_len)
        if card.url:
            embed["url"] = card.url
        if card.picture_url:
            embed["image"] = {"url": card.picture_url}
        return [cls._request(target, {"content": cls._mentions(m).strip(), "embeds": [embed]}, m)]

    @staticmethod
    def _mentions(m: Mentions) -> str:
        marks = (["@everyone"] if m.all else []) + [f"<@{uid}>" for uid in m.user_ids]
        return " ".join(marks) + " " if marks else ""

    @classmethod
    def _request(cls, target: Target, body: dict, m: Mentions) -> HttpRequest:
        """allowed_mentions is always explicit: only the people we mean are notified, never an "@everyone" that
        happens to be in the text."""
        if not body.get("content"):
            body.pop("content", None)
        body["allowed_mentions"] = {"parse": ["everyone"] if m.all else [],
                                    "users": list(m.user_ids[:cls.max_mentioned_users])}
        return HttpRequest("POST", target.webhook, body)

    @classmethod
    def classify(cls, status_code: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        timed_out = gateway_timeout(status_code)
        if timed_out is not None:
            return timed_out
        data = parse_json(body)
        data = data if isinstance(data, dict) else {}
        detail = short(data.get("message") or (body.decode("utf-8", "replace") if body else ""), 160)
        code = str(status_code)
        reset_after = seconds(header(headers, "X-RateLimit-Reset-After"))
        if status_code in (200, 204):
            exhausted = header(headers, "X-RateLimit-Remaining") == "0"
            return Outcome(OK, reset_after if exhausted else None, code, "ok")
        if status_code == 429:
            wait = latest(seconds(data.get("retry_after")), seconds(header(headers, "Retry-After")), reset_after)
            scope = "global " if data.get("global") or header(headers, "X-RateLimit-Global") else ""
            return Outcome(RETRY, wait, code, f"{scope}rate limited (HTTP 429)")
        if status_code >= 500:
            return Outcome(RETRY, seconds(header(headers, "Retry-After")), code, f"HTTP {status_code}: Discord is busy")
        if status_code in (401, 404):
            return Outcome(DISABLE_TARGET, None, code, f"the webhook is deleted or its token is wrong "
                                                       f"(HTTP {status_code} {detail})")
        if status_code == 400:
            return Outcome(REJECT_MESSAGE, None, code, f"Discord refused the message (HTTP 400 {detail})")
        return Outcome(REJECT_MESSAGE, None, code, f"unexpected reply (HTTP {status_code} {detail}); not retried")
