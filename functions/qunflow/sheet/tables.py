"""Find each tab and its columns in a raw workbook, whatever the language, the order, or a title row on top.

A raw workbook is `{tab title: [row, ...]}`, each row a list of cell values from row 1 down. Titles and
headers match in English (the keys) or zh-CN, ignoring case, surrounding spaces and full-width forms.
Extra columns are kept as they are (qunflow never touches them).

- The header is the row, among the first `HEADER_ROWS`, that names the most of the tab's columns; rows
  above it (an operator's title, a note) are not data, and nothing is written there.
- A tab whose header is not found, or an operator's tab without its key column, is *unreadable*: it is
  reported once, read as missing, and never written (no appends, no cells, no header cells).
- A tab that is not there by its title is looked for by its headers among the other tabs: the one that
  has them is used (a warning says so); one that only probably is it is reported by name and left alone,
  and no second copy is created.
- Merged header cells are reported (the store says which cells are merged, `merged`); without that, a
  column with values but no header, while a column qunflow needs is not found, is reported too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .cells import fold, is_blank
from .problems import ERROR, WARNING, Problem, ProblemSink
from .schema import LANGS, TabSchema, is_archive_title

RawWorkbook = dict[str, list[list[Any]]]
Merged = dict[str, list[tuple[int, int, int, int]]]   # title -> merged ranges (row0, col0, row1, col1), 0-based

HEADER_ROWS = 5            # the header is looked for in this many rows from the top
ADOPT_SHARE = 0.5          # a tab with at least this share of a missing tab's headers (and its key) is that tab
TAB_ERRORS = frozenset({"missing_column", "header_not_found", "tab_probably_renamed", "missing_tab", "empty_tab"})


@dataclass
class Table:
    schema: TabSchema
    title: str                        # as it is in the workbook
    header: list[Any]                 # the header row as it is in the workbook
    columns: dict[str, int]           # column key -> 0-based index
    rows: list[list[Any]]             # data rows; rows[i] is sheet row `sheet_row(i)`
    grid_rows: int | None = None      # the sheet's grid size, when the store knows it
    missing: bool = False             # nothing to read: the tab does not exist yet, is empty, or is unreadable
    header_row: int = 1               # the sheet row of the header (a title row may sit above it)
    unreadable: bool = False          # the tab is there but its columns are not known: never written
    empty: bool = False               # the tab is there with nothing in it: its header goes in row 1

    def header_of(self, key: str, lang: str) -> str:
        """The header of a column as the operator sees it (or would, once added)."""
        if key in self.columns:
            return str(self.header[self.columns[key]]).strip()
        return self.schema.column(key).header(lang)

    def cell(self, row: list[Any], key: str) -> Any:
        index = self.columns.get(key)
        return row[index] if index is not None and index < len(row) else None

    def sheet_row(self, index: int) -> int:
        """The row number the operator sees for `rows[index]`."""
        return self.header_row + 1 + index

    @property
    def width(self) -> int:
        return max([len(self.header)] + [i + 1 for i in self.columns.values()])


@dataclass
class Located:
    tables: dict[str, Table] = field(default_factory=dict)
    extra_tabs: list[str] = field(default_factory=list)


def tab_errors(problems: list[Problem]) -> list[Problem]:
    """Errors about a whole tab or column (not one cell): what makes `tick` and `validate` exit non-zero."""
    return [p for p in problems if p.severity == ERROR and p.code in TAB_ERRORS]


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


# --- the header row ------------------------------------------------------------------------------------

def _wanted(schema: TabSchema) -> dict[str, str]:
    wanted = {}
    for column in schema.columns:
        for text in {column.key, *column.headers.values()}:
            wanted[fold(text)] = column.key
    return wanted


def _match(wanted: dict[str, str], header: list[Any]) -> tuple[dict[str, int], list[tuple[int, str, int]]]:
    """(column key -> index, [(index, text, first index)] of headers seen twice)."""
    found: dict[str, int] = {}
    twice = []
    for index, cell in enumerate(header):
        if is_blank(cell):
            continue
        key = wanted.get(fold(cell))
        if key is None:
            continue  # an extra column: left untouched
        if key in found:
            twice.append((index, str(cell).strip(), found[key]))
            continue
        found[key] = index
    return found, twice


def find_header(schema: TabSchema, rows: list[list[Any]]) -> tuple[int, dict[str, int]] | None:
    """(0-based row index, columns) of the header among the first HEADER_ROWS rows, or None: the row naming the
    most of the tab's columns (the first of equals), if it names two of them, or all its key columns."""
    wanted = _wanted(schema)
    best: tuple[int, dict[str, int]] | None = None
    for index, row in enumerate(rows[:HEADER_ROWS]):
        columns, _ = _match(wanted, list(row))
        if columns and (best is None or len(columns) > len(best[1])):
            best = (index, columns)
    if best is None:
        return None
    columns = best[1]
    if len(columns) >= 2 or all(k in columns for k in schema.key_columns) or len(schema.columns) == 1:
        return best
    return None


