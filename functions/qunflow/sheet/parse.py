"""Turn a located table's rows into typed records, one Problem per bad cell.

A bad cell is one Problem at its tab, row and column, with the value and what to write instead. What happens
to its row depends on what the row is for (`drops_row`):
- A bad or empty key cell (`member_id`, `rule_id`...) skips the row (an error): nothing can refer to it.
- Rows that make qunflow post (Groups, SOP, Templates) are skipped by any bad cell (an error): blanking a bad
  quiet_hours, until or holdout would post what the operator did not mean; not posting is the safe side.
- Every other row stays, with the bad cell left empty for this run (a warning): a blacklisted member whose
  最近活跃 has a typo is still blacklisted, a coupon still has its holder. A bad cell in a required column
  skips the row, except in Members and Coupons, whose rows are what stops a second welcome or coupon.
"""
from __future__ import annotations

from dataclasses import fields, replace
from datetime import date
from typing import Any, Callable

from . import cells
from ..sop import render
from .cells import CellError, fold, is_blank
from .i18n import message
from .problems import ERROR, WARNING, ProblemSink
from .records import RECORDS
from .reuse import BLOCK, TABS as REUSED, context, fingerprint
from .schema import Column, TabSchema
from .tables import Table


SENDING_TABS = frozenset({"groups", "sop", "templates", "cards"})    # a bad cell holds the row back
KEPT_TABS = frozenset({"members", "coupons"})                # even a bad required cell keeps the row


def drops_row(schema: TabSchema, column: Column) -> bool:
    """Whether a bad or empty-but-required cell in `column` skips its row (else the cell is left empty)."""
    if schema.key in KEPT_TABS and column.key in schema.key_columns[1:]:
        return False     # Members' group_id: a row with a bad group is kept (and reported), as before memberships
    if column.key in schema.key_columns or schema.key in SENDING_TABS:
        return True
    return column.required and schema.key not in KEPT_TABS


def _enum(column: Column, raw: Any) -> str:
    text = fold(raw)
    for option in column.values:
        if text == fold(option.value) or any(text == fold(label) for label in option.labels.values()):
            return option.value
    from .impossible import recognise
    known = recognise(column.key, raw)     # red packets, mini-programs...: validate says why not, and what instead
    if known:
        return known
    raise CellError("bad_enum")


def _template(raw: Any) -> str:
    text = str(raw).strip()
    if text.startswith("template:"):
        return text  # checked against the Templates tab by validate
    try:
        render.check_by_rendering(text)
    except render.TemplateProblem as problem:
        raise CellError(problem.code, detail=problem.detail, **problem.params) from None
    return text


def _schedule(raw: Any) -> Any:
    from ..sop.schedule import ScheduleError, parse_schedule
    try:
        return parse_schedule(str(raw))
    except ScheduleError as error:
        code = "impossible_date" if error.code == "impossible_date" else "bad_schedule"
        raise CellError(code, example=error.example, detail=error.code) from None


def parser_for(column: Column, today: date | None) -> Callable[[Any], Any]:
    kind = column.type
    if kind in ("text", "reference"):
        return cells.parse_id if (column.id or kind == "reference") else cells.parse_text
    simple = {
        "phone": cells.parse_phone, "int": cells.parse_int, "decimal": cells.parse_decimal,
        "bool": cells.parse_bool, "time": cells.parse_time, "list": cells.parse_list,
        "duration": cells.parse_duration, "timezone": cells.parse_timezone,
        "time_range": cells.parse_time_range, "template": _template, "schedule": _schedule,
    }
    if kind in simple:
        return simple[kind]
    if kind == "date":
        return lambda raw: cells.parse_date(raw, today)
    if kind == "datetime":
        return lambda raw: cells.parse_datetime(raw, today)
    if kind == "enum":
        return lambda raw: _enum(column, raw)
    raise ValueError(f"no parser for column type {kind}")


MEMO_TYPES = frozenset({"text", "reference", "enum", "date", "datetime", "phone", "int", "decimal", "bool", "time",
                        "list", "duration", "timezone", "time_range"})   # pure, and give values nobody changes
MEMO_SIZE = 100_000      # distinct values remembered per column and table: a month of events repeats its ids


def memoized(parse: Callable[[Any], Any], column: Column) -> Callable[[Any], Any]:
    """`parse`, remembering what each raw value gave: 500,000 Events rows hold 1,000 group ids and a few types,
    each parsed once. Errors are not remembered (each bad cell still raises, for its own Problem); (type, value)
    is the key, so 1, 1.0 and True stay apart."""
    if column.type not in MEMO_TYPES:
        return parse
    seen: dict[tuple[type, Any], Any] = {}

    def parsed(raw: Any) -> Any:
        key = (type(raw), raw)
        try:
            return seen[key]
        except KeyError:
            pass
        except TypeError:                 # an unhashable cell
            return parse(raw)
        value = parse(raw)
        if len(seen) < MEMO_SIZE:
            seen[key] = value
        return value
    return parsed


def allowed_values(column: Column, lang: str) -> str:
    return ", ".join(v.labels.get(lang, v.value) if lang != "en" else v.value for v in column.values)


