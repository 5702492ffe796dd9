"""Telegram Bot API: POST /bot{token}/sendMessage and /bot{token}/sendPhoto (a photo by URL, caption ≤ 1024).

Every answer is `{"ok": ...}`; on failure `error_code` equals the HTTP
status. Text is 1-4096 characters after entity parsing; with parse_mode
HTML / MarkdownV2 badly formed markup is refused ("can't parse entities"),
which is how a sender that forgets to escape member text is caught.
"""
from __future__ import annotations

import html
import re
from urllib.parse import parse_qs

from . import cards
from .base import TELEGRAM_TOKEN, Context, Message, Outcome, Request, json_reply
from .images import NOT_IMAGE, by_url
from .ratelimit import whole_seconds

ROUTE = re.compile(r"^/bot([^/]+)/([A-Za-z]+)$")
TEXT_MAX = 4096
CAPTION_MAX = 1024                 # sendPhoto's caption, after entities parsing
PHOTO_URL_MAX = 5 * 1024 * 1024    # a photo Telegram fetches by URL
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
             "blockquote", "tg-emoji"}
HTML_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>")
HTML_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")
MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
USER_LINK = re.compile(r"^tg://user\?id=(\d+)$")
USERNAME = re.compile(r"(?<![\w@])@([A-Za-z][A-Za-z0-9_]{4,31})\b")


class EntityError(Exception):
    pass


def fail(status: int, description: str, parameters: dict | None = None) -> Outcome:
    body = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Outcome.reject(json_reply(status, body), status)


def _offset(text: str, i: int) -> int:
    return len(text[:i].encode("utf-8"))


def parse_html(text: str) -> tuple[str, list[str]]:
    """(visible text, user ids linked with tg://user?id=) or EntityError."""
    out, stack, links, i = [], [], [], 0
    while i < len(text):
        c = text[i]
        if c == "<":
            m = HTML_TOKEN.match(text, i)
            if not m or m.group(2).lower() not in HTML_TAGS:
                name = m.group(2) if m else text[i + 1:i + 2]
                raise EntityError(f'Unsupported start tag "{name}" at byte offset {_offset(text, i)}')
            closing, tag, attrs = m.group(1), m.group(2).lower(), dict(
                (k.lower(), (v or "").strip("\"'")) for k, v in HTML_ATTR.findall(m.group(3)))
            if closing:
                if not stack or stack[-1] != tag:
                    expected = f'"</{stack[-1]}>"' if stack else "nothing"
                    raise EntityError(f'Unmatched end tag at byte offset {_offset(text, i)}, expected {expected}, found "</{tag}>"')
                stack.pop()
            else:
                if tag == "a":
                    href = html.unescape(attrs.get("href", ""))
                    user = USER_LINK.match(href)
                    if user:
                        links.append(user.group(1))
                if tag == "span" and attrs.get("class") != "tg-spoiler":
                    raise EntityError(f'Tag "span" must have class "tg-spoiler" at byte offset {_offset(text, i)}')
                stack.append(tag)
            i = m.end()
        elif c == "&":
            m = re.match(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);", text[i:])
            if m and not m.group(1).startswith("#") and m.group(1) not in ("lt", "gt", "amp", "quot"):
                raise EntityError(f'Unsupported HTML entity "&{m.group(1)};" at byte offset {_offset(text, i)}')
            out.append(html.unescape(m.group(0)) if m else "&")
            i += len(m.group(0)) if m else 1
        else:
            out.append(c)
            i += 1
    if stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out), links


