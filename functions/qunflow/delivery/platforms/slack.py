"""Slack incoming webhook: POST /services/T/B/X. The HTTP status decides; the body is "ok" or an error word."""
from __future__ import annotations

from typing import Mapping

from ..message import NO_MENTIONS, Mentions, Message, Target, place_mentions
from .base import (DISABLE_TARGET, OK, REJECT_MESSAGE, RETRY, HttpRequest, Outcome, Platform, gateway_timeout, header,
                   image_caption, require_card, require_image_url, require_text, seconds, short, split_text, truncate,
                   utf16_len)
from .markup import slack_escape, to_slack_mrkdwn


class Slack(Platform):
    name = "slack"
    text_chars = 40000          # longer text is truncated by Slack: we split before that
    section_chars = 3000
    button_chars = 75           # a button's text
    max_blocks = 50
    rate_windows = ((1, 1.0),)  # "about one a second, short bursts allowed"

    @classmethod
    def build_requests(cls, message: Message, target: Target, timestamp: float) -> list[HttpRequest]:
        m = message.mentions
        if message.kind in ("text", "markdown"):
            text = require_text(message, "Slack")
            convert = slack_escape if message.kind == "text" else to_slack_mrkdwn

            def content(part: str, index: int) -> str:
                return place_mentions(convert(part), cls._mentions(m if index == 0 else NO_MENTIONS))

            parts = split_text(text, lambda s, i: utf16_len(content(s, i)) <= cls.text_chars, "Slack text")
            return [HttpRequest("POST", target.webhook, {"text": content(p, i)}) for i, p in enumerate(parts)]
        if message.kind == "image":
            image_url = require_image_url(message, "Slack", "webhooks cannot upload image bytes")
            caption = image_caption(message)
            blocks = []
            lead = cls._mentions(m) + slack_escape(caption)
            if lead.strip():
                blocks.append(cls._section(lead))
            blocks.append({"type": "image", "image_url": image_url, "alt_text": caption or "image"})
            return [HttpRequest("POST", target.webhook, {"text": caption or image_url, "blocks": blocks})]
        card = require_card(message)
        title = slack_escape(card.title or card.url)
        heading = f"*<{card.url}|{title}>*" if card.url else f"*{title}*"
        lead = cls._mentions(m) + heading
        text = lead + (f"\n{slack_escape(card.description)}" if card.description else "")
        section = cls._section(truncate(text, cls.section_chars, utf16_len))
        if card.picture_url:
            section["accessory"] = {"type": "image", "image_url": card.picture_url, "alt_text": card.title or "image"}
        blocks = [section]
        if card.url and card.button_text:
            blocks.append({"type": "actions", "elements": [{
                "type": "button", "text": {"type": "plain_text", "text": truncate(card.button_text, cls.button_chars)},
                "url": card.url}]})
        return [HttpRequest("POST", target.webhook, {"text": card.title or card.url, "blocks": blocks})]

    @staticmethod
    def _mentions(m: Mentions) -> str:
        marks = (["<!channel>"] if m.all else []) + [f"<@{uid}>" for uid in m.user_ids]
        return " ".join(marks) + " " if marks else ""

    @staticmethod
    def _section(text: str) -> dict:
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    @classmethod
    def classify(cls, status_code: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        timed_out = gateway_timeout(status_code)
        if timed_out is not None:
            return timed_out
        word = short(body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body, 80)
        code = str(status_code)
        if status_code == 200 and word == "ok":
            return Outcome(OK, None, code, "ok")
        if status_code == 429:
            return Outcome(RETRY, seconds(header(headers, "Retry-After")), code, f"rate limited: {word or 'HTTP 429'}")
        if status_code >= 500:
            return Outcome(RETRY, seconds(header(headers, "Retry-After")), code, f"HTTP {status_code}: Slack is busy")
        if status_code in (403, 404, 410):
            return Outcome(DISABLE_TARGET, None, code, f"the webhook is revoked, archived or wrong "
                                                       f"(HTTP {status_code} {word})")
        if status_code == 400:
            return Outcome(REJECT_MESSAGE, None, code, f"Slack refused the message (HTTP 400 {word})")
        return Outcome(REJECT_MESSAGE, None, code, f"unexpected reply (HTTP {status_code} {word}); not retried")
