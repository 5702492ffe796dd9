"""What every platform module shares: the request and outcome types, splitting, and reading replies. Pure."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, ClassVar, Mapping

from ..message import Message, Target, place_mentions

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
Windows = tuple[tuple[int, float], ...]


class MessageRejected(ValueError):
    """This message can never go to this platform as it is; `reason` says what to change."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def encode_json(body: Mapping[str, Any]) -> bytes:
    """The exact bytes we send: UTF-8, not \\u escapes (which would triple the size of Chinese text)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, eq=True)
class HttpRequest:
    method: str
    url: str
    json: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=lambda: dict(JSON_HEADERS))

    def body(self) -> bytes:
        return encode_json(self.json)

    def __repr__(self) -> str:
        from ..masking import mask_url
        return f"HttpRequest({self.method} {mask_url(self.url)}, {len(self.body())} bytes)"

    __hash__ = None  # the body is a dict


class OutcomeKind(str, Enum):
    OK = "OK"
    RETRY = "RETRY"                       # the platform did not take it (5xx but 504, 429, "not now" codes)
    REJECT_MESSAGE = "REJECT_MESSAGE"
    DISABLE_TARGET = "DISABLE_TARGET"
    UNKNOWN = "UNKNOWN"                   # it may have been posted (a gateway's 504): never sent again


OK, RETRY, REJECT_MESSAGE, DISABLE_TARGET, UNKNOWN = (OutcomeKind.OK, OutcomeKind.RETRY, OutcomeKind.REJECT_MESSAGE,
                                                      OutcomeKind.DISABLE_TARGET, OutcomeKind.UNKNOWN)
GATEWAY_TIMEOUT = 504

# What a refusal means, beyond its kind (Outcome.cause): the tick turns these into the right Problem.
KEYWORD = "keyword"              # the robot's security keyword is not in this message: fix the text (REJECT_MESSAGE)
CLOCK = "clock"                  # the signature's timestamp is too far from the platform's clock: fix ours (RETRY)
SIGNATURE = "signature"          # the signature does not match: the secret is wrong (DISABLE_TARGET)
SIGNATURE_OR_CLOCK = "signature-or-clock"  # one code for both (Feishu 19021): settle_signature decides
SIGNATURE_WINDOW = 3600.0        # DingTalk and Feishu take a signature dated within an hour of their own clock
SKEWED = SIGNATURE_WINDOW - 300  # a platform clock this far from our signing time explains the refusal (the
                                 # Date header has 1 s steps and the request takes time: 5 minutes of margin)


@dataclass(frozen=True)
class Outcome:
    """The verdict on one reply. On RETRY, `retry_after` is the least wait before trying again; on OK it is the
    wait before this target's next send (Discord's exhausted bucket), usually None."""
    kind: OutcomeKind
    retry_after: float | None = None
    code: str = ""
    reason: str = ""
    migrate_to_chat_id: str | None = None  # Telegram: the group became a supergroup with this chat id
    cause: str = ""                        # KEYWORD, CLOCK, SIGNATURE, SIGNATURE_OR_CLOCK, or "" (see above)


class Platform:
    """One chat platform. Subclasses set the limits and implement build_requests and classify (both pure)."""
    name: ClassVar[str] = ""
    rate_windows: ClassVar[Windows] = ()      # at most N sends in ANY W seconds, per webhook
    penalty_seconds: ClassVar[float] = 0.0    # how long the platform throttles a webhook that exceeded its rate

    @classmethod
    def build_requests(cls, message: Message, target: Target, timestamp: float) -> list[HttpRequest]:
        raise NotImplementedError

    @classmethod
    def classify(cls, status_code: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        raise NotImplementedError

    @classmethod
    def rate_keys(cls, target: Target) -> list[tuple[str, Windows]]:
        """The rate-limit buckets one send to `target` counts against: (key, windows)."""
        return [(target.webhook, cls.rate_windows)]


# ---- sizes and splitting -------------------------------------------------------------------------------------

def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def utf16_len(text: str) -> int:
    """Characters as JavaScript and Telegram count them (an emoji outside the BMP counts 2): never under-counts."""
    return len(text.encode("utf-16-le")) // 2


def json_len(body: Mapping[str, Any]) -> int:
    return len(encode_json(body))


def truncate(text: str, limit: int, measure: Callable[[str], int] = len) -> str:
    """`text` cut to fit `limit` (in `measure` units), ending in "…" when cut; never cuts a character."""
    if measure(text) <= limit:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid] + "…") <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "…" if lo else ""


def split_text(text: str, fits: Callable[[str, int], bool], what: str = "message") -> list[str]:
    """Cut `text` into parts, each satisfying fits(part, index): the greedy longest part that fits, cut at its last
    paragraph break (blank line), else its last line break, else its last character that fits. Parts are str
    slices, so no character is ever cut in two; the caller measures them in its platform's unit (bytes, chars)."""
    parts: list[str] = []
    rest = text.replace("\r\n", "\n").strip("\n")
    while rest:
        index = len(parts)
        if fits(rest, index):
            parts.append(rest)
            break
        lo, hi = 0, len(rest)  # the longest prefix that fits (fits is monotone in the prefix)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(rest[:mid], index):
                lo = mid
            else:
                hi = mid - 1
        if lo == 0:
            raise MessageRejected(f"the {what} cannot be split: not even one character fits in a part")
        cut = rest.rfind("\n\n", 1, lo)
        if cut <= 0:
            cut = rest.rfind("\n", 1, lo)
        if cut <= 0 or not rest[:cut].strip() or not fits(rest[:cut].rstrip("\n"), index):
            cut = lo
        parts.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:].lstrip("\n")
    return parts


