"""spreadsheets.batchUpdate for the Sheets API fake: structural requests, applied atomically.

Requests that change the grid really do (addSheet, deleteSheet, updateSheetProperties, appendDimension,
insertDimension, deleteDimension, updateCells values). Formatting-only requests are checked (known kind,
existing sheetId) and recorded. Any other kind answers 400, like a field the API does not know.
"""
from __future__ import annotations

import copy

from sheets_fake_a1 import ApiError, Formula

RECORD_ONLY = {"setDataValidation", "repeatCell", "addConditionalFormatRule", "updateConditionalFormatRule",
               "deleteConditionalFormatRule", "autoResizeDimensions", "updateDimensionProperties", "mergeCells",
               "unmergeCells", "updateBorders", "setBasicFilter", "clearBasicFilter", "addBanding",
               "updateProtectedRange", "deleteProtectedRange", "updateChartSpec", "deleteEmbeddedObject"}


def _sheet_ids(obj, found=None):
    found = [] if found is None else found
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "sheetId" and isinstance(value, int):
                found.append(value)
            else:
                _sheet_ids(value, found)
    elif isinstance(obj, list):
        for value in obj:
            _sheet_ids(value, found)
    return found


def _set_path(target: dict, path: list[str], source: dict) -> None:
    for key in path[:-1]:
        source = source.get(key, {}) if isinstance(source, dict) else {}
        target = target.setdefault(key, {})
    if isinstance(source, dict) and path[-1] in source:
        target[path[-1]] = copy.deepcopy(source[path[-1]])
    else:
        target.pop(path[-1], None)


