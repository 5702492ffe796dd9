"""Small, predictable conversions of the markdown our templates use (headings, **bold**, *italic*, `code`,
[links](url), > quotes) into what a platform renders. Not a full markdown parser: unknown syntax passes through."""
from __future__ import annotations

import html
import re

_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*([^)\s]+)[^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(\s*([^)\s]+)[^)]*\)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.M)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_CODE = re.compile(r"`([^`\n]+)`")
_QUOTE = re.compile(r"^\s{0,3}>\s?", re.M)
_FONT = re.compile(r"</?font[^>]*>", re.I)


def markdown_to_plain(md: str) -> str:
    """Readable plain text: markup removed, link targets kept in parentheses."""
    s = _FONT.sub("", md)
    s = _IMAGE.sub(lambda m: m.group(2), s)
    s = _LINK.sub(lambda m: m.group(1) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", s)
    s = _HEADING.sub(r"\1", s)
    s = _BOLD.sub(r"\2", s)
    s = _STRIKE.sub(r"\1", s)
    s = _ITALIC.sub(r"\1", s)
    s = _CODE.sub(r"\1", s)
    return _QUOTE.sub("", s)


def slack_escape(text: str) -> str:
    """Slack needs &, < and > escaped in text that is not markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_slack_mrkdwn(md: str) -> str:
    s = slack_escape(_FONT.sub("", md))
    s = _IMAGE.sub(lambda m: f"<{m.group(2)}|{m.group(1) or m.group(2)}>", s)
    s = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", s)
    s = _HEADING.sub(lambda m: f"\x00{m.group(1)}\x00", s)
    s = _BOLD.sub(lambda m: f"\x00{m.group(2)}\x00", s)
    s = _ITALIC.sub(r"_\1_", s)
    s = _STRIKE.sub(r"~\1~", s)
    s = re.sub(r"^\s{0,3}&gt;\s?", "> ", s, flags=re.M)
    return s.replace("\x00", "*")


def telegram_escape(text: str) -> str:
    return html.escape(text, quote=False)


def _attr(escaped_url: str) -> str:
    return html.escape(html.unescape(escaped_url), quote=True)


def to_telegram_html(md: str) -> str:
    """Telegram's HTML parse mode: <b>, <i>, <s>, <code>, <a href>; everything else escaped."""
    codes: list[str] = []

    def keep_code(m: re.Match) -> str:
        codes.append(m.group(1))
        return f"\x00{len(codes) - 1}\x00"

    s = _CODE.sub(keep_code, _FONT.sub("", md))
    s = telegram_escape(s)
    s = _IMAGE.sub(lambda m: f'<a href="{_attr(m.group(2))}">{m.group(1) or m.group(2)}</a>', s)
    s = _LINK.sub(lambda m: f'<a href="{_attr(m.group(2))}">{m.group(1)}</a>', s)
    s = _HEADING.sub(r"<b>\1</b>", s)
    s = _BOLD.sub(r"<b>\2</b>", s)
    s = _STRIKE.sub(r"<s>\1</s>", s)
    s = _ITALIC.sub(r"<i>\1</i>", s)
    s = re.sub(r"^\s{0,3}&gt;\s?", "", s, flags=re.M)
    return re.sub(r"\x00(\d+)\x00", lambda m: f"<code>{telegram_escape(codes[int(m.group(1))])}</code>", s)