def require_text(message: Message, platform: str) -> str:
    if not message.text.strip():
        raise MessageRejected(f"the {message.kind} message has no text ({platform} rejects empty content)")
    return message.text


def require_image_url(message: Message, platform: str, why: str) -> str:
    """The image URL, or MessageRejected: no image at all, or only bytes where the webhook cannot upload them."""
    if message.image_url and message.image_url.strip():
        return message.image_url.strip()
    if message.image_bytes:
        raise MessageRejected(f"{platform} {why}: give the image as a URL (image_url)")
    raise MessageRejected("the image message has no image (image_url or image_bytes)")


def require_card(message: Message):
    card = message.card
    if card is None or not ((card.title or "").strip() or (card.url or "").strip()):
        raise MessageRejected("the news card has neither a title nor a url")
    return card


def image_caption(message: Message) -> str:
    """An image's caption; its mentions travel beside it, so a mention slot in it is dropped."""
    return place_mentions(message.text, "").strip() or message.title.strip()


# ---- reading replies -----------------------------------------------------------------------------------------

def gateway_timeout(status_code: int) -> Outcome | None:
    """HTTP 504, on every platform: a gateway in front of the platform stopped waiting for it after our request
    had reached it, so the platform may have posted the message. Unlike 502 and 503 (the platform did not take
    it: retried), it is UNKNOWN and never sent again."""
    if status_code != GATEWAY_TIMEOUT:
        return None
    return Outcome(UNKNOWN, None, str(status_code), "HTTP 504: a gateway timed out waiting for the platform")


def parse_json(body: bytes | str | None) -> Any:
    if body is None:
        return None
    try:
        return json.loads(body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body)
    except (ValueError, UnicodeDecodeError):
        return None


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    lname = name.lower()
    for k, v in headers.items():
        if str(k).lower() == lname:
            return v
    return None