class Structure:
    """Applies one batchUpdate to clones of a book's sheets; the caller commits them only if all succeed."""

    def __init__(self, book, sheets: list):
        self.book, self.sheets = book, sheets
        self.title, self.charts = book.title, list(book.charts)

    def by_id(self, sheet_id, where: str):
        for sheet in self.sheets:
            if sheet.props["sheetId"] == sheet_id:
                return sheet
        raise ApiError(400, f"Invalid {where}: No grid with id: {sheet_id}")

    def reindex(self) -> None:
        for i, sheet in enumerate(self.sheets):
            sheet.props["index"] = i

    def apply(self, i: int, request: dict) -> dict:
        if not isinstance(request, dict) or len(request) != 1:
            raise ApiError(400, f"Invalid requests[{i}]: exactly one kind of request must be set.")
        (kind, body), = request.items()
        where = f"requests[{i}].{kind}"
        handler = getattr(self, "do_" + kind, None)
        if handler is None and kind not in RECORD_ONLY:
            raise ApiError(400, f"Invalid JSON payload received. Unknown name \"{kind}\" at 'requests[{i}]': "
                                "Cannot find field.")
        if kind != "addSheet":
            for sheet_id in _sheet_ids(body):
                self.by_id(sheet_id, where)
        return handler(body or {}, where) if handler else {}

    def do_addSheet(self, body: dict, where: str) -> dict:
        given = copy.deepcopy(body.get("properties", {}))
        title = given.get("title") or f"Sheet{len(self.sheets) + 1}"
        if any(s.props["title"].lower() == title.lower() for s in self.sheets):
            raise ApiError(400, f"Invalid {where}: A sheet with the name \"{title}\" already exists. "
                                "Please enter another name.")
        sheet_id = given.get("sheetId")
        if sheet_id is None:
            sheet_id = self.book.new_sheet_id()
        elif any(s.props["sheetId"] == sheet_id for s in self.sheets):
            raise ApiError(400, f"Invalid {where}: Sheet with id {sheet_id} already exists.")
        grid = {"rowCount": 1000, "columnCount": 26, **given.pop("gridProperties", {})}
        props = {**given, "sheetId": sheet_id, "title": title, "index": 0, "sheetType": "GRID",
                 "gridProperties": grid}
        index = min(given.get("index", len(self.sheets)), len(self.sheets))
        self.sheets.insert(index, self.book.new_sheet(props))
        self.reindex()
        return {"addSheet": {"properties": copy.deepcopy(props)}}

    def do_deleteSheet(self, body: dict, where: str) -> dict:
        sheet = self.by_id(body.get("sheetId"), where)
        if len(self.sheets) == 1:
            raise ApiError(400, f"Invalid {where}: You can't remove all the sheets in a document.")
        self.sheets.remove(sheet)
        self.reindex()
        return {}

    def do_updateSheetProperties(self, body: dict, where: str) -> dict:
        given, fields = body.get("properties", {}), body.get("fields")
        if not fields:
            raise ApiError(400, f"Invalid {where}: At least one field must be updated. Use '*' to update all.")
        sheet = self.by_id(given.get("sheetId"), where)
        paths = [k for k in given if k != "sheetId"] if fields.strip() == "*" else \
            [f.strip() for f in fields.split(",") if f.strip()]
        before = sheet.props["gridProperties"].copy()
        for path in paths:
            if path == "title" and not given.get("title"):
                raise ApiError(400, f"Invalid {where}: a sheet's title cannot be empty.")
            if path == "title" and any(s is not sheet and s.props["title"].lower() == str(given.get("title")).lower()
                                       for s in self.sheets):
                raise ApiError(400, f"Invalid {where}: A sheet with the name \"{given.get('title')}\" already "
                                    "exists. Please enter another name.")
            if path in ("sheetId", "sheetType"):
                continue
            _set_path(sheet.props, path.split("."), given)
        grid = sheet.props.setdefault("gridProperties", {})
        for key in ("rowCount", "columnCount"):
            grid.setdefault(key, before[key])
        del sheet.rows[grid["rowCount"]:]
        for row in sheet.rows:
            del row[grid["columnCount"]:]
        if "index" in paths:
            self.sheets.remove(sheet)
            self.sheets.insert(min(given.get("index", 0), len(self.sheets)), sheet)
            self.reindex()
        return {}

    def do_updateSpreadsheetProperties(self, body: dict, where: str) -> dict:
        if "title" in (body.get("fields") or "") or body.get("fields") == "*":
            self.title = body.get("properties", {}).get("title", self.title)
        return {}

    def do_appendDimension(self, body: dict, where: str) -> dict:
        sheet = self.by_id(body.get("sheetId"), where)
        key = "rowCount" if body.get("dimension") == "ROWS" else "columnCount"
        if body.get("dimension") not in ("ROWS", "COLUMNS") or int(body.get("length", 0)) < 1:
            raise ApiError(400, f"Invalid {where}: dimension and a positive length are required.")
        sheet.props["gridProperties"][key] += int(body["length"])
        return {}

    def _dimension(self, body: dict, where: str):
        rng = body.get("range", {})
        sheet = self.by_id(rng.get("sheetId"), where)
        start, end = int(rng.get("startIndex", 0)), int(rng.get("endIndex", 0))
        key = "rowCount" if rng.get("dimension") == "ROWS" else "columnCount"
        if rng.get("dimension") not in ("ROWS", "COLUMNS") or not 0 <= start < end:
            raise ApiError(400, f"Invalid {where}: a ROWS or COLUMNS range with startIndex < endIndex is required.")
        return sheet, start, end, key

    def do_insertDimension(self, body: dict, where: str) -> dict:
        sheet, start, end, key = self._dimension(body, where)
        if start > sheet.props["gridProperties"][key]:
            raise ApiError(400, f"Invalid {where}: startIndex is beyond the grid.")
        if key == "rowCount":
            sheet.rows[start:start] = [[] for _ in range(end - start)] if start < len(sheet.rows) else []
        else:
            for row in sheet.rows:
                if start < len(row):
                    row[start:start] = [None] * (end - start)
        sheet.props["gridProperties"][key] += end - start
        return {}

    def do_deleteDimension(self, body: dict, where: str) -> dict:
        sheet, start, end, key = self._dimension(body, where)
        if end > sheet.props["gridProperties"][key]:
            raise ApiError(400, f"Invalid {where}: endIndex is beyond the grid.")
        if key == "rowCount":
            del sheet.rows[start:end]
        else:
            for row in sheet.rows:
                del row[start:end]
        sheet.props["gridProperties"][key] -= end - start
        return {}

    def do_updateCells(self, body: dict, where: str) -> dict:
        fields = body.get("fields", "")
        if "userEnteredValue" not in fields and fields != "*":
            return {}  # formats only
        anchor = body.get("start") or body.get("range") or {}
        sheet = self.by_id(anchor.get("sheetId"), where)
        r0 = anchor.get("rowIndex", anchor.get("startRowIndex", 0))
        c0 = anchor.get("columnIndex", anchor.get("startColumnIndex", 0))
        grid = sheet.props["gridProperties"]
        for dr, row in enumerate(body.get("rows", [])):
            for dc, cell in enumerate(row.get("values", [])):
                if r0 + dr >= grid["rowCount"] or c0 + dc >= grid["columnCount"]:
                    raise ApiError(400, f"Invalid {where}: the data is beyond the grid.")
                value = cell.get("userEnteredValue")
                if value is None and fields != "*" and "userEnteredValue" not in cell:
                    continue
                value = value or {}
                kind, raw = next(iter(value.items()), (None, None))
                sheet.set(r0 + dr, c0 + dc, Formula(raw) if kind == "formulaValue" else (raw if raw != "" else None))
        return {}

    def do_addProtectedRange(self, body: dict, where: str) -> dict:
        protected = copy.deepcopy(body.get("protectedRange", {}))
        protected.setdefault("protectedRangeId", self.book.new_object_id())
        self.by_id(protected.get("range", {}).get("sheetId", 0), where).extras.setdefault(
            "protectedRanges", []).append(protected)
        return {"addProtectedRange": {"protectedRange": protected}}

    def do_addChart(self, body: dict, where: str) -> dict:
        chart = copy.deepcopy(body.get("chart", {}))
        chart.setdefault("chartId", self.book.new_object_id())
        self.charts.append(chart)
        return {"addChart": {"chart": chart}}

    def do_addNamedRange(self, body: dict, where: str) -> dict:
        named = copy.deepcopy(body.get("namedRange", {}))
        named.setdefault("namedRangeId", str(self.book.new_object_id()))
        return {"addNamedRange": {"namedRange": named}}
