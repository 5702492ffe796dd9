"""Telegram bot: POST /bot{token}/sendMessage with chat_id in the JSON body. `ok` and `error_code` decide.

The target's webhook is https://api.telegram.org/bot<TOKEN>/sendMessage?chat_id=<ID>: the query moves into the body.
"""
from __future__ import annotations

import html as _html
import re
from typing import Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from ..message import NO_MENTIONS, Mentions, Message, Target, place_mentions
from .base import (DISABLE_TARGET, OK, REJECT_MESSAGE, RETRY, HttpRequest, MessageRejected, Outcome, Platform,
                   Windows, gateway_timeout, header, image_caption, latest, parse_json, require_card, require_image_url,
                   require_text, seconds, short, split_text, utf16_len)
from .markup import telegram_escape, to_telegram_html

_BOT = re.compile(r"/bot([^/]+)/")


def _href(url: str) -> str:
    return _html.escape(url, quote=True)


def split_webhook(webhook: str) -> tuple[str, dict]:
    """(the method URL without a query, the query's fields for the body; chat_id as an int when numeric)."""
    parts = urlsplit(webhook)
    fields: dict = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        fields[key] = int(value) if key == "chat_id" and re.fullmatch(r"-?\d+", value) else value
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), fields


class Telegram(Platform):
    name = "telegram"
    caption_chars = 1024        # a photo's caption, after entities parsing (we count the HTML: never over)
    text_chars = 4096           # counted in UTF-16 units on the HTML we send (tags included): never over
    rate_windows = ((1, 1.0), (20, 60.0))   # per chat: ~1 a second, at most 20 a minute in a group
    bot_windows = ((30, 1.0),)  # per bot across all chats (Telegram's bot FAQ; not in PLATFORMS.md)
    everyone_note = "📢"         # Telegram has no @all: a visible note instead (it notifies no one specially)

    @classmethod
    def build_requests(cls, message: Message, target: Target, timestamp: float) -> list[HttpRequest]:
        url, fields = split_webhook(target.webhook)
        if "chat_id" not in fields:
            raise MessageRejected("the Telegram webhook has no ?chat_id=: write it as "
                                  "https://api.telegram.org/bot<TOKEN>/sendMessage?chat_id=<ID>")
        m = message.mentions
        if message.kind in ("text", "markdown"):
            text = require_text(message, "Telegram")
            return cls._texts(url, fields, text, m, telegram_escape if message.kind == "text" else to_telegram_html)
        if message.kind == "image":
            return cls._photo(url, fields, message)
        card = require_card(message)
        title = telegram_escape(card.title or card.url)
        text = f'<b><a href="{_href(card.url)}">{title}</a></b>' if card.url else f"<b>{title}</b>"
        if card.description:
            text += "\n" + telegram_escape(card.description)
        request = cls._request(url, fields, cls._mentions(m) + text)
        preview = card.picture_url or card.url   # the picture, when there is one, shows as the large preview
        if preview:
            request.json["link_preview_options"] = {"url": preview, "prefer_large_media": True,
                                                    "show_above_text": bool(card.picture_url)}
        if card.url and card.button_text:
            request.json["reply_markup"] = {"inline_keyboard": [[{"text": card.button_text, "url": card.url}]]}
        return [request]

    @classmethod
    def _photo(cls, url: str, fields: dict, message: Message) -> list[HttpRequest]:
        """sendPhoto by URL (Telegram fetches it), the text as its caption when it fits in caption_chars; else
        the photo, then the text as messages."""
        image_url = require_image_url(message, "Telegram", "sendPhoto here takes the image by URL")
        photo_url = url.rsplit("/", 1)[0] + "/sendPhoto"
        m, caption = message.mentions, image_caption(message)
        html = cls._mentions(m) + telegram_escape(caption)
        photo = {**fields, "photo": image_url}
        if utf16_len(html) <= cls.caption_chars:   # the HTML's length: never under the visible text's
            if html.strip():
                photo.update(caption=html, parse_mode="HTML")
            return [HttpRequest("POST", photo_url, photo)]
        return [HttpRequest("POST", photo_url, photo)] + cls._texts(url, fields, caption, m, telegram_escape)

    @classmethod
    def _texts(cls, url: str, fields: dict, text: str, m: Mentions, convert) -> list[HttpRequest]:
        def html(part: str, index: int) -> str:
            return place_mentions(convert(part), cls._mentions(m if index == 0 else NO_MENTIONS))

        parts = split_text(text, lambda s, i: utf16_len(html(s, i)) <= cls.text_chars, "Telegram text")
        return [cls._request(url, fields, html(p, i)) for i, p in enumerate(parts)]

    @classmethod
    def _mentions(cls, m: Mentions) -> str:
        marks = [cls.everyone_note] if m.all else []
        for uid, name in m.users():
            if re.fullmatch(r"\d+", uid):
                marks.append(f'<a href="tg://user?id={uid}">{telegram_escape(name or uid)}</a>')
            else:  # a @username mentions by itself
                marks.append(telegram_escape(uid if uid.startswith("@") else "@" + uid))
        return " ".join(marks) + " " if marks else ""

    @classmethod
    def _request(cls, url: str, fields: dict, html: str) -> HttpRequest:
        if utf16_len(html) > cls.text_chars:
            raise MessageRejected(f"the Telegram message is {utf16_len(html)} characters, over {cls.text_chars}")
        return HttpRequest("POST", url, {**fields, "text": html, "parse_mode": "HTML"})

    @classmethod
    def rate_keys(cls, target: Target) -> list[tuple[str, Windows]]:
        keys = [(target.webhook, cls.rate_windows)]
        bot = _BOT.search(urlsplit(target.webhook).path)
        if bot:
            keys.append(("telegram-bot:" + bot.group(1), cls.bot_windows))
        return keys

    @classmethod
    def classify(cls, status_code: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        timed_out = gateway_timeout(status_code)
        if timed_out is not None:
            return timed_out
        data = parse_json(body)
        if not isinstance(data, dict):
            if status_code >= 500 or 200 <= status_code < 300:
                return Outcome(RETRY, None, str(status_code), f"HTTP {status_code} with a reply that is not JSON")
            if status_code in (401, 403, 404):
                return Outcome(DISABLE_TARGET, None, str(status_code), f"HTTP {status_code}: the bot URL is wrong")
            return Outcome(REJECT_MESSAGE, None, str(status_code), f"HTTP {status_code} without a JSON reply")
        if data.get("ok") is True and 200 <= status_code < 300:
            return Outcome(OK, None, "ok", "ok")
        error = data.get("error_code") if isinstance(data.get("error_code"), int) else status_code
        description = short(data.get("description"), 200)
        params = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
        code = str(error)
        if params.get("migrate_to_chat_id") is not None:
            new_id = str(params["migrate_to_chat_id"])
            return Outcome(DISABLE_TARGET, None, code, f"the group became a supergroup: change chat_id in its webhook "
                                                       f"to {new_id}", migrate_to_chat_id=new_id)
        if error == 429:
            wait = latest(seconds(params.get("retry_after")), seconds(header(headers, "Retry-After")))
            return Outcome(RETRY, wait, code, f"rate limited (429): {description}")
        if error >= 500:
            return Outcome(RETRY, None, code, f"Telegram is busy ({error}): {description}")
        if error in (401, 403, 404) or (error == 400 and "chat not found" in description.lower()):
            return Outcome(DISABLE_TARGET, None, code, f"the bot cannot post to this chat ({error}): {description}")
        if error == 400:
            return Outcome(REJECT_MESSAGE, None, code, f"Telegram refused the message (400): {description}")
        return Outcome(REJECT_MESSAGE, None, code, f"unexpected reply ({error}): {description}; not retried")
