"""Slack incoming webhook: POST /services/T/B/X.

Answers are plain text: 200 "ok", or an HTTP error status with the error
name as the body (400 invalid_payload / no_text / invalid_blocks, 404
no_service, 410 channel_is_archived, 429 rate_limited + Retry-After).
"""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

from . import cards
from .base import Context, Message, Outcome, Request, nonempty_str, text_reply
from .images import by_url
from .ratelimit import whole_seconds

PREFIX = "/services/"
BLOCKS_MAX = 50
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
HEADER_MAX = 150
TEXT_TRUNCATE = 40000
USER = re.compile(r"<@([A-Za-z0-9._-]+)(?:\|[^>]*)?>")
SPECIAL = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")
BLOCK_TYPES = {"section", "header", "divider", "context", "image", "actions", "rich_text", "input", "file", "video"}
DEAD = {410: "channel_is_archived", 403: "invalid_token", 404: "no_service"}


def err(status: int, name: str, headers: dict | None = None) -> Outcome:
    return Outcome.reject(text_reply(status, name, headers), name)


class Slack:
    name = "slack"
    label = "Slack"
    RATE_RULES = ((3, 3.0),)  # ~1 per second with a burst of 3
    PENALTY = 0.0

    def match(self, path: str) -> dict | None:
        if not path.startswith(PREFIX):
            return None
        parts = path[len(PREFIX):].split("/")
        return {"token": "/".join(parts)} if len(parts) == 3 and all(parts) else None

    def url(self, base: str, bot) -> str:
        return f"{base}{PREFIX}{bot.token}"

    def handle(self, req: Request, route: dict, ctx: Context) -> Outcome:
        bot = ctx.bot(self.name, route["token"])
        if bot is None:
            return err(404, "no_service")
        if bot.dead:
            status = bot.dead if bot.dead in DEAD else 410
            return err(status, DEAD[status])
        data = self._parse(req)
        if not isinstance(data, dict):
            return err(400, "invalid_payload")
        text, blocks, attachments = data.get("text"), data.get("blocks"), data.get("attachments")
        if text is not None and not isinstance(text, str):
            return err(400, "invalid_payload")
        if blocks is not None:
            if not isinstance(blocks, list):
                return err(400, "invalid_blocks_format")
            if len(blocks) > BLOCKS_MAX or any(self._block_problem(b) for b in blocks):
                return err(400, "invalid_blocks")
        if attachments is not None and not (isinstance(attachments, list) and all(isinstance(a, dict) for a in attachments)):
            return err(400, "invalid_attachments")
        if not nonempty_str(text) and not blocks and not attachments:
            return err(400, "no_text")
        warnings = []
        if text and len(text) > TEXT_TRUNCATE:
            warnings.append(f"text of {len(text)} characters truncated to {TEXT_TRUNCATE}")
            text = text[:TEXT_TRUNCATE]
        if blocks and not nonempty_str(text):
            warnings.append("blocks without a top-level text: notifications show no preview")
        seen = "\n".join(_block_texts(blocks)) if blocks else (text or "")
        if attachments:
            seen = "\n".join([seen] + [str(a.get("text") or a.get("fallback") or "") for a in attachments]).strip()
        mentions, not_ids = [], []
        for source in filter(None, [text, seen]):
            for uid in USER.findall(source):
                (mentions if re.fullmatch(r"[UW][A-Z0-9]+", uid) else not_ids).append(uid)
            mentions += ["here" if s == "here" else "all" for s in SPECIAL.findall(source)]
        warnings += [f"<@{uid}> is not a user id (U…/W…): shows as text, nobody is notified"
                     for uid in dict.fromkeys(not_ids)]
        if re.search(r"(?<![<\w])@(channel|here|everyone)\b", seen):
            warnings.append("plain @channel/@here does not notify; write <!channel> or <!here>")
        wait = ctx.limiter.retry_after(bot.token, req.now)
        if wait > 0:
            return err(429, "rate_limited", {"Retry-After": str(whole_seconds(wait))})
        extra = {}
        pictures = [b.get("image_url") for b in blocks or [] if b.get("type") == "image" and b.get("image_url")]
        if pictures:   # Slack fetches an image block's picture and refuses the message when it cannot
            info, why = by_url(pictures[0])
            if info is None:
                return err(400, "invalid_blocks")
            warnings += [why] if why else []
            extra = {"image": info}
        msgtype = "blocks" if blocks else ("attachments" if attachments and not text else "text")
        message = Message(bot, msgtype, seen, list(dict.fromkeys(mentions)), data, warnings, extra=extra)
        return Outcome(text_reply(200, "ok"), message=message, limit_key=bot.token)

    def _parse(self, req: Request):
        ctype = req.headers.get("content-type", "").lower()
        try:
            raw = req.body.decode("utf-8")
            if ctype.startswith("application/x-www-form-urlencoded"):
                raw = parse_qs(raw).get("payload", [""])[0]
            return json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            return None

    def _block_problem(self, block) -> str | None:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str) or block["type"] not in BLOCK_TYPES:
            return "unknown block type"
        if len(str(block.get("block_id", ""))) > 255:
            return "block_id too long"
        kind = block["type"]
        if kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and fields is None:
                return "section needs text or fields"
            if text is not None and _text_problem(text, SECTION_TEXT_MAX):
                return "section text"
            if fields is not None and (not isinstance(fields, list) or not 0 < len(fields) <= FIELDS_MAX
                                       or any(_text_problem(f, FIELD_TEXT_MAX) for f in fields)):
                return "section fields"
        elif kind == "header":
            text = block.get("text")
            if _text_problem(text, HEADER_MAX) or text.get("type") != "plain_text":
                return "header text"
        elif kind == "context":
            els = block.get("elements")
            if not isinstance(els, list) or not 0 < len(els) <= 10:
                return "context elements"
        elif kind == "image":
            if not nonempty_str(block.get("image_url")) and not block.get("slack_file"):
                return "image_url"
            if not nonempty_str(block.get("alt_text")):
                return "alt_text"
        elif kind == "actions":
            els = block.get("elements")
            if not isinstance(els, list) or not 0 < len(els) <= 25:
                return "actions elements"
        elif kind == "rich_text" and not isinstance(block.get("elements"), list):
            return "rich_text elements"
        return cards.slack_block_problem(block)        # an accessory and buttons, checked as Slack does


def _text_problem(obj, limit: int) -> bool:
    return not (isinstance(obj, dict) and obj.get("type") in ("plain_text", "mrkdwn")
                and isinstance(obj.get("text"), str) and 0 < len(obj["text"]) <= limit)


def _block_texts(blocks: list):
    for block in blocks:
        kind = block.get("type")
        if kind in ("section", "header"):
            if block.get("text"):
                yield block["text"]["text"]
            for f in block.get("fields") or []:
                yield f["text"]
        elif kind == "context":
            for el in block["elements"]:
                if isinstance(el, dict) and isinstance(el.get("text"), str):
                    yield el["text"]
        elif kind == "divider":
            yield "———"
        elif kind == "image":
            yield f"[image: {block.get('alt_text')}]"
