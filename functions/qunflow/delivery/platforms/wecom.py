"""WeCom (企业微信) group robot: POST /cgi-bin/webhook/send?key=KEY. HTTP 200 always; `errcode` decides."""
from __future__ import annotations

import base64
import hashlib
from typing import Mapping

from ..message import NO_MENTIONS, Mentions, Message, Target, place_mentions
from .base import (DISABLE_TARGET, REJECT_MESSAGE, RETRY, HttpRequest, MessageRejected, Outcome, Platform,
                   classify_coded, image_caption, require_card, require_image_url, require_text, split_text, truncate,
                   utf8_len)
from .markup import markdown_to_plain

CODES = {  # errcode -> (outcome, least retry wait, what it means); 0 is OK
    45009: (RETRY, 60.0, "rate limited: more than 20 messages a minute"),
    -1: (RETRY, None, "the platform is busy"),
    45033: (RETRY, None, "too many concurrent requests"),
    40058: (REJECT_MESSAGE, None, "a message field is invalid"),
    44004: (REJECT_MESSAGE, None, "the content is empty"),
    45002: (REJECT_MESSAGE, None, "the message is too large"),
    40008: (REJECT_MESSAGE, None, "invalid message type"),
    301019: (REJECT_MESSAGE, None, "the image's md5 does not match its bytes"),
    93000: (DISABLE_TARGET, None, "the webhook key is invalid or the robot was removed"),
    93004: (DISABLE_TARGET, None, "the robot is disabled"),
    93008: (DISABLE_TARGET, None, "the robot is not in the group"),
}
MENTION_ONLY = "👆"  # the text of the follow-up that carries mentions for an image or a news card


class WeCom(Platform):
    name = "wecom"
    text_bytes = 2048
    markdown_bytes = 4096
    image_max_bytes = 2 * 1024 * 1024
    news_title_bytes = 128
    news_description_bytes = 512
    rate_windows = ((20, 60.0),)

    @classmethod
    def build_requests(cls, message: Message, target: Target, timestamp: float) -> list[HttpRequest]:
        m = message.mentions
        if message.kind in ("text", "markdown"):
            text = require_text(message, "WeCom")
            if message.kind == "markdown" and not (m.all or m.mobiles):
                return cls._markdown(target, text, m)
            # WeCom markdown cannot @all or @ by mobile: the message goes as text with the mention lists
            plain = text if message.kind == "text" else markdown_to_plain(text)
            return cls._text(target, plain, m)
        if message.kind == "image":
            if message.image_bytes:   # fetched and fitted by the tick (jobs/images.py); its caption follows as text
                caption = image_caption(message)
                follow = cls._text(target, caption, m) if caption else cls._mention_follow_up(target, message)
                return [cls._post(target, cls._image(message.image_bytes))] + follow
            url = require_image_url(message, "WeCom", "")
            article = {"title": truncate(image_caption(message) or "图片", cls.news_title_bytes, utf8_len),
                       "url": url, "picurl": url}
            return [cls._post(target, {"msgtype": "news", "news": {"articles": [article]}})] \
                + cls._mention_follow_up(target, message)
        card = require_card(message)
        if not card.url:  # a news article must link somewhere: without a url it is a plain text message
            text = "\n".join(x for x in (card.title, card.description) if x)
            return cls._text(target, text or MENTION_ONLY, m)
        article = {"title": truncate(card.title or card.url, cls.news_title_bytes, utf8_len), "url": card.url}
        if card.description:
            article["description"] = truncate(card.description, cls.news_description_bytes, utf8_len)
        if card.picture_url:
            article["picurl"] = card.picture_url
        return [cls._post(target, {"msgtype": "news", "news": {"articles": [article]}})] \
            + cls._mention_follow_up(target, message)

    @classmethod
    def _post(cls, target: Target, body: dict) -> HttpRequest:
        return HttpRequest("POST", target.webhook, body)

    @classmethod
    def _text_body(cls, content: str, m: Mentions) -> dict:
        # a text message shows its mentioned_list by itself: the template's slot stays empty
        text: dict = {"content": place_mentions(content, "") or MENTION_ONLY}
        mentioned = (["@all"] if m.all else []) + list(m.user_ids)
        if mentioned:
            text["mentioned_list"] = mentioned
        if m.mobiles:
            text["mentioned_mobile_list"] = list(m.mobiles)
        return {"msgtype": "text", "text": text}

    @classmethod
    def _text(cls, target: Target, text: str, m: Mentions) -> list[HttpRequest]:
        parts = split_text(text, lambda s, i: utf8_len(s) <= cls.text_bytes, "WeCom text")
        return [cls._post(target, cls._text_body(p, m if i == 0 else NO_MENTIONS)) for i, p in enumerate(parts)]

    @classmethod
    def _markdown(cls, target: Target, text: str, m: Mentions) -> list[HttpRequest]:
        tags = " ".join(f"<@{uid}>" for uid in m.user_ids)

        def content(part: str, index: int) -> str:
            return place_mentions(part, f"{tags}\n" if tags and index == 0 else "")

        parts = split_text(text, lambda s, i: utf8_len(content(s, i)) <= cls.markdown_bytes, "WeCom markdown")
        return [cls._post(target, {"msgtype": "markdown", "markdown": {"content": content(p, i)}})
                for i, p in enumerate(parts)]

    @classmethod
    def _image(cls, data: bytes) -> dict:
        if len(data) > cls.image_max_bytes:
            raise MessageRejected(f"the image is {len(data)} bytes; WeCom accepts at most {cls.image_max_bytes} "
                                  f"(2 MB): make it smaller")
        if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
            raise MessageRejected("WeCom accepts only JPG or PNG images")
        return {"msgtype": "image", "image": {"base64": base64.b64encode(data).decode("ascii"),
                                              "md5": hashlib.md5(data).hexdigest()}}

    @classmethod
    def _mention_follow_up(cls, target: Target, message: Message) -> list[HttpRequest]:
        """Images and news cards cannot @ anyone: a short text right after them carries the mentions."""
        if not message.mentions:
            return []
        return [cls._post(target, cls._text_body(MENTION_ONLY, message.mentions))]

    @classmethod
    def classify(cls, status_code: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        return classify_coded(status_code, headers, body, CODES, ("errcode",), ("errmsg",))
