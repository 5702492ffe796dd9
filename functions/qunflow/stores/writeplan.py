"""Resolve keyed Changes into cell positions against the tables as they are now. Pure.

The plan is a list of rectangular writes (row/column 1-based, as in A1
notation) plus rows to append at the end of log tabs, plus tabs and headers to
create. Stores execute plans; the MemoryStore and the XlsxStore's pending
overlay apply them to raw lists with `apply_to_raw`.

Rows are addressed below each tab's header row (`Table.header_row`: a title row may sit above it). A tab
qunflow cannot read (`Table.unreadable`) gets nothing: its changes are listed in `skipped`, once per tab.
An empty tab gets its header in row 1; only a tab that is not there at all is created.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, tzinfo
from typing import Any

from ..sheet.cells import CellError, fold, is_blank, parse_datetime, parse_id, parse_timezone
from ..sheet.changes import Changes, Row, to_cell
from ..sheet.schema import TabSchema
from ..sheet.tables import RawWorkbook, Table
from ..sheet.vocabulary import canonical, cell_value


@dataclass
class RangeWrite:
    title: str
    row: int              # 1-based first row
    col: int              # 1-based first column
    values: list[list[Any]]

    @property
    def last_row(self) -> int:
        return self.row + len(self.values) - 1


@dataclass
class Append:
    title: str
    rows: list[list[Any]]


@dataclass
class WritePlan:
    new_tabs: list[tuple[str, list[str]]] = field(default_factory=list)   # title, header
    writes: list[RangeWrite] = field(default_factory=list)
    appends: list[Append] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)                       # keyed changes whose row is gone
    # each Problem's cell, by the Problems tab's title: its link cell (sheet row, column) -> (tab title, A1 cell);
    # the stores make them links (a cell hyperlink in xlsx, a #gid=…&range=… address on Google)
    links: dict[str, dict[tuple[int, int], tuple[str, str]]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.new_tabs or self.writes or self.appends)


def _norm_key(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return fold(parse_id(value))
        except ValueError:
            return fold(value)
    if isinstance(value, datetime) and value.time() == time():
        value = value.date()
    return fold(to_cell(value))


def _key_part(column: Any, value: Any) -> Any:
    """One key value as compared: either language's form (上次运行 / last_tick) is one key, and a date key is one
    day whether the cell holds ISO text (an old row), a date cell (openpyxl/calamine: a datetime) or a serial
    number (Google)."""
    value = canonical(column, value)
    if column.type in ("date", "datetime") and not is_blank(value):
        try:
            parsed = parse_datetime(value)
        except CellError:
            return value
        return parsed.date() if column.type == "date" else parsed.replace(tzinfo=None, microsecond=0)
    return value


def _key_of(table: Table, row: list[Any]) -> tuple[str, ...] | None:
    """The row's key; None when its first key column is blank. A later key column may be blank (a Members row
    written before memberships, with no group): it is then matched as empty."""
    values = [_key_part(table.schema.column(key), table.cell(row, key)) for key in table.schema.key_columns]
    if is_blank(values[0]):
        return None
    return tuple("" if is_blank(v) else _norm_key(v) for v in values)


def _fold_key(values: tuple[Any, ...], schema: TabSchema | None = None) -> tuple[str, ...]:
    columns = [schema.column(k) for k in schema.key_columns] if schema is not None else []
    return tuple(_norm_key(_key_part(columns[i], v) if i < len(columns) else v) for i, v in enumerate(values))


def _zone(raw: Any, fallback: tzinfo | None) -> tzinfo | None:
    try:
        return parse_timezone(raw)
    except CellError:
        return fallback


def workbook_zones(tables: dict[str, Table]) -> tuple[tzinfo, dict[str, tzinfo]]:
    """The workbook's time zone (Settings timezone, else its default) and each group's own (Groups timezone): an
    aware datetime is written as wall time in its row's group's zone, else the workbook's, the zones in which a
    naive time is read back (engine.ledger.from_sendlog, the members' and coupons' times)."""
    from ..sheet.schema import load_schemas
    default = next((s.default for s in load_schemas()["settings"].settings if s.key == "timezone"), "Asia/Shanghai")
    zone = parse_timezone(default)
    table = tables.get("settings")
    if table is not None and not table.missing and not table.unreadable:
        for row in table.rows:
            if canonical(table.schema.column("key"), table.cell(row, "key")) == "timezone":
                zone = _zone(table.cell(row, "value"), zone)
    groups: dict[str, tzinfo] = {}
    table = tables.get("groups")
    if table is not None and not table.missing and not table.unreadable and "timezone" in table.columns:
        for row in table.rows:
            group, own = table.cell(row, "group_id"), _zone(table.cell(row, "timezone"), None)
            if not is_blank(group) and own is not None:
                try:
                    groups[fold(parse_id(group))] = own
                except ValueError:
                    continue
    return zone, groups


class _TabPlan:
    """The layout of one tab while a plan is built: its columns, and rows by key."""

    def __init__(self, table: Table, lang: str, plan: WritePlan,
                 zones: tuple[tzinfo | None, dict[str, tzinfo]] = (None, {})):
        self.table, self.plan, self.lang, self.zones = table, plan, lang, zones
        self.group_at: dict[int, Any] = {}        # sheet row -> its group_id: its times are in that group's zone
        self.schema_columns = {c.key: c for c in table.schema.columns}
        self.frozen = table.unreadable             # never written: not a cell, not a header, not a row
        self.columns = {} if self.frozen else dict(table.columns)
        self.header_len = len(table.header)
        self.header_row = table.header_row
        if self.frozen:
            plan.skipped.append(f"{table.title}: qunflow cannot read this tab (see the Problems tab); nothing "
                                "was written to it")
        elif table.missing:
            header = [c.header(lang) for c in table.schema.columns]
            if table.empty:
                plan.writes.append(RangeWrite(table.title, 1, 1, [header]))
            else:
                plan.new_tabs.append((table.title, header))
            self.columns = {c.key: i for i, c in enumerate(table.schema.columns)}
            self.header_len, self.header_row = len(header), 1
        else:
            for column in table.schema.columns:   # a column qunflow writes but the operator removed
                if column.written and column.key not in self.columns:
                    self.columns[column.key] = self.header_len
                    plan.writes.append(RangeWrite(table.title, self.header_row, self.header_len + 1,
                                                  [[column.header(lang)]]))
                    self.header_len += 1
        self.rows_by_key: dict[tuple[str, ...], int] = {}
        self.rows_by_first: dict[str, int] = {}     # a key given by its first column only: the first such row
        for index, row in enumerate(table.rows):
            key = _key_of(table, row)
            if "group_id" in self.columns:
                self.group_at[table.sheet_row(index)] = table.cell(row, "group_id")
            if key is not None:
                self.rows_by_key.setdefault(key, table.sheet_row(index))
                self.rows_by_first.setdefault(key[0], table.sheet_row(index))
        self.next_row = self._last_used_row() + 1

    def _last_used_row(self) -> int:
        last = self.header_row
        for index, row in enumerate(self.table.rows):
            if not all(is_blank(v) for v in row):
                last = self.table.sheet_row(index)
        return last

    def line(self, row: Row) -> list[Any]:
        width = max(self.columns.values()) + 1 if self.columns else 0
        out: list[Any] = [""] * width
        for key, value in row.items():
            if key in self.columns:
                out[self.columns[key]] = self.cell(key, value, row.get("group_id"))
        return out

    def set_cell(self, sheet_row: int, column: str, value: Any) -> None:
        if column in self.columns and not self.frozen:
            self.plan.writes.append(RangeWrite(self.table.title, sheet_row, self.columns[column] + 1,
                                               [[self.cell(column, value, self.group_at.get(sheet_row))]]))

    def cell(self, column: str, value: Any, group: Any = None) -> Any:
        """The value in the workbook's language (sheet.vocabulary: 已核销 for redeemed in a zh-CN workbook); a time
        qunflow writes in its group's zone, else the workbook's (`workbook_zones`)."""
        zone, groups = self.zones
        if not is_blank(group) and groups:
            try:
                zone = groups.get(fold(parse_id(group)), zone)
            except ValueError:
                pass
        spec = self.schema_columns.get(column)
        if spec is not None and not (spec.written or self.table.schema.written):
            zone = None        # an operator's column (Events at): a time with an offset is kept with it, as text
        return cell_value(spec, value, self.lang, zone)


def plan_writes(tables: dict[str, Table], changes: Changes, lang: str) -> WritePlan:
    plan = WritePlan()
    tabs: dict[str, _TabPlan] = {}
    zones = workbook_zones(tables)

    def tab(key: str) -> _TabPlan:
        if key not in tabs:
            tabs[key] = _TabPlan(tables[key], lang, plan, zones)
        return tabs[key]

    for change in changes.cells:
        t = tab(change.tab)
        if t.frozen:
            continue
        key = _fold_key(change.key, t.table.schema)
        row = t.rows_by_key.get(key)
        if row is None and len(change.key) < len(t.table.schema.key_columns):
            row = t.rows_by_first.get(key[0])
        if row is None:
            plan.skipped.append(f"{t.table.title}: {'/'.join(change.key)} no longer exists")
            continue
        t.set_cell(row, change.column, change.value)
    for key, rows in changes.upserts.items():
        t = tab(key)
        if t.frozen:
            continue
        fresh = []
        for row in rows:
            at = t.rows_by_key.get(_fold_key(tuple(row.get(k) for k in t.table.schema.key_columns),
                                             t.table.schema))
            if at is None:
                fresh.append(row)
            else:
                for column, value in row.items():
                    t.set_cell(at, column, value)
        if fresh:
            _append_rows(t, fresh, plan)
    for key, rows in changes.replace.items():
        t = tab(key)
        if t.frozen:
            continue
        if key == "problems":
            rows = _with_links(tables, t, rows, plan)
        old_last = t._last_used_row()
        lines = [t.line(r) for r in rows]
        width = max([len(l) for l in lines] + [t.header_len, 1])
        lines = [l + [""] * (width - len(l)) for l in lines]
        lines += [[""] * width for _ in range(max(0, old_last - t.header_row - len(rows)))]
        if lines:
            plan.writes.append(RangeWrite(t.table.title, t.header_row + 1, 1, lines))
        t.next_row = t.header_row + 1 + len(rows)
    for key, rows in changes.appends.items():
        if rows and not tab(key).frozen:
            _append_rows(tab(key), rows, plan)
    for key, at, row in changes.rows_at:
        t = tab(key)
        if not t.frozen and at > t.header_row:
            plan.writes.append(RangeWrite(t.table.title, at, 1, [t.line(row)]))
    return plan


def _with_links(tables: dict[str, Table], t: _TabPlan, rows: list[Row], plan: WritePlan) -> list[Row]:
    """Problems rows with their `link` (`社群!K3`), and the plan's links from the Problems tab to those cells."""
    from ..sheet.tables import column_letter
    by_title = {fold(table.title): table for table in tables.values() if not table.missing}
    links: dict[tuple[int, int], tuple[str, str]] = {}
    out = []
    for i, row in enumerate(rows):
        target = by_title.get(fold(row.get("tab") or ""))
        header = [fold(h) for h in target.header] if target is not None else []
        column = fold(row.get("column") or "")
        if target is None or not str(row.get("row") or "").isdigit():
            out.append(row)
            continue
        col = header.index(column) if column and column in header else 0
        cell = f"{column_letter(col)}{row['row']}"
        out.append(dict(row, link=f"{target.title}!{cell}"))
        if "link" in t.columns:
            links[(t.header_row + 1 + i, t.columns["link"] + 1)] = (target.title, cell)
    plan.links[t.table.title] = links
    return out


