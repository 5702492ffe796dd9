"""`qunflow init`: create every tab with headers, notes, dropdowns, TEXT ids and a frozen header.

Existing tabs are never overwritten; only missing tabs are added (and, with
--demo, filled with the sample shop). On Google, the date columns of tabs already
there get their date number format (formats only), so the serial numbers qunflow
writes there show as dates in a sheet made before it wrote date cells. A new Settings tab says the workbook's
language, and its values are written the way that language writes them
(`language = en`, `catch_up = 30m`; `zh-CN`, `30分钟`), so Problems come in it.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from ..sheet.layout import NUMBER_FORMATS, TabLayout, workbook_layout

DATA_ROWS = 2000  # rows that get dropdowns and TEXT format
DURATION_UNITS = {"zh-CN": {"m": "分钟", "h": "小时", "d": "天"}, "en": {"m": "m", "h": "h", "d": "d"}}
_UNIT_OF = {"分钟": "m", "分": "m", "小时": "h", "天": "d", "m": "m", "min": "m", "h": "h", "d": "d"}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(分钟|分|小时|天|min|m|h|d)\s*")


def _lines(layout: TabLayout, rows: list[dict[str, Any]], lang: str) -> list[list[Any]]:
    """Rows as cells in the workbook's language (企业微信, 是, 已发放 in zh-CN: sheet.vocabulary)."""
    return [[c.value(r.get(c.key), lang) for c in layout.columns] for r in rows]


