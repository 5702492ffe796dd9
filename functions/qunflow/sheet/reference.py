"""docs/SCHEMA.md, generated from the tab schemas (`sheets_schema/*.yaml`). Pure."""
from __future__ import annotations

from .schema import load_schemas


def schema_reference() -> str:
    parts = ["# Sheet schema reference\n",
             "Generated from `sheets_schema/*.yaml` by `python docs/generate.py`; do not edit by hand.",
             "Headers are recognised in English (the key) or zh-CN, in any order; `*` marks what qunflow writes.\n"]
    for schema in load_schemas().values():
        parts.append(f"## {schema.titles['en']} / {schema.titles['zh-CN']}\n")
        parts.append("| key | 中文 | type | required | default | values | help |")
        parts.append("|---|---|---|---|---|---|---|")
        for c in schema.columns:
            values = ", ".join(f"{v.value} ({v.labels.get('zh-CN', '')})" for v in c.values)
            star = "*" if c.written or schema.written else ""
            parts.append(f"| {c.key}{star} | {c.headers['zh-CN']} | {c.type}{' →' + c.ref if c.ref else ''} | "
                         f"{'yes' if c.required else ''} | {c.default or ''} | {values} | {c.help['en']} {c.help['zh-CN']} |")
        if schema.settings:
            parts.append("\nKnown settings:\n")
            parts.append("| key | type | default | help |")
            parts.append("|---|---|---|---|")
            for c in schema.settings:
                parts.append(f"| {c.key} | {c.type} | {c.default or ''} | {c.help['en']} {c.help['zh-CN']} |")
        parts.append("")
    return "\n".join(parts)
