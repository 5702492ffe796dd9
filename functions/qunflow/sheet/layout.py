"""What each tab looks like when qunflow creates it: headers, notes, dropdowns, formats. Pure."""
from __future__ import annotations

from dataclasses import dataclass

from .schema import TabSchema, load_schemas


@dataclass(frozen=True)
class ColumnLayout:
    key: str
    header: str
    note: str                     # the help text, shown as the header's note
    dropdown: tuple[str, ...]     # allowed values, for enum columns
    text_format: bool             # ids, phones and codes: TEXT, so 0123 stays 0123
    computed: bool                # written by qunflow: protected (warning only)
    width: int


@dataclass(frozen=True)
class TabLayout:
    key: str
    title: str
    columns: tuple[ColumnLayout, ...]

    @property
    def header(self) -> list[str]:
        return [c.header for c in self.columns]


def tab_layout(schema: TabSchema, lang: str) -> TabLayout:
    columns = []
    for c in schema.columns:
        note = c.help.get(lang) or c.help.get("en", "")
        if c.example and not c.written:
            note += ("\n例如：" if lang == "zh-CN" else "\nExample: ") + c.example
        dropdown = tuple((v.labels.get(lang) if lang != "en" and v.labels.get(lang) else v.value) for v in c.values)
        width = 28 if c.type in ("template", "text") and c.key in ("content", "message", "webhook", "preview", "outcome") else 16
        columns.append(ColumnLayout(c.key, c.header(lang), note, dropdown, c.id or c.type in ("phone", "reference"),
                                    c.written or schema.written, width))
    return TabLayout(schema.key, schema.title(lang), tuple(columns))


def workbook_layout(lang: str) -> list[TabLayout]:
    return [tab_layout(s, lang) for s in load_schemas().values()]
