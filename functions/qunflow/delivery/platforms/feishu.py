"""Feishu / Lark custom bot: POST /open-apis/bot/v2/hook/{token}. HTTP 200 mostly; `code` decides."""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace
from html import escape
from typing import Mapping

from ..message import NO_MENTIONS, Mentions, Message, Target, place_mentions
from .base import (DISABLE_TARGET, KEYWORD, REJECT_MESSAGE, RETRY, SIGNATURE_OR_CLOCK, HttpRequest,
                   MessageRejected, Outcome, Platform, classify_coded, image_caption, json_len, require_card, require_image_url, require_text, split_text)

CODES = {  # code -> (outcome, least retry wait, what it means); 0 is OK
    11232: (RETRY, 60.0, "rate limited (100 a minute, 5 a second per bot)"),
    9499: (REJECT_MESSAGE, None, "bad request: the message is malformed"),
    19001: (DISABLE_TARGET, None, "the webhook token is invalid"),
    19021: (DISABLE_TARGET, None, "the signature or its timestamp was refused"),
    19022: (DISABLE_TARGET, None, "the IP address is not allowed"),
    19024: (REJECT_MESSAGE, None, "the bot's security keyword is not in the text"),
}
CAUSES = {19021: SIGNATURE_OR_CLOCK, 19024: KEYWORD}  # 19021: base.settle_signature reads the Date header
EVERYONE = "所有人"


def sign_feishu(secret: str, ts_s: int) -> str:
    """签名校验: base64(HMAC_SHA256(key=f"{ts}\\n{secret}", msg=b"")), ts in seconds."""
    digest = hmac.new(f"{ts_s}\n{secret}".encode("utf-8"), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class Feishu(Platform):
    name = "feishu"
    body_bytes = 20000          # "20 KB": we stay under 20000 bytes of JSON, whichever KB is meant
    rate_windows = ((5, 1.0), (100, 60.0))

    @classmethod
    def build_requests(cls, message: Message, target: Target, timestamp: float) -> list[HttpRequest]:
        m = message.mentions
        if message.kind == "text":
            return cls._split(target, timestamp, require_text(message, "Feishu"), m, cls._text, "Feishu text")
        if message.kind == "markdown":
            title = message.title.strip()
            return cls._split(target, timestamp, require_text(message, "Feishu"), m,
                              lambda text, mm: cls._card(title, [cls._md(place_mentions(text, cls._at_card(mm)))]),
                              "Feishu markdown")
        if message.kind == "image" and message.image_key:   # uploaded by the app (jobs/feishu_images.py)
            caption, requests = image_caption(message), [
                cls._request(target, timestamp, {"msg_type": "image", "content": {"image_key": message.image_key}})]
            if caption or m:    # the caption, and who it notifies, follow as a text message
                requests += cls._split(target, timestamp, caption or "👆", m, cls._text, "Feishu text")
            return requests
        if message.kind == "image":
            image_url = require_image_url(message, "Feishu", "webhooks cannot upload image bytes (an image_key "
                                                             "needs app credentials)")
            return [cls._request(target, timestamp, cls._image_post(image_url, image_caption(message), m))]
        card = require_card(message)
        elements = []
        if card.image_key:   # a card shows a picture only by an image_key (uploaded through the app): never a URL
            elements.append({"tag": "img", "img_key": card.image_key,
                             "alt": {"tag": "plain_text", "content": card.title or "image"}})
        if card.description or m:
            elements.append(cls._md(cls._at_card(m) + (card.description or "")))
        if card.url:
            elements.append({"tag": "action", "actions": [{
                "tag": "button", "text": {"tag": "plain_text", "content": card.button_text or "查看详情"},
                "type": "primary", "url": card.url}]})
        if not elements:
            elements.append(cls._md(card.title))
        return [cls._request(target, timestamp, cls._card(card.title, elements))]

    @staticmethod
    def _image_post(image_url: str, caption: str, m: Mentions) -> dict:
        """A rich-text post with the image's link: a robot webhook cannot upload an image for an image_key (that
        needs the Feishu app's credentials); jobs/images.py warns at the Groups row."""
        ats = ([{"tag": "at", "user_id": "all", "user_name": EVERYONE}] if m.all else []) + \
              [{"tag": "at", "user_id": uid, "user_name": name or uid} for uid, name in m.users()]
        paragraphs = [[*ats, {"tag": "text", "text": " "}]] if ats else []
        paragraphs += [[{"tag": "text", "text": line}] for line in caption.split("\n") if line.strip()]
        paragraphs.append([{"tag": "a", "text": "🖼 查看图片", "href": image_url}])
        return {"msg_type": "post", "content": {"post": {"zh_cn": {"title": "", "content": paragraphs}}}}

    @classmethod
    def _text(cls, text: str, m: Mentions) -> dict:
        return {"msg_type": "text", "content": {"text": place_mentions(text, cls._at_text(m))}}

    @staticmethod
    def _at_text(m: Mentions) -> str:
        tags = [f'<at user_id="all">{EVERYONE}</at>'] if m.all else []
        tags += [f'<at user_id="{uid}">{escape(name or uid, quote=False)}</at>' for uid, name in m.users()]
        return " ".join(tags) + " " if tags else ""

    @staticmethod
    def _at_card(m: Mentions) -> str:
        """Card markdown has its own @ syntax."""
        tags = ["<at id=all></at>"] if m.all else []
        tags += [f"<at id={uid}></at>" for uid in m.user_ids]
        return " ".join(tags) + "\n" if tags else ""

    @staticmethod
    def _md(content: str) -> dict:
        return {"tag": "markdown", "content": content}

    @staticmethod
    def _card(title: str, elements: list[dict]) -> dict:
        card: dict = {"config": {"wide_screen_mode": True}, "elements": elements}
        if title:
            card["header"] = {"title": {"tag": "plain_text", "content": title[:100]}}
        return {"msg_type": "interactive", "card": card}

    @staticmethod
    def _signed(body: dict, target: Target, timestamp: float) -> dict:
        if not target.secret:
            return body
        ts = int(timestamp)
        return {"timestamp": str(ts), "sign": sign_feishu(target.secret, ts), **body}

    @classmethod
    def _request(cls, target: Target, timestamp: float, body: dict) -> HttpRequest:
        body = cls._signed(body, target, timestamp)
        if json_len(body) > cls.body_bytes:
            raise MessageRejected(f"the Feishu message body is {json_len(body)} bytes, over {cls.body_bytes}")
        return HttpRequest("POST", target.webhook, body)

    @classmethod
    def _split(cls, target: Target, timestamp: float, text: str, m: Mentions, make, what: str) -> list[HttpRequest]:
        def body(part: str, index: int) -> dict:
            return cls._signed(make(part, m if index == 0 else NO_MENTIONS), target, timestamp)

        parts = split_text(text, lambda s, i: json_len(body(s, i)) <= cls.body_bytes, what)
        return [HttpRequest("POST", target.webhook, body(p, i)) for i, p in enumerate(parts)]

    @classmethod
    def classify(cls, status_code: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        outcome = classify_coded(status_code, headers, body, CODES, ("code", "StatusCode"), ("msg", "StatusMessage"))
        cause = CAUSES.get(int(outcome.code)) if outcome.code.lstrip("-").isdigit() else None
        return replace(outcome, cause=cause) if cause else outcome
