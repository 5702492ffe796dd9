"""Discord webhook: POST /api/webhooks/{id}/{token} (also /api/v10/webhooks/...).

204 No Content, or 200 with the message JSON when `?wait=true`. Errors are
JSON `{message, code[, errors]}`; every reply for a webhook carries the
X-RateLimit-* headers of its bucket (5 requests per 2 seconds here).
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone

from . import cards
from .base import Context, Message, Outcome, Request, json_reply
from .images import shown
from .ratelimit import whole_seconds

ROUTE = re.compile(r"^/api(?:/v\d+)?/webhooks/([^/]+)/([^/]+)$")
CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELDS_MAX = 25
USERNAME_MAX = 80
USER = re.compile(r"<@!?(\d+)>")
ROLE = re.compile(r"<@&(\d+)>")
EVERYONE = re.compile(r"@(everyone|here)\b")
DISCORD_EPOCH_MS = 1420070400000


def err(status: int, message: str, code: int, errors: dict | None = None) -> Outcome:
    body = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return Outcome.reject(json_reply(status, body), code)


def form_error(field_name: str, code: str, message: str) -> Outcome:
    errors = {field_name: {"_errors": [{"code": code, "message": message}]}}
    return err(400, "Invalid Form Body", 50035, errors)


class Discord:
    name = "discord"
    label = "Discord"
    RATE_RULES = ((5, 2.0),)
    PENALTY = 0.0

    def match(self, path: str) -> dict | None:
        m = ROUTE.match(path)
        return {"id": m.group(1), "token": m.group(2)} if m else None

    def url(self, base: str, bot) -> str:
        return f"{base}/api/webhooks/{bot.token}"

    def handle(self, req: Request, route: dict, ctx: Context) -> Outcome:
        hook_id = route["id"]
        if not hook_id.isdigit():
            return form_error("webhook_id", "NUMBER_TYPE_COERCE", f'Value "{hook_id[:20]}" is not snowflake.')
        token = f"{hook_id}/{route['token']}"
        same_id = [b for b in ctx.bots(self.name) if b.token.split("/")[0] == hook_id]
        if same_id and all(b.token != token for b in same_id):
            return err(401, "Invalid Webhook Token", 50027)
        bot = ctx.bot(self.name, token)
        if bot is None or bot.dead:
            return err(404, "Unknown Webhook", 10015)
        data, problem = req.json()
        if problem:
            return err(400, "The request body contains invalid JSON.", 50109)
        if not isinstance(data, dict):
            return err(400, "Invalid Form Body", 50035)
        result = self._validate(data)
        if isinstance(result, Outcome):
            return result
        text, mentions, warnings = result
        wait = ctx.limiter.retry_after(hook_id, req.now)
        if wait > 0:
            body = {"message": "You are being rate limited.", "retry_after": round(wait, 3), "global": False}
            reply = json_reply(429, body, {"Retry-After": str(whole_seconds(wait)), "X-RateLimit-Scope": "user"})
            return Outcome.reject(reply, 429)
        seen = text
        pictures = [e["image"].get("url") for e in data.get("embeds") or [] if isinstance(e.get("image"), dict)]
        extra = shown(pictures[0], warnings, "the embed's image shows as a broken picture") if pictures else {}
        message = Message(bot, "embeds" if data.get("embeds") and not data.get("content") else "content",
                          seen, mentions, data, warnings, author=data.get("username"), extra=extra)
        if req.query.get("wait", "").lower() == "true":
            reply = json_reply(200, self._message_json(bot, data, mentions, req.now, ctx.seq))
        else:
            reply = json_reply(204, None)
            reply.body = b""
        return Outcome(reply, message=message, limit_key=hook_id)

    def decorate(self, outcome: Outcome, route: dict, ctx: Context, now: float) -> None:
        """Every reply for a well-formed webhook id carries its bucket's headers (after any consumption)."""
        hook_id = route["id"]
        if not hook_id.isdigit():
            return
        limit, remaining, reset_after = ctx.limiter.state(hook_id, now)
        outcome.reply.headers.update({
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Reset": f"{now + reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(f"webhook:{hook_id}".encode()).hexdigest()[:32],
        })

    def _validate(self, data: dict):
        content, embeds, username = data.get("content"), data.get("embeds"), data.get("username")
        if content is not None:
            if not isinstance(content, str):
                return form_error("content", "BASE_TYPE_STRING", "Must be a string.")
            if len(content) > CONTENT_MAX:
                return form_error("content", "BASE_TYPE_MAX_LENGTH", f"Must be {CONTENT_MAX} or fewer in length.")
        if username is not None and (not isinstance(username, str) or not 1 <= len(username) <= USERNAME_MAX):
            return form_error("username", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {USERNAME_MAX} in length.")
        embed_lines = []
        if embeds is not None:
            if not isinstance(embeds, list):
                return form_error("embeds", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
            if len(embeds) > EMBEDS_MAX:
                return form_error("embeds", "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length.")
            total = 0
            for i, embed in enumerate(embeds):
                result = _embed(embed, i)
                if isinstance(result, Outcome):
                    return result
                size, lines = result
                total += size
                embed_lines += lines
            if total > EMBED_TOTAL_MAX:
                return form_error("embeds", "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}")
        has_other = any(data.get(k) for k in ("components", "attachments", "poll", "sticker_ids"))
        if not (content or "").strip() and not embeds and not has_other:
            return err(400, "Cannot send an empty message", 50006)
        allowed = data.get("allowed_mentions")
        mentions, warnings = self._mentions(content or "", allowed)
        if isinstance(mentions, Outcome):
            return mentions
        text = "\n".join([x for x in [content or ""] + embed_lines if x])
        return text, mentions, warnings

    def _mentions(self, content: str, allowed):
        users, roles, everyone = USER.findall(content), ROLE.findall(content), EVERYONE.findall(content)
        if allowed is None:
            parse, ok_users, ok_roles = {"users", "roles", "everyone"}, [], []
        else:
            if not isinstance(allowed, dict):
                return form_error("allowed_mentions", "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"), []
            parse = allowed.get("parse", [])
            ok_users, ok_roles = allowed.get("users", []), allowed.get("roles", [])
            if not isinstance(parse, list) or not all(p in ("users", "roles", "everyone") for p in parse):
                return form_error("allowed_mentions", "ENUM_TYPE_COERCE", "parse takes users, roles, everyone"), []
            if not isinstance(ok_users, list) or not isinstance(ok_roles, list) or len(ok_users) > 100 or len(ok_roles) > 100:
                return form_error("allowed_mentions", "BASE_TYPE_MAX_LENGTH", "users/roles: lists of at most 100 ids"), []
            for kind, ids in (("users", ok_users), ("roles", ok_roles)):
                if kind in parse and ids:
                    return form_error("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                                      f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.'), []
            parse = set(parse)
        ok_users, ok_roles = {str(u) for u in ok_users}, {str(r) for r in ok_roles}
        pinged, warnings = [], []
        for uid in users:
            (pinged.append(uid) if "users" in parse or uid in ok_users
             else warnings.append(f"<@{uid}> shown but not pinged (allowed_mentions)"))
        for rid in roles:
            (pinged.append(f"role:{rid}") if "roles" in parse or rid in ok_roles
             else warnings.append(f"<@&{rid}> shown but not pinged (allowed_mentions)"))
        for who in everyone:
            (pinged.append("all" if who == "everyone" else "here") if "everyone" in parse
             else warnings.append(f"@{who} shown but not pinged (allowed_mentions)"))
        return list(dict.fromkeys(pinged)), warnings

    def _message_json(self, bot, data: dict, mentions: list, now: float, seq: int) -> dict:
        hook_id = bot.token.split("/")[0]
        snowflake = ((int(now * 1000) - DISCORD_EPOCH_MS) << 22) + (seq % (1 << 22))
        return {
            "id": str(snowflake), "type": 0, "channel_id": str(bot.group_id or hook_id),
            "content": data.get("content") or "", "embeds": data.get("embeds") or [],
            "author": {"id": hook_id, "username": data.get("username") or bot.name or "Webhook", "bot": True},
            "mentions": [{"id": m} for m in mentions if m.isdigit()],
            "mention_everyone": "all" in mentions,
            "timestamp": datetime.fromtimestamp(now, timezone.utc).isoformat(),
            "webhook_id": hook_id, "flags": 0, "tts": bool(data.get("tts")),
        }


def _embed(embed, i: int):
    if not isinstance(embed, dict):
        return form_error(f"embeds.{i}", "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
    size, lines = 0, []
    for key, limit in EMBED_LIMITS.items():
        value = embed.get(key)
        if value is not None:
            if not isinstance(value, str) or len(value) > limit:
                return form_error(f"embeds.{i}.{key}", "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
            size += len(value)
            lines.append(value)
    bad_url = cards.discord_embed_problem(embed)
    if bad_url:
        return form_error(f"embeds.{i}.{bad_url[0]}", bad_url[1], "Not a well formed URL.")
    fields = embed.get("fields") or []
    if not isinstance(fields, list) or len(fields) > FIELDS_MAX:
        return form_error(f"embeds.{i}.fields", "BASE_TYPE_MAX_LENGTH", f"Must be {FIELDS_MAX} or fewer in length.")
    for j, f in enumerate(fields):
        if not (isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("value"), str)
                and 0 < len(f["name"]) <= 256 and 0 < len(f["value"]) <= 1024):
            return form_error(f"embeds.{i}.fields.{j}", "BASE_TYPE_REQUIRED", "name (≤256) and value (≤1024) are required.")
        size += len(f["name"]) + len(f["value"])
        lines.append(f"{f['name']}: {f['value']}")
    for key, sub, limit in (("footer", "text", 2048), ("author", "name", 256)):
        part = embed.get(key)
        if part is not None:
            value = part.get(sub) if isinstance(part, dict) else None
            if not isinstance(value, str) or len(value) > limit:
                return form_error(f"embeds.{i}.{key}.{sub}", "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
            size += len(value)
    return size, lines