def parse_markdown_v2(text: str) -> tuple[str, list[str]]:
    out, stack, links, i, n = [], [], [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 < n and 0 < ord(text[i + 1]) < 127:
                out.append(text[i + 1])
                i += 2
                continue
            raise EntityError(f"Character '\\' is reserved and must be escaped with the preceding '\\'")
        if c == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = _find_unescaped(text, fence, i + len(fence))
            if end < 0:
                kind = "Pre" if fence == "```" else "Code"
                raise EntityError(f"Can't find end of {kind} entity at byte offset {_offset(text, i)}")
            body = text[i + len(fence):end]
            if fence == "```" and "\n" in body:
                body = body.split("\n", 1)[1]  # the first line names the language
            out.append(re.sub(r"\\(.)", r"\1", body))
            i = end + len(fence)
            continue
        mark = "__" if text.startswith("__", i) else "||" if text.startswith("||", i) else c
        if mark in ("*", "_", "__", "~", "||"):
            if stack and stack[-1][0] == mark:
                stack.pop()
            elif any(s[0] == mark for s in stack):
                raise EntityError(f"Can't find end of the entity starting at byte offset {_offset(text, stack[-1][1])}")
            else:
                stack.append((mark, i))
            i += len(mark)
            continue
        if c == "[":
            stack.append(("[", i))
            i += 1
            continue
        if c == "]" and stack and stack[-1][0] == "[":
            if not text.startswith("(", i + 1):
                raise EntityError(f"Character ']' is reserved and must be escaped with the preceding '\\'")
            end = _find_unescaped(text, ")", i + 2)
            if end < 0:
                raise EntityError(f"Can't find end of a URL at byte offset {_offset(text, i + 2)}")
            user = USER_LINK.match(text[i + 2:end].replace("\\", ""))
            if user:
                links.append(user.group(1))
            stack.pop()
            i = end + 1
            continue
        if c == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # block quotation
            continue
        if c in MDV2_RESERVED:
            raise EntityError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        out.append(c)
        i += 1
    if stack:
        raise EntityError(f"Can't find end of the entity starting at byte offset {_offset(text, stack[-1][1])}")
    return "".join(out), links


def parse_markdown_legacy(text: str) -> tuple[str, list[str]]:
    out, links, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c in "*_`":
            fence = "```" if text.startswith("```", i) else c
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise EntityError(f"Can't find end of the entity starting at byte offset {_offset(text, i)}")
            out.append(text[i + len(fence):end])
            i = end + len(fence)
        elif c == "[":
            m = re.match(r"\[([^\]]*)\]\(([^)]*)\)", text[i:])
            if not m:
                raise EntityError(f"Can't find end of the entity starting at byte offset {_offset(text, i)}")
            user = USER_LINK.match(m.group(2))
            if user:
                links.append(user.group(1))
            out.append(m.group(1))
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out), links


def _find_unescaped(text: str, token: str, start: int) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(token, i):
            return i
        i += 1
    return -1


PARSERS = {"html": parse_html, "markdownv2": parse_markdown_v2, "markdown": parse_markdown_legacy}


