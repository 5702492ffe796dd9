"""The tab schemas: `sheets_schema/*.yaml`, the single source of truth (found by `sop.resources`).

Records, validation, headers, dropdowns, header notes and docs/SCHEMA.md are all
derived from these files. This module only loads them into small typed objects.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml

from ..sop.resources import override, shipped, yaml_files

LANGS = ("en", "zh-CN")
COLUMN_TYPES = frozenset({
    "text", "int", "decimal", "bool", "date", "datetime", "time", "enum", "list",
    "reference", "template", "schedule", "duration",
    # added by qunflow: operator-typed values that need their own checks
    "phone", "timezone", "time_range",
})


@dataclass(frozen=True)
class EnumValue:
    value: str
    labels: dict[str, str]  # lang -> label operators may type instead of the value


@dataclass(frozen=True)
class Column:
    key: str
    headers: dict[str, str]          # lang -> header text
    type: str
    help: dict[str, str]
    required: bool = False
    default: str | None = None
    values: tuple[EnumValue, ...] = ()
    ref: str | None = None           # "tab.column" for references
    unique: bool = False
    id: bool = False                 # kept as text exactly as typed; TEXT format in the sheet
    written: bool = False            # qunflow writes it; operators should not
    example: str = ""
    say: str = ""                    # "reason": English reasons qunflow composed, said in the workbook's language
    width: int | None = None         # the column's width in characters (else from the header and the type)
    wrap: bool = False               # long text wraps in its cell
    format: str = ""                 # percent | money | integer: how numbers show (sheet.layout.NUMBER_FORMATS)

    def header(self, lang: str) -> str:
        return self.headers.get(lang) or self.key


@dataclass(frozen=True)
class TabSchema:
    key: str                          # "groups"
    titles: dict[str, str]            # lang -> tab title
    record: str                       # record class name in qunflow.sheet.records
    key_columns: tuple[str, ...]
    columns: tuple[Column, ...]
    written: bool = False             # the whole tab is written by qunflow
    settings: tuple[Column, ...] = ()  # only the Settings tab: the known keys
    optional: bool = False            # a workbook may lack the tab: no Problem, read as empty

    def column(self, key: str) -> Column:
        return self._by_key()[key]

    @functools.cache
    def _by_key(self) -> dict[str, Column]:
        return {c.key: c for c in self.columns}

    def title(self, lang: str) -> str:
        return self.titles.get(lang) or self.titles["en"]

    def __hash__(self) -> int:
        return hash(self.key)


def schema_dir() -> Traversable:
    """Where the YAML lives: $QUNFLOW_SCHEMA_DIR (an explicit override), else the package's shipped
    sheets_schema/ (see `sop.resources`: importlib.resources, or the repository in a source checkout)."""
    env = os.environ.get("QUNFLOW_SCHEMA_DIR")
    return override(env, "QUNFLOW_SCHEMA_DIR", folder=True) if env else shipped("sheets_schema")


def _column(raw: dict) -> Column:
    if raw["type"] not in COLUMN_TYPES:
        raise ValueError(f"column {raw['key']}: unknown type {raw['type']}")
    default = raw.get("default")
    return Column(
        key=raw["key"],
        headers={"en": raw["key"], "zh-CN": raw.get("zh-CN", raw["key"])},
        type=raw["type"],
        help=dict(raw.get("help") or {}),
        required=bool(raw.get("required", False)),
        default=None if default is None else str(default),
        values=tuple(EnumValue(v["value"], {k: s for k, s in v.items() if k != "value"}) for v in raw.get("values", ())),
        ref=raw.get("ref"),
        unique=bool(raw.get("unique", False)),
        id=bool(raw.get("id", False)),
        written=bool(raw.get("written", False)),
        example=str(raw.get("example", "")),
        say=str(raw.get("say", "")),
        width=raw.get("width"),
        wrap=bool(raw.get("wrap", False)),
        format=str(raw.get("format", "")),
    )


def _settings_key(column: Column, settings: tuple[Column, ...]) -> Column:
    """The Settings tab's `key` column offers the known settings: written as their label in the workbook's
    language (时区 for timezone), read in either (sheet.vocabulary)."""
    from dataclasses import replace
    values = tuple(EnumValue(s.key, {"zh-CN": s.headers["zh-CN"]}) for s in settings)
    return replace(column, values=values)


@functools.cache
def load_schemas(directory: str | None = None) -> dict[str, TabSchema]:
    """All tab schemas, keyed by tab key, in a stable order (settings first)."""
    folder = Path(directory) if directory else schema_dir()
    tabs: dict[str, TabSchema] = {}
    for path in yaml_files(folder):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        settings = tuple(_column(c) for c in raw.get("settings", ()))
        columns = tuple(_column(c) for c in raw["columns"])
        if settings:
            columns = tuple(_settings_key(c, settings) if c.key == "key" else c for c in columns)
        tabs[raw["tab"]] = TabSchema(
            key=raw["tab"],
            titles=dict(raw["title"]),
            record=raw["record"],
            key_columns=tuple(raw["key"]),
            columns=columns,
            written=bool(raw.get("written", False)),
            settings=settings,
            optional=bool(raw.get("optional", False)),
        )
    order = ["settings", "groups", "members", "tags", "coupons", "templates", "cards", "sop", "campaigns", "events",
             "sendlog", "metrics", "cohorts", "rules_report", "problems"]
    return {k: tabs[k] for k in sorted(tabs, key=lambda k: order.index(k) if k in order else len(order))}


def is_schema_title(title: str) -> bool:
    """Whether a tab title is one of qunflow's tabs (in either language); other tabs are read only to find one of
    these renamed (`tabs_to_read`)."""
    from .cells import fold
    wanted = {fold(t) for schema in load_schemas().values() for t in (*schema.titles.values(), schema.key)}
    return fold(title) in wanted


def tabs_to_read(titles: list[str]) -> list[str]:
    """The tabs a store reads, in the workbook's order: qunflow's own, and, while one of them is not there by its
    title, every other tab but the archives (one may be that tab renamed, found by its headers: sheet.tables)."""
    from .cells import fold
    ours = [t for t in titles if is_schema_title(t)]
    present = {fold(t) for t in ours}
    if all(any(fold(t) in present for t in (*s.titles.values(), s.key)) for s in load_schemas().values()):
        return ours
    return [t for t in titles if t in ours or not is_archive_title(t)]


def is_archive_title(title: str) -> bool:
    """The archive tabs housekeeping fills (`SendLog archive`, `发送记录归档`): never taken for a live tab."""
    from .cells import fold
    folded = fold(title)
    return folded.endswith("archive") or folded.endswith("归档")
