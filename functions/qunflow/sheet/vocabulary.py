"""The words a workbook is written in: every value qunflow puts in a cell, in the workbook's own language. Pure.

Inside qunflow a value is its machine form (`redeemed`, `core`, `wecom`, `sent`, a reason in English), as the
state store, the records and JSON keep it. A cell gets the form the workbook's own dropdown offers (已核销, 核心层,
企业微信, 已发送 in a zh-CN workbook), and either form reads back as the machine value (`canonical`).

All of it comes from the schema YAML, so a column added there is translated without code:
- a column with `values` (an enum, or the Settings tab's `key` column, whose values are the known settings) is
  written as the label of the workbook's language;
- a `bool` column as 是/否 (yes/no in English);
- a `date` / `datetime` column as a naive date / datetime on the row's wall clock (`date_cell`), which the stores
  write as a real date cell;
- a column marked `say: reason` (SendLog's outcome) holds a reason qunflow composed in English: it is said in
  the workbook's language through the `reason_*` keys of `sheet.i18n` (`say_reason`). So do Problems' `reason`
  parameters (`ProblemSink.add`).
"""
from __future__ import annotations

import functools
import re
from datetime import date, datetime, time, tzinfo
from typing import Any

from .cells import CellError, fold, is_blank, parse_bool, parse_datetime
from .changes import to_cell
from .i18n import MESSAGES
from .schema import Column

YES_NO = {"zh-CN": ("是", "否"), "en": ("yes", "no")}


def label(column: Column, value: Any, lang: str) -> Any:
    """The form of `value` the workbook's dropdown offers, for a column with values; anything else as it is."""
    option = _option(column, value)
    if option is None:
        return value
    return option.value if lang == "en" else option.labels.get(lang, option.value)


def canonical(column: Column, raw: Any) -> Any:
    """The machine value of a cell in either language (`已发送` → `sent`), for a column with values; else `raw`."""
    option = _option(column, raw)
    return raw if option is None else option.value


def _option(column: Column, value: Any):
    if not column.values or not isinstance(value, str) or not value.strip():
        return None
    text = fold(value)
    for option in column.values:
        if text == fold(option.value) or any(text == fold(l) for l in option.labels.values()):
            return option
    return None


def yes_no(lang: str) -> tuple[str, str]:
    return YES_NO.get(lang, YES_NO["en"])


def cell_value(column: Column | None, value: Any, lang: str, tz: tzinfo | None = None) -> Any:
    """`value` as written into a cell of `column` in a workbook in `lang` (always RAW): see the module's doc."""
    if column is None or value is None:
        return to_cell(value)
    if column.type in ("date", "datetime"):
        return date_cell(column.type, value, tz)
    if column.values:
        return to_cell(label(column, value, lang))
    if column.type == "bool":
        try:
            truth = parse_bool(value)
        except CellError:
            return to_cell(value)
        return yes_no(lang)[0 if truth else 1]
    if column.say == "reason" and isinstance(value, str):
        return say_reason(value, lang)
    return to_cell(value)


def date_cell(kind: str, value: Any, tz: tzinfo | None) -> Any:
    """A value for a `date` or `datetime` column as a date cell: a naive `date` / `datetime` on the workbook's wall
    clock, which each store writes as a real date cell (a serial number with a date number format).

    A naive datetime is already wall time (SendLog rows are in the group's zone, welcomed_at in the member's); an
    aware one is shown in `tz` (its group's zone, else the workbook's: stores.writeplan.workbook_zones), or kept as
    ISO text with its offset when there is no `tz` (an operator's column). Seconds are kept, microseconds dropped.
    ISO text (a change kept as JSON, an old row) is read the same way; anything else is written as it is."""
    if is_blank(value):
        return ""
    if isinstance(value, str):
        try:
            value = parse_datetime(value)
        except CellError:
            return to_cell(value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if not isinstance(value, datetime):
        return to_cell(value)
    if value.tzinfo is not None:
        if tz is None:
            return to_cell(value)           # no zone to show it in: ISO text with its offset, nothing shifted
        value = value.astimezone(tz).replace(tzinfo=None)
    value = value.replace(microsecond=0)
    return value.date() if kind == "date" else value


# --- reasons ---------------------------------------------------------------------------------------------------
# A reason is composed in English where it happens (the dispatcher, the planner, a platform's code table) and kept
# so in the state store. Each `reason_*` key of i18n.MESSAGES is one way a reason is worded: its English template is
# read as a pattern (`{name}` matches any text), so a reason that matches it is said with the other language's
# template, each part said again the same way (a platform's refusal inside "gave up ...: {reason}").

_FIELD = re.compile(r"\{(\w+)\}")
# placeholders that hold one word (a number, a code, a status): they never swallow the text around them
WORDS = {"count", "part", "parts", "done", "status", "code", "cap", "seconds", "minutes", "size", "limit", "error",
         "platform"}


@functools.cache
def _patterns() -> tuple[tuple[re.Pattern, str], ...]:
    out = []
    for key, texts in MESSAGES.items():
        if not key.startswith("reason_"):
            continue
        english, parts, at, named = texts["en"], [], 0, set()
        for m in _FIELD.finditer(english):
            parts.append(re.escape(english[at:m.start()]))
            body = r"[^\s()]+" if m[1] in WORDS else ".+?"
            parts.append(f"(?P<{m[1]}>{body})" if m[1] not in named else body)
            named.add(m[1])
            at = m.end()
        parts.append(re.escape(english[at:]))
        literal = len(_FIELD.sub("", english))
        out.append((literal, re.compile("".join(parts), re.S), key))
    out.sort(key=lambda x: -x[0])               # the most specific wording first
    return tuple((pattern, key) for _, pattern, key in out)


@functools.lru_cache(maxsize=4096)
def say_reason(text: str, lang: str, _depth: int = 0) -> str:
    """A reason qunflow composed in English, said in `lang` (unchanged in English, or when no wording matches:
    a platform's own words stay its own). Of the wordings that match, the one that leaves the least English wins
    ("rate limited: {detail}" and "{label} (code {code})" both match a coded refusal; the second says more)."""
    if lang == "en" or not text or _depth > 6:
        return text
    best = text
    for pattern, key in _patterns():
        m = pattern.fullmatch(text)
        if m:
            params = {name: _platform(part, lang) if name == "platform" else say_reason(part, lang, _depth + 1)
                      for name, part in m.groupdict().items()}
            said = MESSAGES[key].get(lang, MESSAGES[key]["en"]).format(**params)
            if _latin(said) < _latin(best):
                best = said
    return best


def _latin(text: str) -> int:
    return sum(1 for ch in text if "a" <= ch.lower() <= "z")


def _platform(name: str, lang: str) -> str:
    """A platform's name as the Groups tab's dropdown offers it (Feishu → 飞书)."""
    from .schema import load_schemas
    return str(label(load_schemas()["groups"].column("platform"), name, lang))


# --- the vocabulary a workbook offers ------------------------------------------------------------------------

def words(lang: str) -> dict[str, set[str]]:
    """tab.column -> every value the schema offers in `lang` for that column (enum labels, yes/no, settings)."""
    from .schema import load_schemas
    out: dict[str, set[str]] = {}
    for schema in load_schemas().values():
        for column in schema.columns:
            if column.values:
                out[f"{schema.key}.{column.key}"] = {str(label(column, v.value, lang)) for v in column.values}
            elif column.type == "bool":
                out[f"{schema.key}.{column.key}"] = set(yes_no(lang))
    return out