def seconds(value: Any) -> float | None:
    """A non-negative finite number of seconds, or None (an HTTP date in Retry-After is ignored: no clock here)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def latest(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def short(text: Any, limit: int = 200) -> str:
    return " ".join(str(text or "").split())[:limit]


def platform_clock_offset(headers: Mapping[str, str] | None, signed_at: float | None) -> float | None:
    """The platform's clock minus our signing time, in seconds, read from the reply's Date header (every HTTP
    server sends one, dated by its own clock); None when either is missing or unreadable."""
    from email.utils import parsedate_to_datetime
    value = header(headers, "Date")
    if not value or signed_at is None:
        return None
    try:
        theirs = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if theirs is None or theirs.tzinfo is None:
        return None
    return theirs.timestamp() - signed_at


def settle_signature(outcome: Outcome, headers: Mapping[str, str] | None, signed_at: float | None) -> Outcome:
    """One code that means "signature mismatch or timestamp outside the hour" (Feishu 19021) is told apart by
    the platform's own clock: when its Date header is SKEWED or more from the time we signed at, our clock is off
    (RETRY, reported as a clock problem: every later message would pass once the clock is right); otherwise the
    secret is wrong (DISABLE_TARGET: no later message can pass). No Date header: the secret is taken as wrong."""
    if outcome.cause != SIGNATURE_OR_CLOCK:
        return outcome
    offset = platform_clock_offset(headers, signed_at)
    if offset is not None and abs(offset) >= SKEWED:
        minutes = round(abs(offset) / 60)
        side = "behind" if offset > 0 else "ahead of"
        return Outcome(RETRY, None, outcome.code, f"clock skew: this computer's clock is {minutes} minutes {side} "
                                                  f"the platform's, which takes signatures only within an hour "
                                                  f"({outcome.reason}); set the clock right (NTP)", cause=CLOCK)
    return Outcome(DISABLE_TARGET, None, outcome.code, f"the signing secret is wrong: {outcome.reason}",
                   cause=SIGNATURE)


CodeTable = Mapping[int, tuple[OutcomeKind, float | None, str]]


def classify_coded(status: int, headers: Mapping[str, str], body: bytes, table: CodeTable,
                   code_fields: tuple[str, ...], message_fields: tuple[str, ...]) -> Outcome:
    """For WeCom, DingTalk and Feishu, which answer HTTP 200 with a numeric code in the JSON: the code decides."""
    timed_out = gateway_timeout(status)
    if timed_out is not None:
        return timed_out
    data = parse_json(body)
    code = None
    if isinstance(data, dict):
        for f in code_fields:
            if isinstance(data.get(f), int) or (isinstance(data.get(f), str) and data[f].lstrip("-").isdigit()):
                code = int(data[f])
                break
    errmsg = next((short(data[f]) for f in message_fields if isinstance(data, dict) and data.get(f)), "")
    header_wait = seconds(header(headers, "Retry-After"))
    if code is not None and code in table:
        kind, minimum, label = table[code]
        wait = latest(minimum, header_wait) if kind is RETRY else None
        return Outcome(kind, wait, str(code), f"{label} (code {code})" + (f": {errmsg}" if errmsg else ""))
    if code == 0 and 200 <= status < 300:
        return Outcome(OK, None, "0", "ok")
    if status >= 500 or status == 429:
        return Outcome(RETRY, header_wait, str(code if code is not None else status),
                       f"HTTP {status}" + (f" (code {code})" if code is not None else "") + ": the platform is busy")
    if code is None:
        if 200 <= status < 300:
            return Outcome(RETRY, None, "non-json", f"HTTP {status} with a reply that is not the platform's JSON")
        if status in (401, 403, 404, 410):
            return Outcome(DISABLE_TARGET, None, str(status), f"HTTP {status}: the webhook address is wrong or gone")
        return Outcome(REJECT_MESSAGE, None, str(status), f"HTTP {status} without a platform code")
    return Outcome(REJECT_MESSAGE, None, str(code),
                   f"unknown code {code} (HTTP {status})" + (f": {errmsg}" if errmsg else "") + "; not retried")
