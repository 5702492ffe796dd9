"""DingTalk (钉钉) custom robot: POST /robot/send?access_token=T[&timestamp=&sign=]. HTTP 200; `errcode` decides."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Mapping
from urllib.parse import quote_plus

from ..message import MENTION_SLOT, NO_MENTIONS, Mentions, Message, Target, place_mentions
from .base import (CLOCK, DISABLE_TARGET, KEYWORD, REJECT_MESSAGE, RETRY, SIGNATURE, HttpRequest, MessageRejected,
                   Outcome, Platform,
                   classify_coded, image_caption, json_len, parse_json, require_card, require_image_url, require_text,
                   split_text)
from .markup import markdown_to_plain

PENALTY = 600.0  # a robot that exceeds 20 a minute is throttled for 10 minutes
CODES = {  # errcode -> (outcome, least retry wait, what it means); 0 is OK
    130101: (RETRY, PENALTY, "sending too fast: the robot is throttled for 10 minutes"),
    410100: (RETRY, PENALTY, "sending too fast: the robot is throttled"),
    400105: (REJECT_MESSAGE, None, "unsupported message type"),
    430101: (REJECT_MESSAGE, None, "blocked by content moderation"),
    430102: (REJECT_MESSAGE, None, "blocked by content moderation"),
    430103: (REJECT_MESSAGE, None, "blocked by content moderation"),
    430104: (REJECT_MESSAGE, None, "blocked by content moderation"),
    460101: (REJECT_MESSAGE, None, "the message is too large"),
    300001: (DISABLE_TARGET, None, "the access token is invalid"),
    300005: (DISABLE_TARGET, None, "the access token does not exist"),
    400101: (DISABLE_TARGET, None, "the access token is missing"),
    400102: (DISABLE_TARGET, None, "the robot is disabled"),
    400106: (DISABLE_TARGET, None, "the robot does not exist"),
    400013: (DISABLE_TARGET, None, "the group has been dissolved"),
    310000: (REJECT_MESSAGE, None, "the robot's security settings refused the message"),
}
# 310000 is four refusals in one code; only its errmsg tells them apart, so here alone the text decides:
SECURITY = (  # (errmsg pattern, outcome, cause, what it means)
    (re.compile(r"keyword", re.I), REJECT_MESSAGE, KEYWORD,
     "the robot's security keyword is not in the text"),
    (re.compile(r"invalid\s*timestamp|timestamp\s*(is\s*)?invalid", re.I), RETRY, CLOCK,
     "clock skew: DingTalk says the signature timestamp is invalid, so this computer's clock is more than an hour "
     "off; set it right (NTP)"),
    (re.compile(r"sign", re.I), DISABLE_TARGET, SIGNATURE, "the signing secret is wrong (sign not match)"),
    (re.compile(r"\bip\b|whitelist|white list", re.I), DISABLE_TARGET, "",
     "this computer's IP address is not on the robot's allow-list"),
)


def sign_dingtalk(secret: str, ts_ms: int) -> str:
    """加签: urlencode(base64(HMAC_SHA256(key=secret, msg=f"{ts}\\n{secret}"))), ts in milliseconds."""
    digest = hmac.new(secret.encode("utf-8"), f"{ts_ms}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def signed_url(webhook: str, secret: str | None, timestamp: float) -> str:
    """The webhook with &timestamp=..&sign=.. appended by string concatenation (params= would encode sign twice)."""
    if not secret:
        return webhook
    ts_ms = int(round(timestamp * 1000))
    return f"{webhook}{'&' if '?' in webhook else '?'}timestamp={ts_ms}&sign={sign_dingtalk(secret, ts_ms)}"


class DingTalk(Platform):
    name = "dingtalk"
    body_bytes = 20000
    rate_windows = ((20, 60.0),)
    penalty_seconds = PENALTY

    @classmethod
    def build_requests(cls, message: Message, target: Target, timestamp: float) -> list[HttpRequest]:
        url = signed_url(target.webhook, target.secret, timestamp)
        m = message.mentions
        if message.kind == "text":
            return cls._split(url, require_text(message, "DingTalk"), m,
                              lambda text: {"msgtype": "text", "text": {"content": text}}, "DingTalk text")
        title = cls._title(message)
        if message.kind == "markdown":
            return cls._split(url, require_text(message, "DingTalk"), m, lambda text: cls._markdown(title, text),
                              "DingTalk markdown")
        if message.kind == "image":
            image_url = require_image_url(message, "DingTalk", "robots cannot upload image bytes")
            caption = image_caption(message)
            text = f"![{caption or 'image'}]({image_url})" + (f"\n\n{caption}" if caption else "")
            return [cls._request(url, cls._markdown(title, cls._with_mentions(text, m)), m)]
        card = require_card(message)
        if card.url and card.button_text and not m:    # actionCard: the card as markdown, one button to its url
            text = "\n\n".join(x for x in (f"![]({card.picture_url})" if card.picture_url else "",
                                            f"### {card.title}" if card.title else "", card.description) if x)
            body = {"title": card.title or card.url, "text": text or card.url, "singleTitle": card.button_text,
                    "singleURL": card.url}
            return [cls._request(url, {"msgtype": "actionCard", "actionCard": body}, NO_MENTIONS)]
        if card.url and not m:
            link = {"title": card.title or card.url, "text": card.description or card.title or card.url,
                    "messageUrl": card.url}
            if card.picture_url:
                link["picUrl"] = card.picture_url
            return [cls._request(url, {"msgtype": "link", "link": link}, NO_MENTIONS)]
        # link and actionCard messages cannot @ anyone, and need a url: the card goes as markdown
        lines = [f"#### [{card.title}]({card.url})" if card.url else f"#### {card.title}"]
        if card.picture_url:
            lines.append(f"![]({card.picture_url})")
        if card.description:
            lines.append(card.description)
        if card.url and card.button_text:
            lines.append(f"[{card.button_text}]({card.url})")
        return [cls._request(url, cls._markdown(card.title or title, cls._with_mentions("\n\n".join(lines), m)), m)]

    @classmethod
    def _title(cls, message: Message) -> str:
        if message.title.strip():
            return message.title.strip()[:64]
        first = next((ln for ln in markdown_to_plain(message.text.replace(MENTION_SLOT, "")).splitlines() if ln.strip()), "")
        return first.strip()[:32] or (message.card.title if message.card else "") or "通知"

    @staticmethod
    def _markdown(title: str, text: str) -> dict:
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}

    @staticmethod
    def _with_mentions(text: str, m: Mentions) -> str:
        """DingTalk shows an @ only where the text contains @mobile / @userid; `at` makes it notify."""
        marks = " ".join(f"@{x}" for x in (*m.mobiles, *m.user_ids))
        return place_mentions(text, f"{marks}\n" if marks else "")

    @staticmethod
    def _at(m: Mentions) -> dict:
        at: dict = {"isAtAll": bool(m.all)}
        if m.mobiles:
            at["atMobiles"] = list(m.mobiles)
        if m.user_ids:
            at["atUserIds"] = list(m.user_ids)
        return at

    @classmethod
    def _request(cls, url: str, body: dict, m: Mentions) -> HttpRequest:
        if m:
            body = dict(body, at=cls._at(m))
        if json_len(body) > cls.body_bytes:
            raise MessageRejected(f"the DingTalk message body is {json_len(body)} bytes, over {cls.body_bytes}")
        return HttpRequest("POST", url, body)

    @classmethod
    def _split(cls, url: str, text: str, m: Mentions, make, what: str) -> list[HttpRequest]:
        def body(part: str, index: int) -> dict:
            mentions = m if index == 0 else NO_MENTIONS
            payload = make(cls._with_mentions(part, mentions))
            return dict(payload, at=cls._at(mentions)) if mentions else payload

        parts = split_text(text, lambda s, i: json_len(body(s, i)) <= cls.body_bytes, what)
        return [HttpRequest("POST", url, body(p, i)) for i, p in enumerate(parts)]

    @classmethod
    def classify(cls, status_code: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        outcome = classify_coded(status_code, headers, body, CODES, ("errcode",), ("errmsg",))
        if outcome.code == "310000":
            data = parse_json(body)
            errmsg = str(data.get("errmsg", "")) if isinstance(data, dict) else ""
            for pattern, kind, cause, meaning in SECURITY:
                if pattern.search(errmsg):
                    return Outcome(kind, None, "310000", f"{meaning} (code 310000): {errmsg[:200]}", cause=cause)
            # wording we do not know: refuse this message only, since a later one may pass
        return outcome