def settings_in(lang: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Settings rows as a workbook in `lang` writes them: `language` is `lang` (a row is added when there is
    none), and a duration names its unit in that language (30分钟 in zh-CN, 30m in en)."""
    from ..sheet.schema import load_schemas
    from ..sheet.vocabulary import label
    known = {s.key: s for s in load_schemas()["settings"].settings}
    units = DURATION_UNITS.get(lang, DURATION_UNITS["en"])
    out = []
    if not any(row.get("key") == "language" for row in rows):
        rows = [{"key": "language", "value": lang}] + list(rows)
    for row in rows:
        value = row.get("value")
        if row.get("key") == "language":
            value = lang
        elif isinstance(value, str) and (m := _DURATION.fullmatch(value)):
            value = m[1] + units[_UNIT_OF[m[2]]]
        setting = known.get(row.get("key"))
        if setting is not None:
            value = label(setting, value, lang) if setting.values else value
            row = dict(row, about=setting.help.get(lang) or setting.help.get("en", ""))
        out.append(dict(row, value=value))
    return out


def starting_rows(demo: dict[str, list[dict]] | None, lang: str) -> dict[str, list[dict]]:
    """What `qunflow init` writes below the headers: the demo shop (if any), and Settings in `lang`."""
    rows = dict(demo or {})
    rows["settings"] = settings_in(lang, rows.get("settings", []))
    return rows


def init_xlsx(path: Path, lang: str, demo: dict[str, list[dict]] | None) -> list[str]:
    """Add the missing tabs to the .xlsx at `path` (created if absent); returns their titles."""
    return _add_tabs(path, lang, starting_rows(demo, lang))


def _add_tabs(path: Path, lang: str, demo: dict[str, list[dict]] | None) -> list[str]:
    from openpyxl import Workbook, load_workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from ..stores.xlsx import _put, save_atomic
    from ..sheet.cells import fold

    book = load_workbook(path) if path.exists() else Workbook()
    if not path.exists():
        book.remove(book.active)
    existing = {fold(t) for t in book.sheetnames}
    created = []
    for layout in workbook_layout(lang):
        from ..sheet.schema import load_schemas
        schema = load_schemas()[layout.key]
        if existing & {fold(schema.title("en")), fold(schema.title("zh-CN")), fold(schema.key)}:
            continue
        sheet = book.create_sheet(layout.title)
        created.append(layout.title)
        for col, column in enumerate(layout.columns, start=1):
            letter = get_column_letter(col)
            _put(sheet, 1, col, column.header)
            cell = sheet.cell(row=1, column=col)
            cell.font = Font(bold=True)
            if column.computed:
                cell.fill = PatternFill("solid", fgColor="E7E6E6")
            cell.comment = Comment(column.note, "qunflow", width=320, height=120)
            if column.dropdown:
                rule = DataValidation(type="list", formula1='"' + ",".join(column.dropdown) + '"', allow_blank=True)
                rule.error = column.note
                rule.showErrorMessage = False  # operators may type the English value too: qunflow checks
                sheet.add_data_validation(rule)
                rule.add(f"{letter}2:{letter}{DATA_ROWS}")
        sheet.freeze_panes = "A2"
        style_columns(sheet, layout)
        for r, values in enumerate(_lines(layout, (demo or {}).get(layout.key, []), lang), start=2):
            for c, value in enumerate(values, start=1):
                if value != "":
                    _put(sheet, r, c, value)
                    style_cell(sheet.cell(row=r, column=c), layout.columns[c - 1])
    save_atomic(book, path)
    return created


def init_google(store: Any, lang: str, demo: dict[str, list[dict]] | None) -> list[str]:
    """Create missing tabs in a Google sheet, with notes, dropdowns, TEXT ids and warning-only protection."""
    from ..sheet.cells import fold, storable_value
    from ..sheet.schema import load_schemas
    from ..stores.gsheets import a1, quote_title

    demo = starting_rows(demo, lang)
    titles = {fold(t) for t in store.tab_titles()}
    layouts = [l for l in workbook_layout(lang)
               if not titles & ({fold(load_schemas()[l.key].title(x)) for x in ("en", "zh-CN")} | {fold(l.key)})]
    if len(layouts) < len(load_schemas()):
        date_formats_google(store)
    if not layouts:
        return []
    add = [{"addSheet": {"properties": {"title": l.title, "gridProperties": {"rowCount": DATA_ROWS, "columnCount": max(26, len(l.columns)),
                                                                         "frozenRowCount": 1}}}} for l in layouts]
    reply = store._call("write", lambda: store.http.batch_update(store.spreadsheet_id, {"requests": add}))
    ids = [r["addSheet"]["properties"]["sheetId"] for r in reply["replies"]]
    requests: list[dict] = []
    for sheet_id, layout in zip(ids, layouts):
        requests.append({"updateCells": {
            "range": {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 1, "startColumnIndex": 0, "endColumnIndex": len(layout.columns)},
            "rows": [{"values": [{"userEnteredValue": {"stringValue": c.header}, "note": c.note,
                                  "userEnteredFormat": {"textFormat": {"bold": True}}} for c in layout.columns]}],
            "fields": "userEnteredValue,note,userEnteredFormat.textFormat.bold"}})
        for i, c in enumerate(layout.columns):
            span = {"sheetId": sheet_id, "startRowIndex": 1, "endRowIndex": DATA_ROWS, "startColumnIndex": i, "endColumnIndex": i + 1}
            if c.text_format:
                requests.append({"repeatCell": {"range": span, "cell": {"userEnteredFormat": {"numberFormat": {"type": "TEXT"}}},
                                                "fields": "userEnteredFormat.numberFormat"}})
            if c.dropdown:
                requests.append({"setDataValidation": {"range": span, "rule": {
                    "condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": v} for v in c.dropdown]},
                    "strict": False, "showCustomUi": True}}})
            if c.computed:
                requests.append({"addProtectedRange": {"protectedRange": {
                    "range": span, "description": f"qunflow writes {c.key}", "warningOnly": True}}})
        requests += google_format_requests(sheet_id, layout, DATA_ROWS)
    store._call("write", lambda: store.http.batch_update(store.spreadsheet_id, {"requests": requests}))
    data = []
    for layout in layouts:
        rows = [[storable_value(v) for v in line] for line in _lines(layout, (demo or {}).get(layout.key, []), lang)]
        if rows:
            data.append({"range": f"{quote_title(layout.title)}!{a1(2, 1)}", "values": rows})
    if data:
        store._call("write", lambda: store.http.values_batch_update(store.spreadsheet_id, {"valueInputOption": "RAW", "data": data}))
    store._titles = None
    return [l.title for l in layouts]


def export_xlsx(raw: dict[str, list[list[Any]]], path: Path, lang: str) -> None:
    """Write a whole raw workbook as a new .xlsx with qunflow's layout (notes, dropdowns, formats)."""
    from ..stores.xlsx import XlsxStore, _put, save_atomic
    from openpyxl import load_workbook
    path.unlink(missing_ok=True)
    _add_tabs(path, lang, None)       # the rows are the workbook's own, Settings too
    from ..sheet.layout import layout_for_title
    book = load_workbook(path)
    for title, rows in raw.items():
        sheet = book[title] if title in book.sheetnames else book.create_sheet(title)
        found = layout_for_title(title)
        columns = found[0].columns if found else ()
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value not in ("", None):
                    _put(sheet, r, c, value)
                    if r > 1 and c <= len(columns):
                        style_cell(sheet.cell(row=r, column=c), columns[c - 1])
        if found:
            style_columns(sheet, found[0])
    save_atomic(book, path)


def style_columns(sheet: Any, layout: TabLayout) -> None:
    """Widths, wrap, number formats and a filter on the header row, as the schema YAML says (sheet.layout)."""
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter
    for col, column in enumerate(layout.columns, start=1):
        dim = sheet.column_dimensions[get_column_letter(col)]
        dim.width = column.width
        if column.text_format:
            dim.number_format = "@"
        elif column.number_format:
            dim.number_format = NUMBER_FORMATS[column.number_format][0]
        if column.wrap:
            dim.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(layout.columns))}{max(sheet.max_row, 2)}"