def _blank_tab(rows: list[list[Any]]) -> bool:
    return all(is_blank(v) for row in rows for v in row)


def _examples(schema: TabSchema, lang: str) -> str:
    keys = [c for c in schema.columns if c.required or c.key in schema.key_columns] or list(schema.columns[:3])
    return ", ".join(c.header(lang) for c in keys)


def _table(schema: TabSchema, title: str, rows: list[list[Any]], sink: ProblemSink, grid: int | None,
           merged: list[tuple[int, int, int, int]]) -> Table:
    if _blank_tab(rows):
        if not schema.written and not schema.optional:
            sink.add("empty_tab", tab=title, row=None, headers=_examples(schema, sink.lang))
        return Table(schema, title, [], {}, [], grid, missing=True, empty=True)
    found = find_header(schema, rows)
    if found is None:
        sink.add("header_not_found", tab=title, row=None, rows=HEADER_ROWS, headers=_examples(schema, sink.lang))
        return Table(schema, title, [], {}, [], grid, missing=True, unreadable=True)
    index, columns = found
    header = list(rows[index])
    table = Table(schema, title, header, columns, [list(r) for r in rows[index + 1:]], grid, header_row=index + 1)
    for _, text, first in _match(_wanted(schema), header)[1]:
        sink.add("duplicate_header", tab=title, row=table.header_row, column=text, value=text, severity=WARNING,
                 other=_letter(first))
    for column in schema.columns:
        if column.required and column.key not in columns:
            sink.add("missing_column", tab=title, row=table.header_row, column=column.header(sink.lang),
                     header_row=table.header_row)
    if not schema.written and not all(k in columns for k in schema.key_columns):
        table.missing = table.unreadable = True   # rows without their key: nothing to match a write to
        table.rows = []
        return table
    _report_lost_headers(table, merged, sink)
    return table


def _report_lost_headers(table: Table, merged: list[tuple[int, int, int, int]], sink: ProblemSink) -> None:
    """Merged header cells, and columns with values but no header, while a column qunflow reads is not found."""
    at = table.header_row - 1
    lost = [c.header(sink.lang) for c in table.schema.columns if not c.written and c.key not in table.columns]
    missing = ", ".join(lost) or "-"
    covered: set[int] = set()
    for r0, c0, r1, c1 in merged:
        if r0 <= at <= r1 and (c1 > c0 or r0 < at):
            covered |= set(range(c0, c1 + 1))
            first = table.header[c0] if c0 < len(table.header) and not is_blank(table.header[c0]) else ""
            span = f"{_letter(c0)}{r0 + 1}:{_letter(c1)}{r1 + 1}"
            sink.add("merged_header", tab=table.title, row=table.header_row, value=span, severity=WARNING,
                     column=str(first).strip() or _letter(c0), missing=missing)
    if not lost:
        return
    width = max([len(r) for r in table.rows] + [len(table.header)])
    for index in range(width):
        if index in covered or (index < len(table.header) and not is_blank(table.header[index])):
            continue
        if any(index < len(r) and not is_blank(r[index]) for r in table.rows):
            sink.add("unnamed_column", tab=table.title, row=table.header_row, column=_letter(index), value="",
                     severity=WARNING, missing=missing, header_row=table.header_row)


