"""Reading what operators type in the SOP tab's `schedule` column (English or Chinese).

`parse_spec(text)` turns a cell into `(kind, fields)`; `schedule.parse_schedule` builds the
Schedule object from it. Everything here is pure string work: no clock, no time zone.

Input is NFKC-normalised first (full-width digits, colons and commas become ASCII), lower-cased,
and Chinese punctuation is mapped: 、，；→ ","  ～〜—–→ "-"  至/到 between numbers or weekdays → "-".
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time
from typing import Any

from croniter import CroniterBadDateError, CroniterError, croniter

# Stable machine ids; the caller maps them to plain-language zh-CN / en messages.
ERROR_CODES = (
    "empty",            # nothing written
    "unknown_form",     # not any schedule form
    "missing_time",     # a form that needs a clock time has none
    "bad_time",         # a clock time that is not one (25:00, 13pm, 晚上12点) or not allowed here
    "bad_date",         # not a yyyy-mm-dd date, month/day out of range, or no year
    "impossible_date",  # a real-looking date that does not exist (2026-04-31, 2026-02-30)
    "bad_weekday",      # weekly with a missing or unknown weekday
    "bad_day_range",    # campaign days that are not 1 <= first <= last
    "bad_offset",       # join+N with a bad number or unit
    "bad_cron",         # not a valid 5-field cron expression
)

MAX_CAMPAIGN_DAY = 3650
MAX_OFFSET = {"d": 3650, "h": 24 * 3650, "m": 60 * 24 * 3650}

EXAMPLES: dict[str, tuple[str, str]] = {  # kind -> (en, zh-CN)
    "once": ("2026-12-01 20:00", "2026-12-01 20:00"),
    "daily": ("daily 23:00", "每天 23:00"),
    "weekly": ("weekly mon,thu 20:00", "每周一、四 20:00"),
    "campaign_day": ("day 3 20:00", "第3天 20:00"),
    "on_join": ("on join", "入群时"),
    "join_offset": ("join+2d 10:00", "入群后2天 10:00"),
    "cron": ("cron 0 23 * * *", "cron 0 23 * * *"),
}


class ScheduleError(ValueError):
    """A cell that is not a schedule. `code` is stable (see ERROR_CODES), `value` the offending
    part as typed (normalised), `example` a valid schedule of the form the operator probably meant."""

    def __init__(self, code: str, value: str, example: str):
        super().__init__(f"{code}: {value!r} (write it like {example!r})")
        self.code, self.value, self.example = code, value, example


_CJK = re.compile(r"[\u3000-\u9fff]")
_PUNCT = str.maketrans({"、": ",", "，": ",", "；": ",", ";": ",", "～": "-", "〜": "-", "~": "-",
                        "—": "-", "–": "-", "－": "-", "：": ":", "。": " ", "＠": "@"})
_EN_DAYS = {"monday": 0, "mon": 0, "tuesday": 1, "tues": 1, "tue": 1, "wednesday": 2, "weds": 2, "wed": 2,
            "thursday": 3, "thurs": 3, "thur": 3, "thu": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
            "sunday": 6, "sun": 6}
_CN_DAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_DAY_GROUPS = {"weekdays": (0, 1, 2, 3, 4), "weekday": (0, 1, 2, 3, 4), "workdays": (0, 1, 2, 3, 4),
               "workday": (0, 1, 2, 3, 4), "工作日": (0, 1, 2, 3, 4),
               "weekends": (5, 6), "weekend": (5, 6), "周末": (5, 6), "週末": (5, 6)}
_DAY = (r"(?:(?P<grp{n}>" + "|".join(sorted(_DAY_GROUPS, key=len, reverse=True)) + r")(?![a-z])"
        r"|(?P<en{n}>" + "|".join(sorted(_EN_DAYS, key=len, reverse=True)) + r")s?(?![a-z])"
        r"|(?:周|週|星期|礼拜|禮拜)?(?P<cn{n}>[一二三四五六日天]))")
_DAY_ITEM = re.compile(_DAY.format(n=1) + r"(?:-" + _DAY.format(n=2) + ")?")
_SEP = re.compile(r"(?:[\s,&@]|and(?![a-z])|at(?![a-z])|on(?![a-z])|和|及|与|的|在)*")
_PERIODS = "上午|早上|早晨|清晨|凌晨|中午|下午|傍晚|晚上|夜里|夜间"
_TIME = re.compile(r"(?P<pre>" + _PERIODS + r")?\s*(?P<h>\d{1,2})"
                   r"(?::(?P<m>\d{2})(?::(?P<s>\d{2}))?|\s*(?P<dian>[点點时時])(?:(?P<half>半)|(?P<cm>\d{1,2})分?)?)?"
                   r"(?:\s*(?P<ampm>[ap]\.?m\.?)(?![a-z]))?")
_TIME_START = re.compile(r"\d|" + _PERIODS)
_DATE = re.compile(r"(?P<y>\d{4})[-/.年](?P<mo>\d{1,2})[-/.月](?P<d>\d{1,2})(?:[日号號]|(?!\d))(?:t|\s)*")
_CRON_FIELD = r"[0-9a-z*/,?#\-]+"
_BARE_CRON = re.compile(rf"{_CRON_FIELD}(?: {_CRON_FIELD}){{4}}")
_ON_JOIN = {"onjoin", "join", "atjoin", "uponjoin", "whenjoined", "whenjoining", "onjoining", "newmember",
            "入群时", "进群时", "加群时", "入群", "进群", "加群", "新人入群", "新成员入群", "新人进群", "新成员进群"}
_JOIN_EN = re.compile(r"(?:join(?:ed|ing)?|after join(?:ing)?)\+(?P<n>\d+) ?(?P<unit>[a-z]+)(?P<rest>.*)")
_JOIN_CN = re.compile(r"(?:新人|新成员)?(?:入群|进群|加群|加入)后?(?P<n>\d+) ?(?P<unit>天|日|个?小时|个?钟头|分钟|分)后?(?P<rest>.*)")
_UNITS = {"d": "d", "day": "d", "days": "d", "天": "d", "日": "d",
          "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h", "小时": "h", "个小时": "h", "钟头": "h", "个钟头": "h",
          "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m", "分钟": "m", "分": "m"}
_CAMPAIGN_EN = re.compile(r"days? ?(?P<a>\d+)(?:-(?P<b>\d+))?(?![\d:])(?P<rest>.*)")
_CAMPAIGN_CN = re.compile(r"第 ?(?P<a>\d+) ?(?P<t1>[天日])? ?(?:-第? ?(?P<b>\d+) ?)?(?P<t2>[天日])?(?P<rest>.*)")
_DAILY = re.compile(r"(?:daily|every ?day|each day|每天|每日|天天)(?![a-z])(?P<rest>.*)")
_WEEKLY = re.compile(r"(?:每个?(?=工作日|周末|週末)|weekly(?: on)?|every(?: week on)?|each|每周|每星期|每礼拜|每禮拜|每个星期|每个礼拜|每週)(?![a-z])(?P<rest>.*)")


def normalize(text: str) -> str:
    """Canonical spelling of a cell before parsing (NFKC, lower case, ASCII punctuation, tight spaces)."""
    s = unicodedata.normalize("NFKC", text).translate(_PUNCT).lower()
    s = re.sub(r"(?<=[\d一二三四五六日天])\s*(?:至|到)\s*(?=[\d第周週星礼禮一二三四五六日天])", "-", s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    return re.sub(r" ?([,:+\-/]) ?", r"\1", s)


def _example(kind: str, raw: str) -> str:
    en, zh = EXAMPLES[kind]
    return zh if _CJK.search(raw) else en


def _guess(s: str) -> str:
    """The kind an unparseable cell most likely meant (for the example in the message)."""
    for kind, pattern in (("join_offset", r"入群|进群|加群|join"), ("cron", r"cron|\*"),
                          ("weekly", r"周|星期|礼拜|week|mon|tue|wed|thu|fri|sat|sun"),
                          ("campaign_day", r"第|day \d|days"), ("once", r"\d{4}[-/.年]")):
        if re.search(pattern, s):
            return kind
    return "daily"


def parse_spec(text: str) -> tuple[str, dict[str, Any]]:
    """(kind, fields) for a schedule cell, or ScheduleError."""
    raw = "" if text is None else str(text)
    s = normalize(raw)
    if not s:
        raise ScheduleError("empty", "", _example("daily", raw))
    ex = lambda kind: _example(kind, raw)  # noqa: E731
    if s.startswith("cron"):
        return "cron", {"expr": _cron(s[4:].lstrip(":").strip(), s, ex("cron"))}
    if s.replace(" ", "") in _ON_JOIN:
        return "on_join", {}
    if m := _JOIN_EN.fullmatch(s) or _JOIN_CN.fullmatch(s):
        return "join_offset", _join(m, ex("join_offset"))
    if re.match(r"(?:新人|新成员)?(?:入群|进群|加群)|join", s):
        raise ScheduleError("bad_offset", s, ex("join_offset"))
    if s.startswith("第") or re.match(r"days?(?![a-z])", s):
        return "campaign_day", _campaign(s, ex("campaign_day"))
    if m := _DAILY.fullmatch(s):
        return "daily", {"times": parse_times(m["rest"], s, ex("daily"))}
    if m := _WEEKLY.fullmatch(s):
        return "weekly", _weekly(m["rest"], s, ex("weekly"))
    if re.match(r"\d{4}[-/.年]", s):
        return "once", _once(s, ex("once"))
    if re.match(r"\d{1,2}[-/月]\d{1,2}(?!\d)", s) and not _BARE_CRON.fullmatch(s):
        raise ScheduleError("bad_date", s, ex("once"))  # no year: we never guess one
    if _BARE_CRON.fullmatch(s) and "*" in s:
        return "cron", {"expr": _cron(s, s, ex("cron"))}
    raise ScheduleError("unknown_form", s, ex(_guess(s)))


def parse_times(rest: str, s: str, example: str, *, single: bool = False) -> tuple[time, ...]:
    """One or more clock times ("20:00", "8:30pm", "晚上8点", "9:00,21:00") → sorted unique times."""
    out: list[time] = []
    pos, n = 0, len(rest)
    while True:
        pos = _SEP.match(rest, pos).end()
        if pos >= n:
            break
        m = _TIME.match(rest, pos)
        end = m.end() if m else pos
        if not m or not (m["m"] or m["dian"] or m["ampm"]) or (end < n and not _SEP.match(rest, end).end() > end):
            raise ScheduleError("bad_time", re.match(r"[^\s,]*", rest[pos:])[0] or rest[pos:], example)
        out.append(_clock(m, example))
        pos = end
    if not out:
        raise ScheduleError("missing_time", s, example)
    if single and len(out) > 1:
        raise ScheduleError("bad_time", rest.strip(), example)
    return tuple(sorted(set(out)))


def _clock(m: re.Match, example: str) -> time:
    token = m[0].strip()
    bad = ScheduleError("bad_time", token, example)
    h = int(m["h"])
    minute = int(m["m"] or m["cm"] or 0) + (30 if m["half"] else 0)
    if m["s"] and int(m["s"]) != 0:
        raise bad
    pre, ampm = m["pre"], m["ampm"]
    if pre and ampm:
        raise bad
    if ampm:
        if not 1 <= h <= 12:
            raise bad
        h = h % 12 + (12 if ampm.startswith("p") else 0)
    elif pre in ("下午", "傍晚", "晚上", "夜里", "夜间"):
        if h == 12 and pre != "下午":
            raise bad  # 晚上12点: midnight of which day? ask for 0:00 or 23:59
        h = h + 12 if 1 <= h <= 11 else h
    elif pre == "中午":
        if h in (1, 2, 3):
            h += 12
        elif h not in (11, 12):
            raise bad
    elif pre:  # morning words
        if h > 12:
            raise bad
        h = 0 if (h == 12 and pre == "凌晨") else h
    if not (0 <= h <= 23 and 0 <= minute <= 59):
        raise bad
    return time(h, minute)


def _weekly(rest: str, s: str, example: str) -> dict[str, Any]:
    start = _TIME_START.search(rest)
    part, times_part = (rest[:start.start()], rest[start.start():]) if start else (rest, "")
    days: set[int] = set()
    pos, n = 0, len(part)
    while True:
        pos = _SEP.match(part, pos).end()
        if pos >= n:
            break
        m = _DAY_ITEM.match(part, pos)
        if not m:
            raise ScheduleError("bad_weekday", re.match(r"[^\s,]*", part[pos:])[0] or part[pos:], example)
        first, last = _day_value(m, 1), _day_value(m, 2) if m["en2"] or m["cn2"] or m["grp2"] else None
        if last is None:
            days.update(first)
        elif len(first) > 1 or len(last) > 1:
            raise ScheduleError("bad_weekday", m[0], example)
        else:  # a range, wrapping past Sunday if needed (fri-mon)
            a, b = first[0], last[0]
            days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
        pos = m.end()
    if not days:
        raise ScheduleError("bad_weekday", part.strip(), example)
    return {"weekdays": tuple(sorted(days)), "times": parse_times(times_part, s, example)}


def _day_value(m: re.Match, n: int) -> tuple[int, ...]:
    if m[f"grp{n}"]:
        return _DAY_GROUPS[m[f"grp{n}"]]
    if m[f"en{n}"]:
        return (_EN_DAYS[m[f"en{n}"]],)
    return (_CN_DAYS[m[f"cn{n}"]],)


def _campaign(s: str, example: str) -> dict[str, Any]:
    m = _CAMPAIGN_CN.fullmatch(s) if s.startswith("第") else _CAMPAIGN_EN.fullmatch(s)
    if not m or (s.startswith("第") and not (m["t1"] or m["t2"])):
        raise ScheduleError("bad_day_range", s, example)
    a, b = int(m["a"]), int(m["b"] or m["a"])
    if not 1 <= a <= b <= MAX_CAMPAIGN_DAY:
        raise ScheduleError("bad_day_range", f"{m['a']}-{m['b']}" if m["b"] else m["a"], example)
    return {"first_day": a, "last_day": b, "times": parse_times(m["rest"], s, example)}


def _join(m: re.Match, example: str) -> dict[str, Any]:
    unit = _UNITS.get(m["unit"])
    n = int(m["n"])
    if unit is None or not 1 <= n <= MAX_OFFSET[unit]:
        raise ScheduleError("bad_offset", f"{m['n']}{m['unit']}", example)
    rest = m["rest"].strip()
    if not rest:
        return {"amount": n, "unit": unit, "at": None}
    if unit != "d":  # "join+3h 10:00" says two different things
        raise ScheduleError("bad_time", rest, example)
    return {"amount": n, "unit": unit, "at": parse_times(rest, m[0], example, single=True)[0]}


def _once(s: str, example: str) -> dict[str, Any]:
    m = _DATE.match(s)
    if not m:
        raise ScheduleError("bad_date", re.match(r"[^\s]*", s)[0], example)
    typed = m[0].strip().rstrip("t").strip()
    y, mo, d = int(m["y"]), int(m["mo"]), int(m["d"])
    if not (2000 <= y <= 2199 and 1 <= mo <= 12 and 1 <= d <= 31):
        raise ScheduleError("bad_date", typed, example)
    try:
        day = date(y, mo, d)
    except ValueError:
        raise ScheduleError("impossible_date", typed, example) from None
    return {"day": day, "times": parse_times(s[m.end():], s, example)}


def _cron(expr: str, s: str, example: str) -> str:
    fields = expr.split()
    expr = " ".join(fields)
    if len(fields) != 5 or not all(re.fullmatch(_CRON_FIELD, f) for f in fields):
        raise ScheduleError("bad_cron", expr, example)
    try:
        croniter(expr, datetime(2000, 1, 1)).get_next(datetime)  # a fixed start: never the clock
    except CroniterBadDateError:
        raise ScheduleError("impossible_date", expr, example) from None  # e.g. 0 0 30 2 *
    except (CroniterError, ValueError, KeyError, TypeError):
        raise ScheduleError("bad_cron", expr, example) from None
    return expr