def style_cell(cell: Any, column: Any) -> None:
    """A written cell keeps its column's look (openpyxl styles cells, not columns, for the cells it writes)."""
    from openpyxl.styles import Alignment
    if column.text_format:
        cell.number_format = "@"
    elif column.number_format:
        cell.number_format = NUMBER_FORMATS[column.number_format][0]
    if column.wrap:
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def date_formats_google(store: Any) -> None:
    """Tabs already there (a sheet made before qunflow wrote date cells) get their date columns' number format, so
    the serial numbers qunflow writes show as dates: one batchUpdate, formats only (no value changes)."""
    from ..sheet.problems import ProblemSink
    from ..sheet.schema import load_schemas
    from ..sheet.tables import locate
    snapshot = store.read()
    ids = getattr(store, "_sheet_ids", None) or (store.tab_titles() and store._sheet_ids)
    requests = []
    for table in locate(snapshot.raw, load_schemas(), ProblemSink("en"), snapshot.grid_rows).tables.values():
        if table.missing or table.unreadable or table.title not in ids:
            continue
        for c in table.schema.columns:
            if c.type in ("date", "datetime") and c.key in table.columns:
                col = table.columns[c.key]
                requests.append({"repeatCell": {"range": {
                    "sheetId": ids[table.title], "startRowIndex": table.header_row,
                    "endRowIndex": snapshot.grid_rows.get(table.title, DATA_ROWS),
                    "startColumnIndex": col, "endColumnIndex": col + 1},
                    "cell": {"userEnteredFormat": {"numberFormat": NUMBER_FORMATS[c.type][1]}},
                    "fields": "userEnteredFormat.numberFormat"}})
    if requests:
        store._call("write", lambda: store.http.batch_update(store.spreadsheet_id, {"requests": requests}))


def google_format_requests(sheet_id: int, layout: TabLayout, rows: int) -> list[dict]:
    """The same look on Google: column widths in pixels, wrap, number formats and a basic filter."""
    out: list[dict] = []
    for i, c in enumerate(layout.columns):
        out.append({"updateDimensionProperties": {
            "range": {"sheetId": sheet_id, "dimension": "COLUMNS", "startIndex": i, "endIndex": i + 1},
            "properties": {"pixelSize": 7 * c.width + 5}, "fields": "pixelSize"}})
        span = {"sheetId": sheet_id, "startRowIndex": 1, "endRowIndex": rows, "startColumnIndex": i, "endColumnIndex": i + 1}
        fmt: dict = {}
        if c.number_format and not c.text_format:
            fmt["numberFormat"] = NUMBER_FORMATS[c.number_format][1]
        if c.wrap:
            fmt["wrapStrategy"] = "WRAP"
            fmt["verticalAlignment"] = "TOP"
        if fmt:
            out.append({"repeatCell": {"range": span, "cell": {"userEnteredFormat": fmt},
                                       "fields": ",".join(f"userEnteredFormat.{k}" for k in fmt)}})
    out.append({"setBasicFilter": {"filter": {"range": {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": rows,
                                                         "startColumnIndex": 0, "endColumnIndex": len(layout.columns)}}}})
    return out