# --- finding every tab ---------------------------------------------------------------------------------

def locate(raw: RawWorkbook, schemas: dict[str, TabSchema], sink: ProblemSink,
           grid_rows: dict[str, int] | None = None, merged: Merged | None = None) -> Located:
    located = Located()
    by_fold = {fold(title): title for title in raw}
    grid_rows, merged = grid_rows or {}, merged or {}
    claimed: set[str] = set()
    absent: list[TabSchema] = []
    for schema in schemas.values():
        title = next((by_fold[k] for k in _title_keys(schema) if k in by_fold), None)
        if title is None:
            absent.append(schema)
            continue
        claimed.add(title)
        located.tables[schema.key] = _table(schema, title, raw[title], sink, grid_rows.get(title),
                                            merged.get(title, []))
    others = [t for t in raw if t not in claimed and not is_archive_title(t)]
    found_elsewhere = set()
    for schema, title, adopt, matched in _renamed(absent, others, raw):
        claimed.add(title)
        found_elsewhere.add(schema.key)
        expected = schema.title(sink.lang)
        if adopt:
            sink.add("renamed_tab", tab=title, row=None, severity=WARNING, found=title, expected=expected)
            located.tables[schema.key] = _table(schema, title, raw[title], sink, grid_rows.get(title),
                                                merged.get(title, []))
        else:
            sink.add("tab_probably_renamed", tab=title, row=None, found=title, expected=expected,
                     matched=", ".join(matched) or "-", headers=_examples(schema, sink.lang))
            located.tables[schema.key] = Table(schema, title, [], {}, [], missing=True, unreadable=True)
    for schema in absent:
        if schema.key in found_elsewhere:
            continue
        located.tables[schema.key] = Table(schema, schema.title(sink.lang), [], {}, [], missing=True)
        if not schema.written and not schema.optional:
            sink.add("missing_tab", tab=schema.title(sink.lang), row=None)
    located.tables = {key: located.tables[key] for key in schemas}
    located.extra_tabs = [t for t in raw if t not in claimed]
    return located


def _renamed(absent: list[TabSchema], others: list[str],
             raw: RawWorkbook) -> list[tuple[TabSchema, str, bool, list[str]]]:
    """(schema, title, adopt, the headers it has) for each tab that is, or probably is, an absent tab renamed:
    adopted when it has the key and at least ADOPT_SHARE of the headers; probably it when it has the key and
    two headers, or (an operator's tab) the tab's name in its title. Each tab and each title is used once, the
    best match first."""
    scored = []
    for schema in absent:
        names = {fold(schema.title(lang)) for lang in LANGS} | {fold(schema.key)}
        for title in others:
            found = find_header(schema, raw[title])
            columns = found[1] if found else {}
            keys = all(k in columns for k in schema.key_columns)
            share = len(columns) / len(schema.columns)
            matched = [str(raw[title][found[0]][i]).strip() for i in sorted(columns.values())] if found else []
            if keys and share >= ADOPT_SHARE:
                scored.append((2, share, schema, title, True, matched))
            elif (keys and len(columns) >= 2) or (not schema.written and any(n in fold(title) for n in names)):
                scored.append((1, share, schema, title, False, matched))
    out, schemas_used, titles_used = [], set(), set()
    for _, _, schema, title, adopt, matched in sorted(scored, key=lambda s: (-s[0], -s[1])):
        if schema.key not in schemas_used and title not in titles_used:
            schemas_used.add(schema.key)
            titles_used.add(title)
            out.append((schema, title, adopt, matched))
    return out


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


column_letter = _letter