def _append_rows(t: _TabPlan, rows: list[Row], plan: WritePlan) -> None:
    """New rows. Tabs only qunflow writes (SendLog, Metrics, Problems) get them at known positions, in the
    same batch as every other write; tabs operators edit get an append, which finds the table's end itself."""
    lines = [t.line(r) for r in rows]
    if t.table.schema.written and not t.table.missing:
        plan.writes.append(RangeWrite(t.table.title, t.next_row, 1, lines))
        t.next_row += len(lines)
    else:
        plan.appends.append(Append(t.table.title, lines))


def apply_to_raw(raw: RawWorkbook, plan: WritePlan) -> None:
    """Execute a plan on in-memory rows (the MemoryStore, and pending overlays)."""
    for title, header in plan.new_tabs:
        raw.setdefault(title, [list(header)])
    for write in plan.writes:
        rows = raw.setdefault(write.title, [])
        for r, values in enumerate(write.values):
            index = write.row - 1 + r
            while len(rows) <= index:
                rows.append([])
            row = rows[index]
            need = write.col - 1 + len(values)
            if len(row) < need:
                row.extend([""] * (need - len(row)))
            row[write.col - 1:need] = values
    for append in plan.appends:
        rows = raw.setdefault(append.title, [])
        while rows and all(is_blank(v) for v in rows[-1]) and len(rows) > 1:
            rows.pop()
        rows.extend([list(r) for r in append.rows])
