"""What each tab looks like when qunflow creates it: headers, notes, dropdowns, widths, wrap, number formats and a
filter on the header row. Pure: both stores (stores.xlsx*, stores.gsheets, jobs.initbook) apply it.

Everything here comes from the schema YAML (`width`, `wrap`, `format` per column; `type` gives dates, yes/no and
the typical width), so docs/SCHEMA.md shows it too.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from .schema import Column, TabSchema, load_schemas
from .vocabulary import cell_value, label, yes_no

# Number formats by the column's `format` or, for dates, its type: (xlsx number_format, Google numberFormat)
NUMBER_FORMATS = {
    "percent": ("0%", {"type": "PERCENT", "pattern": "0%"}),
    "money": ('"¥"#,##0.00', {"type": "CURRENCY", "pattern": '"¥"#,##0.00'}),
    "integer": ("0", {"type": "NUMBER", "pattern": "0"}),
    "datetime": ("yyyy-mm-dd hh:mm", {"type": "DATE_TIME", "pattern": "yyyy-mm-dd hh:mm"}),
    "date": ("yyyy-mm-dd", {"type": "DATE", "pattern": "yyyy-mm-dd"}),
}
# what a cell of each type typically holds, in display columns (a CJK character is two)
TYPICAL_WIDTH = {"datetime": 17, "date": 11, "time": 6, "int": 8, "decimal": 10, "bool": 6, "template": 40,
                 "schedule": 18, "duration": 8, "timezone": 14, "time_range": 12, "phone": 13, "list": 14,
                 "reference": 10, "text": 14}
MAX_WIDTH = 60


@dataclass(frozen=True)
class ColumnLayout:
    key: str
    header: str
    note: str                     # the help text, shown as the header's note
    dropdown: tuple[str, ...]     # allowed values, for enum and yes/no columns
    text_format: bool             # ids, phones and codes: TEXT, so 0123 stays 0123
    computed: bool                # written by qunflow: protected (warning only)
    width: int                    # in characters
    wrap: bool = False            # long text wraps
    number_format: str = ""       # a key of NUMBER_FORMATS ("" for none)
    column: Column | None = None  # the schema column, to write values in the workbook's language

    def value(self, value, lang: str):
        return cell_value(self.column, value, lang)


@dataclass(frozen=True)
class TabLayout:
    key: str
    title: str
    columns: tuple[ColumnLayout, ...]

    @property
    def header(self) -> list[str]:
        return [c.header for c in self.columns]


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _width(c: Column, header: str, dropdown: tuple[str, ...]) -> int:
    if c.width:
        return int(c.width)
    typical = max([display_width(v) for v in dropdown] + [TYPICAL_WIDTH.get(c.type, 14)])
    if c.id:
        typical = 12
    return min(MAX_WIDTH, max(display_width(header) + 3, typical + 2))   # +3: room for the filter button


def _note(c: Column, lang: str) -> str:
    note = c.help.get(lang) or c.help.get("en", "")
    if c.example and not c.written:
        example = label(c, c.example, lang) if c.values else cell_value(c, c.example, lang) if c.type == "bool" \
            else c.example
        note += ("\n例如：" if lang == "zh-CN" else "\nExample: ") + str(example)
    return note


def number_format(c: Column) -> str:
    if c.format:
        return c.format
    return c.type if c.type in ("datetime", "date") else ""


def tab_layout(schema: TabSchema, lang: str) -> TabLayout:
    columns = []
    for c in schema.columns:
        if c.values:
            dropdown = tuple(str(label(c, v.value, lang)) for v in c.values)
        elif c.type == "bool":
            dropdown = yes_no(lang)
        else:
            dropdown = ()
        header = c.header(lang)
        columns.append(ColumnLayout(c.key, header, _note(c, lang), dropdown, c.id or c.type in ("phone", "reference"),
                                    c.written or schema.written, _width(c, header, dropdown), c.wrap,
                                    number_format(c), c))
    return TabLayout(schema.key, schema.title(lang), tuple(columns))


def workbook_layout(lang: str) -> list[TabLayout]:
    return [tab_layout(s, lang) for s in load_schemas().values()]


def layout_for_title(title: str) -> tuple[TabLayout, str] | None:
    """The layout of the tab with this title (either language), and that language."""
    from .cells import fold
    for schema in load_schemas().values():
        for lang in ("zh-CN", "en"):
            if fold(title) in (fold(schema.title(lang)), fold(schema.key)):
                return tab_layout(schema, lang), lang
    return None
