"""Webhook keys, bot tokens and signing secrets never appear whole in a log line, a reason or an exception.

A masked value keeps its first 4 characters and ends in "…" (values of 8 characters or fewer become "…"),
enough for an operator to tell two webhooks apart and nothing an attacker can use.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import quote, quote_plus, urlsplit

ELLIPSIS = "…"
SECRET_QUERY_KEYS = {"key", "access_token", "token", "sign", "secret", "signature", "sig", "password", "apikey",
                     "api_key"}
_QUERY_SECRET = re.compile(r"(?i)(?<![\w-])(" + "|".join(sorted(SECRET_QUERY_KEYS, key=len, reverse=True))
                           + r")=([^&\s\"'<>#]+)")
_URL = re.compile(r"https?://[^\s\"'<>]+")
_TELEGRAM_BOT = re.compile(r"^bot(.+)$")


def mask_secret(value: str | None) -> str:
    """"abcd…" for a long value, "…" for a short one; an already masked value is returned unchanged."""
    if not value:
        return ""
    if value.endswith(ELLIPSIS):
        return value
    return value[:4] + ELLIPSIS if len(value) > 8 else ELLIPSIS


def _looks_like_token(segment: str) -> bool:
    return len(segment) >= 16 and bool(re.fullmatch(r"[A-Za-z0-9_\-:.=]+", segment)) \
        and bool(re.search(r"\d", segment)) and bool(re.search(r"[A-Za-z]", segment))


def _path_secrets(path: str) -> list[int]:
    """Indexes of the path segments that are credentials, on every platform we know, plus token-like segments."""
    segments = path.split("/")
    secret: set[int] = set()
    for i, seg in enumerate(segments):
        prev = segments[i - 1] if i else ""
        if _TELEGRAM_BOT.match(seg) and ":" in seg:                         # Telegram /bot<id>:<token>/
            secret.add(i)
        elif prev == "hook" and seg:                                        # Feishu /bot/v2/hook/<token>
            secret.add(i)
        elif i >= 2 and segments[i - 2] == "webhooks" and seg:              # Discord /webhooks/<id>/<token>
            secret.add(i)
        elif i >= 3 and segments[i - 3] == "services" and seg:              # Slack /services/T/B/<secret>
            secret.add(i)
        elif _looks_like_token(seg):
            secret.add(i)
    return sorted(secret)


def url_secrets(url: str) -> list[str]:
    """The credential parts of a webhook URL (key, access_token, path tokens, a password)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    segments = parts.path.split("/")
    for i in _path_secrets(parts.path):
        seg = segments[i]
        m = _TELEGRAM_BOT.match(seg)
        found.append(m.group(1) if m and ":" in seg else seg)
    for m in _QUERY_SECRET.finditer(parts.query):
        found.append(m.group(2))
    if parts.password:
        found.append(parts.password)
    return [f for f in found if f]


def mask_webhook_cell(value: str | None) -> str:
    """A Groups webhook/secret cell as it may be shown in a Problem: `env:NAME` and `secret:NAME` are names, shown
    as written; anything else may hold a key and is masked."""
    text = (value or "").strip()
    if re.fullmatch(r"(?i)(env|secret):[A-Za-z0-9_.\-/]+", text):
        return text
    return mask_url(text)


def mask_url(url: str | None) -> str:
    """The URL with every credential part masked; a value that is not a URL is masked whole."""
    if not url:
        return ""
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url.strip()):
        return mask_secret(url)
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return mask_secret(url)
    segments = parts.path.split("/")
    for i in _path_secrets(parts.path):
        seg = segments[i]
        m = _TELEGRAM_BOT.match(seg)
        segments[i] = "bot" + mask_secret(m.group(1)) if m and ":" in seg else mask_secret(seg)
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(":" + parts.password + "@", ":" + mask_secret(parts.password) + "@")
    query = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={mask_secret(m.group(2))}", parts.query)
    out = f"{parts.scheme}://{netloc}{'/'.join(segments)}"
    if query:
        out += "?" + query
    if parts.fragment:
        out += "#" + parts.fragment
    return out


class Masker:
    """Masks every registered credential wherever it appears in a string, and any URL's credential parts."""

    MIN_LENGTH = 6  # shorter fragments would mask ordinary words; URLs with them are still masked structurally

    def __init__(self, secrets=()):
        self._replacements: dict[str, str] = {}
        self._pattern: re.Pattern | None = None
        for s in secrets:
            self.add(s)

    def add(self, value: str | None) -> None:
        """Register a webhook URL (its key/token parts too) or a secret."""
        if not value:
            return
        value = str(value).strip()
        if re.match(r"^https?://", value):
            self._put(value, mask_url(value))
            for part in url_secrets(value):
                self._put(part, mask_secret(part))
        else:
            self._put(value, mask_secret(value))

    def _put(self, value: str, masked: str) -> None:
        if len(value) < self.MIN_LENGTH and not value.startswith("http"):
            return
        for variant in {value, quote(value, safe=""), quote_plus(value)}:
            if variant not in self._replacements:
                self._replacements[variant] = masked if variant == value else mask_secret(variant)
                self._pattern = None

    def mask(self, text) -> str:
        if text is None:
            return ""
        text = str(text)
        if self._replacements:
            if self._pattern is None:
                keys = sorted(self._replacements, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(k) for k in keys))
            text = self._pattern.sub(lambda m: self._replacements[m.group(0)], text)
        text = _URL.sub(lambda m: mask_url(m.group(0)), text)
        return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={mask_secret(m.group(2))}", text)

    __call__ = mask


class MaskingFilter(logging.Filter):
    """A logging filter that masks the message, its arguments and any traceback. Attach it to the handlers
    (a filter on a logger does not see records that propagate from child loggers such as urllib3)."""

    def __init__(self, masker: Masker, name: str = ""):
        super().__init__(name)
        self.masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we can, masked
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self.masker.mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.masker.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.masker.mask(record.stack_info)
        return True


def attach_masking(masker: Masker, logger: logging.Logger | None = None) -> MaskingFilter:
    """Put a MaskingFilter on every handler of `logger` (default: the root logger); returns the filter."""
    logger = logger or logging.getLogger()
    filt = MaskingFilter(masker)
    for handler in logger.handlers:
        handler.addFilter(filt)
    return filt
