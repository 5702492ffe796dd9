"""docs/SCHEMA.md, generated from the tab schemas (`sheets_schema/*.yaml`). Pure."""
from __future__ import annotations

from .layout import ColumnLayout, tab_layout
from .schema import load_schemas

SHOWN_FORMATS = {"percent": "%", "money": "¥", "integer": "0", "datetime": "date+time", "date": "date"}


def _look(c: ColumnLayout) -> str:
    parts = [str(c.width)] + (["wrap"] if c.wrap else []) + ([SHOWN_FORMATS[c.number_format]] if c.number_format else [])
    return " ".join(parts)


def schema_reference() -> str:
    parts = ["# Sheet schema reference\n",
             "Generated from `sheets_schema/*.yaml` by `python docs/generate.py`; do not edit by hand.",
             "Headers are recognised in English (the key) or zh-CN, in any order; `*` marks what qunflow writes.",
             "A value is written in the workbook's language (a zh-CN workbook gets the 中文 of `values`, 是/否 for "
             "yes/no) and read in either. `look` is how the column shows: its width in characters, `wrap`, and a "
             "number format (`%`, `¥`, dates); every tab has a filter on its header row.",
             "A `date` or `datetime` value qunflow writes is a real date cell: a serial number (days since 1899-12-30, "
             "the time as the fraction, kept to the second) shown as `yyyy-mm-dd hh:mm` or `yyyy-mm-dd`, in the "
             "wall time of its row's group (Groups timezone), else of the workbook (Settings timezone), the zone a "
             "time without an offset is read in. Dates typed as text, as older workbooks hold them, are read the "
             "same and matched as the same key. An operator's column (Events `at`) keeps a time that came with an "
             "offset as ISO text with it, and the Settings `value` column is text, so `last_tick` stays ISO text "
             "with its UTC offset.\n"]
    for schema in load_schemas().values():
        parts.append(f"## {schema.titles['en']} / {schema.titles['zh-CN']}\n")
        parts.append("| key | 中文 | type | required | default | values | look | help |")
        parts.append("|---|---|---|---|---|---|---|---|")
        looks = {c.key: c for c in tab_layout(schema, "zh-CN").columns}
        for c in schema.columns:
            values = "" if schema.settings and c.key == "key" else \
                ", ".join(f"{v.value} ({v.labels.get('zh-CN', '')})" for v in c.values)
            if c.type == "bool":
                values = "yes (是), no (否)"
            star = "*" if c.written or schema.written else ""
            parts.append(f"| {c.key}{star} | {c.headers['zh-CN']} | {c.type}{' →' + c.ref if c.ref else ''} | "
                         f"{'yes' if c.required else ''} | {c.default or ''} | {values} | {_look(looks[c.key])} | "
                         f"{c.help['en']} {c.help['zh-CN']} |")
        if schema.settings:
            parts.append("\nKnown settings (the key is written as its 中文 label in a zh-CN workbook, read in either):\n")
            parts.append("| key | 中文 | type | default | help |")
            parts.append("|---|---|---|---|---|")
            for c in schema.settings:
                parts.append(f"| {c.key} | {c.headers['zh-CN']} | {c.type} | {c.default or ''} | "
                             f"{c.help['en']} {c.help['zh-CN']} |")
        parts.append("")
    return "\n".join(parts)
