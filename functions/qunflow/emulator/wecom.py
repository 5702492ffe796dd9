"""WeCom (企业微信) group robot: POST /cgi-bin/webhook/send?key=KEY.

HTTP 200 always; the verdict is `errcode`. Limits are UTF-8 bytes.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re

from .base import Context, Message, Outcome, Request, json_reply, nonempty_str, str_list, utf8len
from .images import describe, sniff

PATH = "/cgi-bin/webhook/send"
TEXT_MAX = 2048
MARKDOWN_MAX = 4096
IMAGE_MAX = 2 * 1024 * 1024
NEWS_TITLE_MAX = 128
NEWS_DESC_MAX = 512
NEWS_ARTICLES = (1, 8)
MENTION_MD = re.compile(r"<@([^<>\s]+)>")
MOBILE = re.compile(r"^\+?\d{5,20}$")
REMOVAL = (93000, 93004, 93008)
HINT = ", hint: [qunflow emulator]"


def err(code: int, msg: str) -> Outcome:
    return Outcome.reject(json_reply(200, {"errcode": code, "errmsg": msg + HINT}), code)


class WeCom:
    name = "wecom"
    label = "WeCom"
    RATE_RULES = ((20, 60.0),)
    PENALTY = 0.0

    def match(self, path: str) -> dict | None:
        return {} if path == PATH else None

    def url(self, base: str, bot) -> str:
        return f"{base}{PATH}?key={bot.token}"

    def handle(self, req: Request, route: dict, ctx: Context) -> Outcome:
        key = req.query.get("key", "")
        bot = ctx.bot(self.name, key) if key else None
        if bot is None:
            return err(93000, "invalid webhook url")
        if bot.dead:
            code = bot.dead if bot.dead in REMOVAL else 93000
            return err(code, {93000: "invalid webhook url", 93004: "robot is disabled", 93008: "robot not in the chat"}[code])
        data, problem = req.json()
        if problem:
            return err(40058, f"invalid parameter, Warning: wrong json format. {problem}")
        if not isinstance(data, dict):
            return err(40058, "invalid parameter, Warning: wrong json format.")
        msgtype = data.get("msgtype")
        check = getattr(self, f"_{msgtype}", None) if isinstance(msgtype, str) else None
        if check is None:
            return err(40008, f"invalid message type {msgtype!r}")
        body = data.get(msgtype)
        if not isinstance(body, dict):
            return err(40058, f"invalid parameter: `{msgtype}` must be an object")
        result = check(body)
        if isinstance(result, Outcome):
            return result
        text, mentions, warnings = result
        wait = ctx.limiter.retry_after(bot.token, req.now)
        if wait > 0:
            return err(45009, "api freq out of limit")
        extra = {}
        if msgtype == "image":  # record the image's fingerprint and a thumbnail, not megabytes of base64
            extra = {"image": describe(base64.b64decode(body["base64"]))}
            data = {**data, "image": {**body, "base64": f"<{len(body['base64'])} base64 characters>"}}
        reply = json_reply(200, {"errcode": 0, "errmsg": "ok"})
        return Outcome(reply, message=Message(bot, msgtype, text, mentions, data, warnings, extra=extra),
                       limit_key=bot.token)

    # ---- one checker per msgtype: (text, mentions, warnings) or an Outcome

    def _text(self, body: dict):
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            return err(40058, "invalid parameter: text.content must be a string")
        if not content or not content.strip():
            return err(44004, "empty content")
        if utf8len(content) > TEXT_MAX:
            return err(45002, f"content size exceed limit: {utf8len(content)} bytes > {TEXT_MAX}")
        mentions, warnings = [], []
        for field_name in ("mentioned_list", "mentioned_mobile_list"):
            value = body.get(field_name, [])
            if not str_list(value):
                return err(40058, f"invalid parameter: text.{field_name} must be a list of strings")
            for item in value:
                if item == "@all":
                    mentions.append("all")
                elif field_name == "mentioned_mobile_list" and not MOBILE.match(item):
                    warnings.append(f"{item!r} is not a mobile number; nobody is mentioned")
                else:
                    mentions.append(item)
        if MENTION_MD.search(content):
            warnings.append("<@userid> only mentions in markdown; in text it shows as typed (use mentioned_list)")
        return content, _unique(mentions), warnings

    def _markdown(self, body: dict, kind: str = "markdown"):
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            return err(40058, f"invalid parameter: {kind}.content must be a string")
        if not content or not content.strip():
            return err(44004, "empty content")
        if utf8len(content) > MARKDOWN_MAX:
            return err(45002, f"content size exceed limit: {utf8len(content)} bytes > {MARKDOWN_MAX}")
        warnings = []
        if "mentioned_list" in body or "mentioned_mobile_list" in body:
            warnings.append(f"mentioned_list/mentioned_mobile_list are ignored in {kind}")
        if kind == "markdown_v2":
            if MENTION_MD.search(content):
                warnings.append("markdown_v2 cannot @mention: <@userid> shows as text")
            return content, [], warnings
        mentions = ["all" if m == "@all" else m for m in MENTION_MD.findall(content)]
        return content, _unique(mentions), warnings

    def _markdown_v2(self, body: dict):
        return self._markdown(body, "markdown_v2")

    def _image(self, body: dict):
        b64, md5 = body.get("base64"), body.get("md5")
        if not nonempty_str(b64) or not nonempty_str(md5):
            return err(40058, "invalid parameter: image needs base64 and md5")
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            return err(40058, "invalid parameter: image.base64 is not base64")
        if len(raw) > IMAGE_MAX:
            return err(45002, f"image size exceed limit: {len(raw)} bytes > {IMAGE_MAX}")
        if hashlib.md5(raw).hexdigest() != md5.lower():   # the robot's answer (its errcode 301019)
            return err(301019, "media md5 not match")
        fmt = sniff(raw)
        if fmt not in ("jpg", "png"):
            return err(40058, "invalid parameter: image must be jpg or png")
        return f"[image {fmt}, {len(raw)} bytes]", [], []

    def _news(self, body: dict):
        articles = body.get("articles")
        if not isinstance(articles, list) or not NEWS_ARTICLES[0] <= len(articles) <= NEWS_ARTICLES[1]:
            return err(40058, "invalid parameter: news.articles must hold 1 to 8 articles")
        lines = []
        for i, art in enumerate(articles):
            if not isinstance(art, dict):
                return err(40058, f"invalid parameter: articles[{i}] must be an object")
            title, desc, url = art.get("title"), art.get("description", ""), art.get("url")
            if not nonempty_str(title) or not nonempty_str(url):
                return err(40058, f"invalid parameter: articles[{i}] needs title and url")
            if not isinstance(desc, str) or not isinstance(art.get("picurl", ""), str):
                return err(40058, f"invalid parameter: articles[{i}] description/picurl must be strings")
            if utf8len(title) > NEWS_TITLE_MAX:
                return err(45002, f"articles[{i}].title is {utf8len(title)} bytes > {NEWS_TITLE_MAX}")
            if utf8len(desc) > NEWS_DESC_MAX:
                return err(45002, f"articles[{i}].description is {utf8len(desc)} bytes > {NEWS_DESC_MAX}")
            lines.append("\n".join(x for x in (title, desc, url) if x))
        return "\n\n".join(lines), [], []

    def _media(self, body: dict, kind: str):
        if not nonempty_str(body.get("media_id")):
            return err(40058, f"invalid parameter: {kind}.media_id is required (from upload_media)")
        return f"[{kind}]", [], []

    def _file(self, body: dict):
        return self._media(body, "file")

    def _voice(self, body: dict):
        return self._media(body, "voice")

    def _template_card(self, body: dict):
        card_type = body.get("card_type")
        if card_type not in ("text_notice", "news_notice"):
            return err(40058, "invalid parameter: template_card.card_type must be text_notice or news_notice")
        action = body.get("card_action")
        if not isinstance(action, dict) or action.get("type") not in (0, 1, 2):
            return err(40058, "invalid parameter: template_card.card_action.type is required")
        main = body.get("main_title") or {}
        parts = [main.get("title"), main.get("desc"), body.get("sub_title_text")]
        parts = [p for p in parts if isinstance(p, str) and p]
        if not parts:
            return err(40058, "invalid parameter: template_card needs main_title.title or sub_title_text")
        return "\n".join(parts), [], []


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
