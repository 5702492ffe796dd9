"""Turn a located table's rows into typed records, one Problem per bad cell.

A row with an error is skipped; the other rows are used. Warnings keep the row.
"""
from __future__ import annotations

from dataclasses import fields
from datetime import date
from typing import Any, Callable

from . import cells
from ..sop import render
from .cells import CellError, fold, is_blank
from .problems import ProblemSink
from .records import RECORDS
from .schema import Column
from .tables import Table


def _enum(column: Column, raw: Any) -> str:
    text = fold(raw)
    for option in column.values:
        if text == fold(option.value) or any(text == fold(label) for label in option.labels.values()):
            return option.value
    raise CellError("bad_enum")


def _template(raw: Any) -> str:
    text = str(raw).strip()
    if text.startswith("template:"):
        return text  # checked against the Templates tab by validate
    try:
        render.check_by_rendering(text)
    except render.TemplateProblem as problem:
        raise CellError(problem.code, detail=problem.detail) from None
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


def allowed_values(column: Column, lang: str) -> str:
    return ", ".join(v.labels.get(lang, v.value) if lang != "en" else v.value for v in column.values)


def parse_cell(column: Column, raw: Any, *, table: Table, row: int, sink: ProblemSink, today: date | None,
               parser: Callable[[Any], Any] | None = None) -> tuple[bool, Any]:
    """(ok, value). A bad cell adds exactly one Problem at its row and column."""
    if is_blank(raw):
        if not column.required and column.default in (None, ""):
            return True, None
        header = table.header_of(column.key, sink.lang)
        if column.required:
            sink.add("required", tab=table.title, row=row, column=header, value="", example=column.example)
            return False, None
        if column.default in (None, ""):
            return True, None
        raw = column.default
    try:
        return True, (parser or parser_for(column, today))(raw)
    except CellError as error:
        header = table.header_of(column.key, sink.lang)
        params = {"example": column.example, "allowed": allowed_values(column, sink.lang), **error.params}
        sink.add(error.code, tab=table.title, row=row, column=header, value=_shown(raw), **params)
        return False, None


def _shown(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return "" if raw is None else str(raw)


def parse_table(table: Table, sink: ProblemSink, today: date | None) -> list[Any]:
    """Typed records for the table's good rows (each with `.row`)."""
    if table.missing:
        return []
    record_type = RECORDS[table.schema.key]
    has_row_field = table.schema.key != "problems"
    present = [c for c in table.schema.columns if c.key in table.columns]
    required_missing = any(c.required and c.key not in table.columns for c in table.schema.columns)
    if required_missing:
        return []  # one Problem at the header already says which column to add
    names = {f.name for f in fields(record_type)}
    parsers = {c.key: parser_for(c, today) for c in present}
    records = []
    for index, row in enumerate(table.rows):
        if all(is_blank(v) for v in row):
            continue
        sheet_row = index + 2
        values: dict[str, Any] = {}
        ok = True
        for column in present:
            good, value = parse_cell(column, table.cell(row, column.key), table=table, row=sheet_row,
                                     sink=sink, today=today, parser=parsers[column.key])
            ok &= good
            if value is not None:
                values[column.key] = value
        if not ok:
            continue
        for column in table.schema.columns:  # defaults for optional columns the tab does not have
            if column.key not in values and column.key not in table.columns and column.default not in (None, ""):
                values[column.key] = parser_for(column, today)(column.default)
        if has_row_field:
            values["row"] = sheet_row
        records.append(record_type(**{k: v for k, v in values.items() if k in names}))
    return records