class Telegram:
    name = "telegram"
    label = "Telegram"
    RATE_RULES = ((20, 60.0),)  # per chat
    PENALTY = 0.0

    def match(self, path: str) -> dict | None:
        m = ROUTE.match(path)
        return {"token": m.group(1), "method": m.group(2)} if m else None

    def url(self, base: str, bot) -> str:
        return f"{base}/bot{bot.token}/sendMessage"

    def handle(self, req: Request, route: dict, ctx: Context) -> Outcome:
        token = route["token"]
        if not TELEGRAM_TOKEN.match(token):
            return fail(404, "Not Found")
        bot = ctx.bot(self.name, token)
        if bot is None:
            return fail(401, "Unauthorized")
        method = route["method"].lower()
        if method not in ("sendmessage", "sendphoto"):
            return fail(404, "Not Found: method not found")
        params = self._params(req)
        if params is None:
            return fail(400, "Bad Request: can't parse JSON body")
        chat = params.get("chat_id")
        if chat is None or chat == "":
            return fail(400, "Bad Request: chat_id is empty")
        chat_id = self._chat_id(chat)
        if chat_id is None:
            return fail(400, "Bad Request: chat not found")
        if bot.dead or str(chat_id) in bot.dead_chats:
            return fail(403, "Forbidden: bot was kicked from the group chat")
        extras = cards.telegram_extras_problem(params)     # link_preview_options, reply_markup
        if extras:
            return fail(400, extras)
        if str(chat_id) in bot.migrated_chats:
            return fail(400, "Bad Request: group chat was upgraded to a supergroup chat",
                        {"migrate_to_chat_id": bot.migrated_chats[str(chat_id)]})
        photo = self._photo(params) if method == "sendphoto" else None
        if isinstance(photo, Outcome):
            return photo
        field_name, limit = ("caption", CAPTION_MAX) if photo is not None else ("text", TEXT_MAX)
        text = params.get(field_name)
        if photo is None and (not isinstance(text, str) or not text.strip()):
            return fail(400, "Bad Request: message text is empty")
        if photo is not None and text is not None and not isinstance(text, str):
            return fail(400, "Bad Request: caption must be a string")
        text = text or ""
        mode = params.get("parse_mode")
        if mode not in (None, ""):
            if not isinstance(mode, str) or mode.lower() not in PARSERS:
                return fail(400, "Bad Request: unsupported parse_mode")
            try:
                seen, linked = PARSERS[mode.lower()](text)
            except EntityError as exc:
                return fail(400, f"Bad Request: can't parse entities: {exc}")
        else:
            seen, linked = text, []
        if photo is None and not seen.strip():
            return fail(400, "Bad Request: message text is empty")
        if len(seen) > limit:
            return fail(400, "Bad Request: message caption is too long" if photo is not None
                        else "Bad Request: message is too long")
        warnings = list(photo.pop("warnings", [])) if photo is not None else []
        if re.search(r"(?<![\w@])@(all|everyone|channel)\b", seen):
            warnings.append("Telegram has no @all: '@all' is plain text, nobody is notified")
        mentions = list(dict.fromkeys(linked + USERNAME.findall(seen)))
        key = (bot.token, str(chat_id))
        wait = ctx.limiter.retry_after(key, req.now)
        if wait > 0:
            n = whole_seconds(wait)
            return fail(429, f"Too Many Requests: retry after {n}", {"retry_after": n})
        result = {
            "message_id": ctx.seq,
            "from": {"id": int(token.split(":")[0]), "is_bot": True, "first_name": bot.name or "qunflow bot"},
            "chat": {"id": chat_id, "type": "supergroup" if str(chat_id).startswith("-100") else "group",
                     "title": bot.name or str(chat_id)},
            "date": int(req.now),
        }
        extra: dict = {"chat_id": chat_id}
        if photo is not None:
            result["photo"] = [{"file_id": f"emulated-{ctx.seq}", "width": photo.get("width", 0),
                                "height": photo.get("height", 0)}]
            if seen:
                result["caption"] = seen
            extra["image"] = photo
            msgtype = "photo"
        else:
            result["text"] = seen
            msgtype = mode.lower() if mode else "text"
        message = Message(bot, msgtype, seen, mentions, params, warnings, group_id=str(chat_id), extra=extra)
        return Outcome(json_reply(200, {"ok": True, "result": result}), message=message, limit_key=key)

    def _photo(self, params: dict) -> dict | Outcome:
        """sendPhoto's photo, as Telegram takes it here: an HTTP URL that it fetches (a file_id it would know)."""
        photo = params.get("photo")
        if not isinstance(photo, str) or not photo.strip():
            return fail(400, "Bad Request: there is no photo in the request")
        if not photo.lower().startswith(("http://", "https://")):
            return fail(400, "Bad Request: wrong file identifier/HTTP URL specified")
        info, why = by_url(photo, ("jpg", "png", "webp", "gif"), PHOTO_URL_MAX)
        if info is None:
            return fail(400, "Bad Request: wrong type of the web page content" if why == NOT_IMAGE
                        else "Bad Request: failed to get HTTP URL content")
        return {**info, "warnings": [why]} if why else info

    def _params(self, req: Request) -> dict | None:
        params: dict = {k: v for k, v in req.query.items()}
        ctype = req.headers.get("content-type", "").lower()
        if not req.body:
            return params
        if ctype.startswith("application/x-www-form-urlencoded"):
            try:
                form = parse_qs(req.body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                return None
            params.update({k: v[0] for k, v in form.items()})
            return params
        data, problem = req.json()
        if problem or not isinstance(data, dict):
            return None
        params.update(data)
        return params

    def _chat_id(self, chat):
        if isinstance(chat, bool):
            return None
        if isinstance(chat, int):
            return chat
        if isinstance(chat, str):
            if re.fullmatch(r"-?\d+", chat):
                return int(chat)
            if re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{4,31}", chat):
                return chat
        return None