def parse_cell(column: Column, raw: Any, *, table: Table, row: int, sink: ProblemSink, today: date | None,
               parser: Callable[[Any], Any] | None = None, blank_if_bad: bool = False) -> tuple[bool, Any]:
    """(ok, value). A bad cell adds exactly one Problem at its row and column: an error, or with `blank_if_bad` a
    warning that the cell is left empty for this run (ok is then True and the value None)."""
    if is_blank(raw):
        if not column.required and column.default in (None, ""):
            return True, None
        header = table.header_of(column.key, sink.lang)
        if column.required:
            _add(sink, blank_if_bad, "required", tab=table.title, row=row, column=header, value="",
                 example=column.example)
            return blank_if_bad, None
        if column.default in (None, ""):
            return True, None
        raw = column.default
    try:
        return True, (parser or parser_for(column, today))(raw)
    except CellError as error:
        header = table.header_of(column.key, sink.lang)
        params = {"example": column.example, "allowed": allowed_values(column, sink.lang), **error.params}
        _add(sink, blank_if_bad, error.code, tab=table.title, row=row, column=header, value=_shown(raw), **params)
        return blank_if_bad, None


def _add(sink: ProblemSink, blanked: bool, code: str, **where: Any) -> None:
    problem = sink.add(code, severity=WARNING if blanked else ERROR, **where)
    if blanked:
        sink.items[-1] = replace(problem, message=f"{problem.message} {message('cell_left_empty', sink.lang)}")


def _shown(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return "" if raw is None else str(raw)


def _empty(column: Column) -> Any:
    """What a required cell left empty holds in a kept row: text stays text ("" matches nothing)."""
    return "" if column.type in ("text", "reference", "enum") else None


def parse_table(table: Table, sink: ProblemSink, today: date | None, reuse: Any = None) -> list[Any]:
    """Typed records for the table's rows that can be used (each with `.row`, the row the operator sees).
    `reuse` (a sheet.reuse.BlockCache): the big tabs' blocks of rows that did not change are taken from it, with
    their Problems; the others are parsed and put in it."""
    if table.missing:
        return []
    schema = table.schema
    record_type = RECORDS[schema.key]
    has_row_field = schema.key != "problems"
    present = [c for c in schema.columns if c.key in table.columns]
    absent_required = [c for c in schema.columns if c.required and c.key not in table.columns]
    if any(drops_row(schema, c) for c in absent_required):
        return []  # one Problem at the header already says which column to add
    names = {f.name for f in fields(record_type)}
    # (column, its index, its parser, whether a bad cell drops the row, what a required empty cell holds, whether
    # an empty cell is simply None)
    plan = [(c, table.columns[c.key], memoized(parser_for(c, today), c), drops_row(schema, c), _empty(c),
             not c.required and c.default in (None, "")) for c in present]
    missing = {c.key: _empty(c) for c in absent_required}
    defaults = {c.key: parser_for(c, today)(c.default) for c in schema.columns   # optional columns the tab lacks
                if c.key not in table.columns and c.key not in missing and c.default not in (None, "")}

    def parse_rows(start: int, stop: int) -> list[Any]:
        return _parse_rows(table, sink, today, plan, missing, defaults, record_type, names, has_row_field, start, stop)
    if reuse is None or schema.key not in REUSED:
        return parse_rows(0, len(table.rows))
    shared, records = context(table, today, sink.lang), []
    for block, start in enumerate(range(0, len(table.rows), BLOCK)):
        stop = min(start + BLOCK, len(table.rows))
        fp = fingerprint(shared, table.sheet_row(start), table.rows[start:stop])
        span = range(table.sheet_row(start), table.sheet_row(stop))
        found = reuse.get(schema.key, block, fp, span)
        if found is not None:
            records.extend(found[0])
            sink.items.extend(found[1])
            continue
        mark = len(sink.items)
        parsed = parse_rows(start, stop)
        reuse.put(schema.key, block, fp, parsed, sink.items[mark:])
        records.extend(parsed)
    return records


def _parse_rows(table: Table, sink: ProblemSink, today: date | None, plan: list, missing: dict, defaults: dict,
                record_type: type, names: set, has_row_field: bool, start: int, stop: int) -> list[Any]:
    records = []
    rows = table.rows
    for index in range(start, stop):
        row = rows[index]
        if all(is_blank(v) for v in row):
            continue
        values: dict[str, Any] = dict(missing)
        ok = True
        for column, at, parse, drops, empty, blank_is_none in plan:
            raw = row[at] if at < len(row) else None
            if raw is None or (raw.__class__ is str and not raw.strip()):
                if blank_is_none:
                    continue                         # an optional cell left empty: nothing to say
            else:
                try:                                 # the common case, without parse_cell's bookkeeping
                    value = parse(raw)
                    if value is not None:
                        values[column.key] = value
                        continue
                except CellError:
                    pass                             # parse_cell parses it again and files its Problem
            good, value = parse_cell(column, raw, table=table, row=table.sheet_row(index), sink=sink,
                                     today=today, parser=parse, blank_if_bad=not drops)
            ok &= good
            if value is None and column.required:
                value = empty
            if value is not None:
                values[column.key] = value
        if not ok:
            continue
        sheet_row = table.sheet_row(index)
        values.update(defaults)
        if has_row_field:
            values["row"] = sheet_row
        records.append(record_type(**{k: v for k, v in values.items() if k in names}))
    return records
