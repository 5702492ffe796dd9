"""Find each tab and its columns in a raw workbook, whatever the language and order.

A raw workbook is `{tab title: [row, ...]}`, each row a list of cell values,
the header first. Titles and headers match in English (the keys) or zh-CN,
ignoring case, surrounding spaces and full-width forms. Extra columns are kept
as they are (qunflow never touches them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .cells import fold, is_blank
from .problems import WARNING, ProblemSink
from .schema import LANGS, TabSchema

RawWorkbook = dict[str, list[list[Any]]]


@dataclass
class Table:
    schema: TabSchema
    title: str                        # as it is in the workbook
    header: list[Any]                 # row 1 as it is in the workbook
    columns: dict[str, int]           # column key -> 0-based index
    rows: list[list[Any]]             # data rows; rows[i] is sheet row i + 2
    grid_rows: int | None = None      # the sheet's grid size, when the store knows it
    missing: bool = False             # the tab does not exist yet

    def header_of(self, key: str, lang: str) -> str:
        """The header of a column as the operator sees it (or would, once added)."""
        if key in self.columns:
            return str(self.header[self.columns[key]]).strip()
        return self.schema.column(key).header(lang)

    def cell(self, row: list[Any], key: str) -> Any:
        index = self.columns.get(key)
        return row[index] if index is not None and index < len(row) else None

    @property
    def width(self) -> int:
        return max([len(self.header)] + [i + 1 for i in self.columns.values()])


@dataclass
class Located:
    tables: dict[str, Table] = field(default_factory=dict)
    extra_tabs: list[str] = field(default_factory=list)


def _title_keys(schema: TabSchema) -> set[str]:
    return {fold(schema.key)} | {fold(schema.title(lang)) for lang in LANGS}


def detect_language(raw: RawWorkbook, schemas: dict[str, TabSchema]) -> str:
    """Settings.language if set, else the language most tab titles are in, else en."""
    zh = en = 0
    for title, rows in raw.items():
        for schema in schemas.values():
            if fold(title) == fold(schema.title("zh-CN")) and schema.title("zh-CN") != schema.title("en"):
                zh += 1
            elif fold(title) in (fold(schema.title("en")), fold(schema.key)):
                en += 1
            else:
                continue
            if schema.key == "settings":
                for row in rows[1:]:
                    if len(row) >= 2 and fold(row[0]) in ("language", "语言"):
                        value = fold(row[1])
                        if value in ("zh-cn", "zh", "中文"):
                            return "zh-CN"
                        if value in ("en", "english", "英文"):
                            return "en"
    return "zh-CN" if zh > en else "en"


def locate(raw: RawWorkbook, schemas: dict[str, TabSchema], sink: ProblemSink,
           grid_rows: dict[str, int] | None = None) -> Located:
    located = Located()
    by_fold = {fold(title): title for title in raw}
    for schema in schemas.values():
        title = next((by_fold[k] for k in _title_keys(schema) if k in by_fold), None)
        if title is None:
            located.tables[schema.key] = Table(schema, schema.title(sink.lang), [], {}, [], missing=True)
            if not schema.written:
                sink.add("missing_tab", tab=schema.title(sink.lang), row=None)
            continue
        rows = raw[title]
        header = list(rows[0]) if rows else []
        table = Table(schema, title, header, _match_columns(schema, header, title, sink), list(rows[1:]),
                      (grid_rows or {}).get(title))
        located.tables[schema.key] = table
        for column in schema.columns:
            if column.required and column.key not in table.columns:
                sink.add("missing_column", tab=title, row=1, column=column.header(sink.lang))
    known = {t.title for t in located.tables.values() if not t.missing}
    located.extra_tabs = [t for t in raw if t not in known]
    return located


def _match_columns(schema: TabSchema, header: list[Any], title: str, sink: ProblemSink) -> dict[str, int]:
    wanted = {}
    for column in schema.columns:
        for text in {column.key, *column.headers.values()}:
            wanted[fold(text)] = column.key
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        if is_blank(cell):
            continue
        key = wanted.get(fold(cell))
        if key is None:
            continue  # an extra column: left untouched
        if key in found:
            sink.add("duplicate_header", tab=title, row=1, column=str(cell).strip(), value=str(cell).strip(),
                     severity=WARNING, other=_letter(found[key]))
            continue
        found[key] = index
    return found


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


column_letter = _letter
