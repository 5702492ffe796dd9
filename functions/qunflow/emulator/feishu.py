"""Feishu / Lark custom bot: POST /open-apis/bot/v2/hook/{token}.

HTTP 200 always; the verdict is `code`. Signed bots ("签名校验") carry
`timestamp` (seconds, within 1 hour) and `sign` in the JSON BODY; the sign is
base64(HMAC-SHA256(key=f"{ts}\\n{secret}", msg=b"")).
A signed request to a bot whose secret the emulator was not given (registered without one, or
auto-registered in lax mode) is refused as a wrong secret is: 19021.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

from . import cards
from .base import Context, Message, Outcome, Request, json_reply, nonempty_str
from .images import linked

PREFIX = "/open-apis/bot/v2/hook/"
BODY_MAX = 20 * 1024
SKEW_S = 3600
AT_TAG = re.compile(r'<at user_id="([^"<>]+)">([^<]*)</at>')
CARD_AT = re.compile(r'<at (?:id|user_id|email)=["\']?([^"\'<>\s]+)["\']?>\s*(?:[^<]*)</at>')
SIGN_FAIL = "sign match fail or timestamp is not within one hour from current time"
NO_SECRET = (SIGN_FAIL + " (the emulator was given no signing secret for this bot: register the bot with its "
             "signing secret, in the test's Bot or with POST /_emulator/bots)")
POST_TAGS = {"text", "a", "at", "img", "media", "emotion", "hr", "code_block", "md"}


def err(code: int, msg: str) -> Outcome:
    return Outcome.reject(json_reply(200, {"code": code, "data": {}, "msg": msg}), code)


def expected_sign(timestamp: str, secret: str) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode("utf-8"), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class Feishu:
    name = "feishu"
    label = "Feishu"
    RATE_RULES = ((5, 1.0), (100, 60.0))
    PENALTY = 0.0
    api = None           # the emulator's FeishuApi (server.py sets it): the image keys it issued

    def match(self, path: str) -> dict | None:
        if path.startswith(PREFIX) and "/" not in path[len(PREFIX):]:
            return {"token": path[len(PREFIX):]}
        return None

    def url(self, base: str, bot) -> str:
        return f"{base}{PREFIX}{bot.token}"

    def handle(self, req: Request, route: dict, ctx: Context) -> Outcome:
        token = route["token"]
        bot = ctx.bot(self.name, token) if token else None
        if bot is None or bot.dead:
            return err(19001, "param invalid: incoming webhook access token invalid")
        if len(req.body) > BODY_MAX:
            return err(9499, f"Bad Request: body is {len(req.body)} bytes > {BODY_MAX}")
        data, problem = req.json()
        if problem or not isinstance(data, dict):
            return err(9499, f"Bad Request: {problem or 'body must be a JSON object'}")
        if bot.secret:
            ts, sign = data.get("timestamp"), data.get("sign")
            ts = str(ts) if isinstance(ts, (int, str)) and not isinstance(ts, bool) else ""
            if (not ts.isdigit() or not isinstance(sign, str) or abs(int(ts) - req.signed_now) > SKEW_S
                    or not hmac.compare_digest(sign, expected_sign(ts, bot.secret))):
                return err(19021, SIGN_FAIL)
        elif "sign" in data or "timestamp" in data:
            return err(19021, NO_SECRET)
        msgtype = data.get("msg_type")
        check = getattr(self, f"_{msgtype}", None) if isinstance(msgtype, str) else None
        if check is None:
            return err(9499, f"Bad Request: unknown msg_type {msgtype!r}")
        result = check(data)
        if isinstance(result, Outcome):
            return result
        text, mentions, warnings = result
        if bot.keyword and bot.keyword not in text:
            return err(19024, "Key Words Not Found")
        if ctx.limiter.retry_after(bot.token, req.now) > 0:
            return err(11232, "frequency limited psm[lark.oapi.app_platform_runtime]")
        payload = {k: v for k, v in data.items() if k not in ("sign", "timestamp")}
        extra = linked(_first_link(data)) if msgtype == "post" else self._uploaded(data) if msgtype == "image" else {}
        reply = json_reply(200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"})
        return Outcome(reply, message=Message(bot, msgtype, text, mentions, payload, warnings, extra=extra),
                       limit_key=bot.token)

    def _content(self, data: dict):
        content = data.get("content")
        return content if isinstance(content, dict) else None

    # ---- one checker per msg_type: (text as seen, mentions, warnings) or an Outcome

    def _text(self, data: dict):
        content = self._content(data)
        text = content.get("text") if content else None
        if not nonempty_str(text):
            return err(9499, "Bad Request: content.text is required")
        mentions = [uid for uid, _ in AT_TAG.findall(text)]
        warnings = []
        stripped = AT_TAG.sub("", text)
        if "<at" in stripped:
            warnings.append('malformed <at> tag shows as text: write <at user_id="ou_x">Name</at>')
        seen = AT_TAG.sub(lambda m: "@" + (m.group(2) or ("所有人" if m.group(1) == "all" else m.group(1))), text)
        return seen, list(dict.fromkeys(mentions)), warnings

    def _post(self, data: dict):
        content = self._content(data)
        post = content.get("post") if content else None
        if not isinstance(post, dict) or not post:
            return err(9499, "Bad Request: content.post must map a language (zh_cn, en_us) to {title, content}")
        lang = next(iter(post.values()))
        if not isinstance(lang, dict) or not isinstance(lang.get("content"), list):
            return err(9499, "Bad Request: post.<lang>.content must be a list of paragraphs")
        lines, mentions = [], []
        if nonempty_str(lang.get("title")):
            lines.append(lang["title"])
        for para in lang["content"]:
            if not isinstance(para, list):
                return err(9499, "Bad Request: each post paragraph is a list of elements")
            line = []
            for el in para:
                if not isinstance(el, dict) or not isinstance(el.get("tag"), str) or el["tag"] not in POST_TAGS:
                    return err(9499, f"Bad Request: post element tag must be one of {sorted(POST_TAGS)}")
                tag = el["tag"]
                if tag in ("text", "md") and not isinstance(el.get("text"), str):
                    return err(9499, f"Bad Request: {tag} element needs text")
                if tag == "a" and not (isinstance(el.get("text"), str) and nonempty_str(el.get("href"))):
                    return err(9499, "Bad Request: a element needs text and href")
                if tag == "at":
                    if not nonempty_str(el.get("user_id")):
                        return err(9499, "Bad Request: at element needs user_id")
                    mentions.append(el["user_id"])
                    line.append("@" + (el.get("user_name") or ("所有人" if el["user_id"] == "all" else el["user_id"])))
                elif tag == "img":
                    if not nonempty_str(el.get("image_key")):
                        return err(9499, "Bad Request: img element needs image_key")
                    line.append("[image]")
                elif tag in ("text", "a", "md", "code_block"):
                    line.append(str(el.get("text", "")))
            lines.append("".join(line))
        text = "\n".join(lines)
        if not text.strip():
            return err(9499, "Bad Request: post is empty")
        return text, list(dict.fromkeys(mentions)), []

    def _image(self, data: dict):
        """An image_key an app of this tenant uploaded (emulator/feishu_api.py issued it); any other is refused."""
        content = self._content(data)
        if not content or not nonempty_str(content.get("image_key")):
            return err(9499, "Bad Request: content.image_key is required")
        if self.api is not None and content["image_key"] not in self.api.images:
            return err(9499, "Bad Request: image_key not found: upload the image with im/v1/images, by an app "
                             "of the bot's tenant")
        return "[image]", [], []

    def _uploaded(self, data: dict) -> dict:
        record = self.api.images.get(data["content"]["image_key"]) if self.api is not None else None
        return {"image": dict(record)} if record else {}

    def _share_chat(self, data: dict):
        content = self._content(data)
        if not content or not nonempty_str(content.get("share_chat_id")):
            return err(9499, "Bad Request: content.share_chat_id is required")
        return "[group card]", [], []

    def _interactive(self, data: dict):
        card = data.get("card")
        if not isinstance(card, dict) or not card:
            if isinstance(self._content(data), dict) and "card" not in data:
                return err(9499, "Bad Request: interactive messages put the card at the top level: {msg_type, card}")
            return err(9499, "Bad Request: card must be an object")
        texts = list(_card_texts(card))
        if not texts and card.get("type") != "template":
            return err(9499, "Bad Request: card has no content")
        problem = cards.feishu_card_problem(card)
        if problem:
            return err(9499, f"Bad Request: {problem}")
        text = "\n".join(texts)
        mentions = CARD_AT.findall(text)
        seen = CARD_AT.sub(lambda m: "@" + ("所有人" if m.group(1) == "all" else m.group(1)), text)
        return seen or "[card]", list(dict.fromkeys(mentions)), []


def _first_link(data: dict) -> str | None:
    """The href of a post's first `a` element (already checked by _post)."""
    for lang in ((data.get("content") or {}).get("post") or {}).values():
        for para in lang.get("content") or []:
            for el in para:
                if el.get("tag") == "a":
                    return el.get("href")
    return None


def _card_texts(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("content", "text") and isinstance(value, str):
                yield value
            else:
                yield from _card_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _card_texts(item)
