"""Parse what operators really type into typed values.

Every parser takes the raw cell (a str, number, bool, date or datetime, as the store read it) and returns a typed
value or raises CellError(code, **params), which qunflow.sheet.i18n turns into plain-language messages.
Pure: the only context is `today` (for dates typed without a year).
"""
from __future__ import annotations

import functools
import re
import unicodedata
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SHEETS_EPOCH = datetime(1899, 12, 30)


class CellError(ValueError):
    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class TimeRange:
    start: time
    end: time

    def contains(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end  # wraps past midnight, e.g. 22:00-08:00

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def norm(value: Any) -> str:
    """Half-width, trimmed text: full-width digits, colons and letters become ASCII."""
    return unicodedata.normalize("NFKC", str(value)).strip()


def fold(value: Any) -> str:
    """For matching headers, titles and enum values: NFKC, case-folded, inner spaces squeezed."""
    if isinstance(value, str):
        return _fold_text(value)
    return re.sub(r"\s+", " ", norm(value)).casefold()


@functools.lru_cache(maxsize=1 << 16)
def _fold_text(value: str) -> str:
    return re.sub(r"\s+", " ", norm(storable(value))).casefold()  # as the text reads once a workbook holds it


def is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


# --- text a workbook can hold ---------------------------------------------------------------
# Every .xlsx is XML 1.0, which allows among the C0 controls only tab, line feed and carriage return, and no lone
# surrogate (half an emoji), U+FFFE or U+FFFF; Google Sheets' JSON cannot carry a lone surrogate either. Text with
# them is refused at ingest, read as U+FFFD (with a warning at its cell) from a workbook or an import, and
# replaced by U+FFFD by every writer as a last line of defence.

UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"


def unstorable(text: str) -> str:
    """The characters of `text` no workbook can hold, as "U+000B, U+D800" (each once, in order); "" if none."""
    seen = dict.fromkeys(f"U+{ord(c):04X}" for c in UNSTORABLE.findall(text))
    return ", ".join(seen)


def storable(text: str) -> str:
    """`text` with each character no workbook can hold replaced by U+FFFD."""
    return UNSTORABLE.sub(REPLACEMENT, text)


def storable_value(value: Any) -> Any:
    """A cell value as the Sheets API takes it (RAW, JSON): text made storable, a date or datetime as its serial
    number (`to_serial`; the column's date number format shows it as a date), anything else as it is."""
    if isinstance(value, date):
        return to_serial(value)
    return storable(value) if isinstance(value, str) else value


def to_serial(value: date) -> int | float:
    """A date cell's number, as Excel and Google Sheets count: days since 1899-12-30, the time of day as the
    fraction, to the second (wall time: any zone is dropped, the caller chose it)."""
    if not isinstance(value, datetime):
        return (value - SHEETS_EPOCH.date()).days
    delta = value.replace(tzinfo=None, microsecond=0) - SHEETS_EPOCH
    return delta.days + delta.seconds / 86400 if delta.seconds else delta.days


Spot = tuple[str, int, int, str]   # tab title, 0-based row and column in the raw rows, the text as it was read


def scrub_workbook(raw: dict[str, list[list[Any]]]) -> tuple[dict[str, list[list[Any]]], list[Spot]]:
    """(the raw workbook with every character no workbook can hold read as U+FFFD, where each such text was).

    `raw` itself is never changed (stores plan their writes against it); only the rows with such text are
    copied. One search per tab finds that a tab is clean, so a clean workbook costs one pass over its text."""
    out, spots = raw, []
    for title, rows in raw.items():
        if not UNSTORABLE.search("\n".join(v for row in rows for v in row if type(v) is str)):
            continue
        if out is raw:
            out = dict(raw)
        fixed = list(rows)
        for r, row in enumerate(rows):
            bad = [c for c, v in enumerate(row) if isinstance(v, str) and UNSTORABLE.search(v)]
            if bad:
                fixed[r] = list(row)
                for c in bad:
                    spots.append((title, r, c, row[c]))
                    fixed[r][c] = storable(row[c])
        out[title] = fixed
    return out, spots


def warn_unstorable(spots: list[Spot], tables: Any, sink: Any) -> None:
    """One warning per scrubbed cell of a column qunflow reads (or of a header row), at that cell. `tables`: the
    located tables ({key: Table}); `sink`: the ProblemSink. The row stays: the text is used with U+FFFD in it."""
    by_title = {t.title: t for t in tables.values() if not t.missing}
    for title, r, c, text in spots:
        table = by_title.get(title)
        header_row = getattr(table, "header_row", 1)           # a title row may sit above the header
        if table is None or r + 1 < header_row or (r + 1 > header_row and c not in table.columns.values()):
            continue
        header = table.header[c] if c < len(table.header) and not is_blank(table.header[c]) else None
        column = storable(str(header)).strip() if header is not None else _letters(c + 1)
        sink.add("unstorable_text", tab=title, row=r + 1, column=column, value=storable(text)[:200],
                 chars=unstorable(text), severity="warning")


def _letters(n: int) -> str:
    """A 1-based column number as its letters: 1 -> A, 27 -> AA."""
    return _letters((n - 1) // 26) + chr(65 + (n - 1) % 26) if n else ""


# --- text and ids -------------------------------------------------------------------------

_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")


def parse_text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.isoformat(sep=" ")
    return str(raw).strip()


def parse_id(raw: Any) -> str:
    """Ids, phone numbers and codes stay text exactly as typed; lost digits are an error.

    A number cell is an id only when it is an exact integer that still has its digits: not a fraction
    (13800000000.5), not past 10^15 (where floating point drops digits), and not an 11-digit-or-longer number
    with at most 6 significant digits (1.38e10 = 13800000000: what is left of a number once shown as 1.38E+10)."""
    if isinstance(raw, bool):
        raise CellError("bad_id")
    if isinstance(raw, float):
        if not raw.is_integer() or abs(raw) >= 1e15:
            raise CellError("lost_digits")
        raw = int(raw)
    if isinstance(raw, int):
        digits = str(abs(raw))
        if len(digits) >= 11 and len(digits.rstrip("0")) <= 6:
            raise CellError("lost_digits")
        return str(raw)
    text = str(raw).strip()
    if _SCIENTIFIC.match(norm(text)):
        raise CellError("lost_digits")
    return text


_PHONE = re.compile(r"^\+?\d[\d\- ]{4,22}\d$")


def parse_phone(raw: Any) -> str:
    text = parse_id(raw)
    if not _PHONE.match(norm(text)):
        raise CellError("bad_phone")
    return text


# --- numbers and booleans -----------------------------------------------------------------

def parse_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise CellError("bad_int")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if raw.is_integer():
            return int(raw)
        raise CellError("bad_int")
    text = norm(raw).replace(",", "")
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    raise CellError("bad_int")


def parse_decimal(raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise CellError("bad_decimal")
    if isinstance(raw, (int, float)):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise CellError("bad_decimal")
        return Decimal(str(raw))
    text = norm(raw).replace(",", "").replace("¥", "").replace("￥", "").replace("元", "").strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CellError("bad_decimal") from None
    if not value.is_finite():
        raise CellError("bad_decimal")
    return value


_TRUE = {"yes", "y", "true", "1", "是", "✓", "✔", "√", "on", "启用", "开", "对"}
_FALSE = {"no", "n", "false", "0", "否", "✗", "✘", "×", "x", "off", "停用", "关", "不"}


def parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)) and raw in (0, 1):
        return bool(raw)
    text = fold(raw)
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError("bad_bool")


# --- dates and times ----------------------------------------------------------------------

def _from_serial(value: float) -> datetime:
    if not 1 <= value < 2958466:  # 1899-12-31 .. 9999-12-31, as Sheets and Excel count
        raise CellError("bad_date")
    return SHEETS_EPOCH + timedelta(seconds=round(value * 86400))   # to the second: 10:05 stays 10:05, not 10:04:59.999


def _make_date(y: int, m: int, d: int) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise CellError("impossible_date") from None


_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_MD = re.compile(r"^(\d{1,2})\s*[月/-]\s*(\d{1,2})\s*日?$")


def parse_date(raw: Any, today: date | None = None) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return _from_serial(float(raw)).date()
    text = norm(raw)
    if m := _YMD.match(text):
        return _make_date(int(m[1]), int(m[2]), int(m[3]))
    if (m := _MD.match(text)) and today is not None:
        return _make_date(today.year, int(m[1]), int(m[2]))
    raise CellError("bad_date")


_CLOCK = re.compile(
    r"^(?P<pre>上午|早上|早|中午|下午|晚上|晚|凌晨)?\s*(?P<h>\d{1,2})"
    r"(?:\s*[:点时]\s*(?P<m>\d{1,2})?\s*分?|\s*(?=[ap]m)|$)(?::(?P<s>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?$")


def parse_time(raw: Any) -> time:
    if isinstance(raw, datetime):
        return raw.time()
    if isinstance(raw, time):
        return raw
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if 0 <= raw < 1:
            seconds = round(raw * 86400)
            return time(seconds // 3600, seconds % 3600 // 60, seconds % 60)
        raise CellError("bad_time")
    text = fold(raw).replace("半", "30")
    m = _CLOCK.match(text)
    if not m:
        raise CellError("bad_time")
    hour, minute, second = int(m["h"]), int(m["m"] or 0), int(m["s"] or 0)
    ampm, pre = m["ampm"], m["pre"]
    if ampm:
        if not 1 <= hour <= 12:
            raise CellError("bad_time")
        hour = hour % 12 + (12 if ampm.startswith("p") else 0)
    elif pre in ("下午", "晚上", "晚") and 1 <= hour < 12:
        hour += 12
    elif pre == "中午" and hour < 3:
        hour += 12
    if hour > 23 or minute > 59 or second > 59:
        raise CellError("bad_time")
    return time(hour, minute, second)


_ISO_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_PLAIN_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?\Z")


def parse_datetime(raw: Any, today: date | None = None) -> datetime:
    """A wall-clock datetime (naive) unless an offset was typed (aware)."""
    if isinstance(raw, datetime):
        return raw
    if isinstance(raw, date):
        return datetime.combine(raw, time())
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return _from_serial(float(raw)).replace(microsecond=0)
    text = norm(raw)
    if _PLAIN_DATETIME.match(text):      # "2026-11-20 20:00", as most cells hold: fast; 2026-02-30 falls through
        with suppress(ValueError):
            return datetime.fromisoformat(text)
    if "T" in text or _ISO_OFFSET.search(text):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
    parts = re.split(r"\s+|(?<=日)|(?<=\d)T(?=\d)", text, maxsplit=1)
    try:
        day = parse_date(parts[0], today)
    except CellError as error:
        raise CellError("impossible_date" if error.code == "impossible_date" else "bad_datetime") from None
    if len(parts) == 1 or not parts[1].strip():
        return datetime.combine(day, time())
    try:
        return datetime.combine(day, parse_time(parts[1]))
    except CellError:
        raise CellError("bad_datetime") from None


_DURATION_UNITS = {
    "m": 1, "min": 1, "mins": 1, "minute": 1, "minutes": 1, "分": 1, "分钟": 1,
    "h": 60, "hr": 60, "hrs": 60, "hour": 60, "hours": 60, "小时": 60, "时": 60, "个小时": 60,
    "d": 1440, "day": 1440, "days": 1440, "天": 1440,
}
MAX_DURATION_MINUTES = 3650 * 1440  # ten years: anything longer is a typo, and timedelta would overflow


def parse_duration(raw: Any) -> timedelta:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw >= 0:
        minutes = float(raw)
    else:
        text = fold(raw)
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z\u4e00-\u9fff]*)", text)
        if not m or (m[2] and m[2] not in _DURATION_UNITS):
            raise CellError("bad_duration")
        minutes = float(m[1]) * _DURATION_UNITS.get(m[2] or "m", 1)
    if not minutes <= MAX_DURATION_MINUTES:  # also NaN and infinity
        raise CellError("bad_duration")
    return timedelta(minutes=minutes)


_TZ_ALIASES = {"北京时间": "Asia/Shanghai", "中国": "Asia/Shanghai", "cst": "Asia/Shanghai", "utc": "UTC", "gmt": "UTC"}


def parse_timezone(raw: Any) -> ZoneInfo:
    text = norm(raw)
    name = _TZ_ALIASES.get(text.casefold(), text)
    if not re.fullmatch(r"[A-Za-z_]+(/[A-Za-z0-9_+\-]+)*", name):
        raise CellError("bad_timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CellError("bad_timezone") from None


def parse_time_range(raw: Any) -> TimeRange:
    text = norm(raw)
    parts = re.split(r"\s*(?:-|~|～|—|–|至|到)\s*", text)
    if len(parts) != 2:
        raise CellError("bad_time_range")
    try:
        return TimeRange(parse_time(parts[0]), parse_time(parts[1]))
    except CellError:
        raise CellError("bad_time_range") from None


def parse_list(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return (parse_text(raw),)
    return tuple(p.strip() for p in re.split(r"[,，、;；\n]", str(raw)) if p.strip())
