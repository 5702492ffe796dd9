"""The model and endpoints of the Sheets API fake (tests/sheets_fake.py): spreadsheets, ranges, values.

Written from the Sheets API v4 documentation; imports nothing from qunflow.
"""
from __future__ import annotations

import copy
import itertools
from urllib.parse import unquote

from sheets_fake_a1 import (ApiError, DateTime, Formula, a1, parse_cells, quote_title, render, split_range, stored,
                            trimmed)
from sheets_fake_batch import Structure

RENDERS = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
INPUTS = ("RAW", "USER_ENTERED")


class Sheet:
    def __init__(self, props: dict, rows: list[list] | None = None, extras: dict | None = None):
        self.props, self.rows, self.extras = props, rows if rows is not None else [], extras or {}

    def clone(self) -> "Sheet":
        return Sheet(copy.deepcopy(self.props), [list(r) for r in self.rows], copy.deepcopy(self.extras))

    @property
    def grid(self) -> dict:
        return self.props["gridProperties"]

    def set(self, r: int, c: int, value) -> None:
        if r >= len(self.rows):
            self.rows.extend([] for _ in range(r + 1 - len(self.rows)))
        row = self.rows[r]
        if c >= len(row):
            row.extend([None] * (c + 1 - len(row)))
        row[c] = value


class Box:
    """A resolved range: 0-based inclusive bounds clamped to the grid; `bounded` says which ends were given."""

    def __init__(self, sheet: Sheet, r0, c0, r1, c1, rows_bounded: bool, cols_bounded: bool):
        self.sheet, self.r0, self.c0, self.r1, self.c1 = sheet, r0, c0, r1, c1
        self.rows_bounded, self.cols_bounded = rows_bounded, cols_bounded

    def a1(self) -> str:
        return a1(self.sheet.props["title"], self.r0, self.c0, self.r1, self.c1)


class Book:
    def __init__(self, spreadsheet_id: str, title: str, shared: bool, permission_denied: bool):
        self.id, self.title, self.shared, self.permission_denied = spreadsheet_id, title, shared, permission_denied
        self.sheets: list[Sheet] = []
        self.structural: list[dict] = []
        self.charts: list[dict] = []
        self._sheet_ids = itertools.count(1_000_001, 7919)
        self._object_ids = itertools.count(100_001)

    def new_sheet_id(self) -> int:
        return next(self._sheet_ids)

    def new_object_id(self) -> int:
        return next(self._object_ids)

    @staticmethod
    def new_sheet(props: dict) -> Sheet:
        return Sheet(props)

    def find(self, title: str) -> Sheet | None:
        for sheet in self.sheets:
            if sheet.props["title"] == title:
                return sheet
        return next((s for s in self.sheets if s.props["title"].lower() == title.lower()), None)

    def resolve(self, text: str) -> Box:
        bad = ApiError(400, f"Unable to parse range: {text}")
        try:
            title, cells = split_range(text)
        except ValueError:
            raise bad from None
        if title is None:
            sheet = self.find(text)
            if sheet is not None:
                cells = None
            else:
                sheet = self.sheets[0]
        else:
            sheet = self.find(title)
        if sheet is None:
            raise bad
        rows, cols = sheet.grid["rowCount"], sheet.grid["columnCount"]
        if cells is None:
            return Box(sheet, 0, 0, rows - 1, cols - 1, False, False)
        try:
            r0, c0, r1, c1 = parse_cells(cells)
        except ValueError:
            raise bad from None
        box = Box(sheet, r0 or 0, c0 or 0, rows - 1 if r1 is None else r1, cols - 1 if c1 is None else c1,
                  r1 is not None, c1 is not None)
        box.r0, box.r1 = min(box.r0, box.r1), max(box.r0, box.r1)
        box.c0, box.c1 = min(box.c0, box.c1), max(box.c0, box.c1)
        if box.r1 >= rows or box.c1 >= cols:
            raise ApiError(400, f"Range ({quote_title(sheet.props['title'])}!{cells}) exceeds grid limits. "
                                f"Max rows: {rows}, max columns: {cols}")
        return box


def _nonzero(**counts) -> dict:
    return {k: v for k, v in counts.items() if v}  # proto3 JSON leaves zero numbers out


def _grid_cell(cell) -> dict:
    if cell is None:
        return {}
    if isinstance(cell, Formula):
        return {"userEnteredValue": {"formulaValue": cell.text}, "formattedValue": render(cell, "FORMATTED_VALUE", "")}
    if isinstance(cell, DateTime):
        return {"userEnteredValue": {"numberValue": cell.serial}, "effectiveValue": {"numberValue": cell.serial},
                "formattedValue": cell.text}
    kind = "boolValue" if isinstance(cell, bool) else "numberValue" if isinstance(cell, (int, float)) else "stringValue"
    return {"userEnteredValue": {kind: cell}, "effectiveValue": {kind: cell},
            "formattedValue": render(cell, "FORMATTED_VALUE", "")}


class Api:
    """The endpoints, over the in-memory books. Every method runs under the server's lock."""

    def __init__(self):
        self.books: dict[str, Book] = {}

    def book(self, spreadsheet_id: str) -> Book:
        book = self.books.get(spreadsheet_id)
        if book is None or not book.shared:
            raise ApiError(404, "Requested entity was not found.")
        if book.permission_denied:
            raise ApiError(403, "The caller does not have permission")
        return book

    # --- reads ---------------------------------------------------------------------------------
    @staticmethod
    def _options(query: dict) -> tuple[str, str, str]:
        render_option = query.get("valueRenderOption", "FORMATTED_VALUE")
        dt_option = query.get("dateTimeRenderOption", "SERIAL_NUMBER")
        major = query.get("majorDimension", "ROWS")
        if render_option not in RENDERS or dt_option not in ("SERIAL_NUMBER", "FORMATTED_STRING") or \
                major not in ("ROWS", "COLUMNS"):
            raise ApiError(400, f"Invalid value in valueRenderOption, dateTimeRenderOption or majorDimension: "
                                f"{render_option}, {dt_option}, {major}")
        return render_option, dt_option, major

    @staticmethod
    def _value_range(box: Box, render_option: str, dt_option: str, major: str) -> dict:
        out = []
        for row in box.sheet.rows[box.r0:box.r1 + 1]:
            out.append([render(cell, render_option, dt_option) for cell in row[box.c0:box.c1 + 1]])
        if major == "COLUMNS":
            width = max((len(r) for r in out), default=0)
            out = [[r[j] if j < len(r) else "" for r in out] for j in range(width)]
        reply = {"range": box.a1(), "majorDimension": major}
        if values := trimmed(out):
            reply["values"] = values
        return reply

    def values_get(self, book: Book, range_text: str, query: dict, body) -> dict:
        return self._value_range(book.resolve(range_text), *self._options(query))

    def values_batch_get(self, book: Book, range_text, query: dict, body) -> dict:
        ranges = query.get("ranges", [])
        ranges = [ranges] if isinstance(ranges, str) else ranges
        options = self._options(query)
        boxes = [book.resolve(r) for r in ranges]
        reply = {"spreadsheetId": book.id}
        if boxes:
            reply["valueRanges"] = [self._value_range(box, *options) for box in boxes]
        return reply

    def spreadsheets_get(self, book: Book, range_text, query: dict, body) -> dict:
        sheets = []
        for sheet in book.sheets:
            entry = {"properties": copy.deepcopy(sheet.props), **copy.deepcopy(sheet.extras)}
            charts = [c for c in book.charts if c.get("position", {}).get("overlayPosition", {})
                      .get("anchorCell", {}).get("sheetId") == sheet.props["sheetId"]]
            if charts:
                entry["charts"] = copy.deepcopy(charts)
            if str(query.get("includeGridData", "false")).lower() == "true":
                entry["data"] = [{"rowData": [{"values": [_grid_cell(c) for c in row]} for row in sheet.rows]}]
            sheets.append(entry)
        return {"spreadsheetId": book.id,
                "properties": {"title": book.title, "locale": "en_US", "autoRecalc": "ON_CHANGE",
                               "timeZone": "Etc/GMT"},
                "sheets": sheets, "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.id}/edit"}

    # --- writes --------------------------------------------------------------------------------
    @staticmethod
    def _input_option(option) -> str:
        if not option:
            raise ApiError(400, "'valueInputOption' is required but not specified")
        if option not in INPUTS:
            raise ApiError(400, f"Invalid value at 'value_input_option' ({option})")
        return option

    @staticmethod
    def _plan(box: Box, values, option: str, major: str, grow_rows: bool = False):
        """Check a write and convert its values; returns (box, converted rows). Nothing is changed yet."""
        if not isinstance(values, list) or not all(isinstance(r, list) for r in values):
            raise ApiError(400, "Invalid values: a list of lists is required.")
        if major == "COLUMNS":
            height = max((len(c) for c in values), default=0)
            values = [[c[i] if i < len(c) else None for c in values] for i in range(height)]
        rows = [[stored(v, option, f"values[{i}][{j}]") for j, v in enumerate(row)] for i, row in enumerate(values)]
        height, width = len(rows), max((len(r) for r in rows), default=0)
        single = (box.r0, box.c0) == (box.r1, box.c1) and box.rows_bounded
        if box.rows_bounded and not single and height > box.r1 - box.r0 + 1:
            raise ApiError(400, f"Requested writing within range [{box.a1()}], but tried writing to row "
                                f"[{box.r0 + height}]")
        if box.cols_bounded and not single and width > box.c1 - box.c0 + 1:
            raise ApiError(400, f"Requested writing within range [{box.a1()}], but tried writing to column "
                                f"[{a1('x', 0, box.c0 + width - 1, 0, box.c0 + width - 1)[2:-1]}]")
        grid = box.sheet.grid
        over_rows = box.r0 + height > grid["rowCount"] and not grow_rows
        if over_rows or box.c0 + width > grid["columnCount"]:
            cell = a1(box.sheet.props["title"], box.r0 + height - 1, box.c0 + width - 1, 0, 0).split(":")[0]
            raise ApiError(400, f"Range ({cell}) exceeds grid limits. Max rows: {grid['rowCount']}, "
                                f"max columns: {grid['columnCount']}")
        return box, rows

    @staticmethod
    def _apply(box: Box, rows: list[list]) -> dict:
        cells = 0
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if value is not ...:
                    box.sheet.set(box.r0 + i, box.c0 + j, value)
                    cells += 1
        width = max((len(r) for r in rows), default=0)
        done = a1(box.sheet.props["title"], box.r0, box.c0, box.r0 + max(len(rows), 1) - 1,
                  box.c0 + max(width, 1) - 1)
        return {"updatedRange": done, **_nonzero(updatedRows=sum(1 for r in rows if any(v is not ... for v in r)),
                                                 updatedColumns=width, updatedCells=cells)}

    def values_update(self, book: Book, range_text: str, query: dict, body) -> dict:
        option = self._input_option(query.get("valueInputOption"))
        body = body or {}
        plan = self._plan(book.resolve(range_text), body.get("values", []), option, body.get("majorDimension", "ROWS"))
        return {"spreadsheetId": book.id, **self._apply(*plan)}

    def values_batch_update(self, book: Book, range_text, query: dict, body) -> dict:
        body = body or {}
        option = self._input_option(body.get("valueInputOption"))
        plans = [self._plan(book.resolve(d.get("range", "")), d.get("values", []), option,
                            d.get("majorDimension", "ROWS")) for d in body.get("data", [])]
        responses = [{"spreadsheetId": book.id, **self._apply(*plan)} for plan in plans]
        return {"spreadsheetId": book.id, **_nonzero(
            totalUpdatedRows=sum(r.get("updatedRows", 0) for r in responses),
            totalUpdatedColumns=sum(r.get("updatedColumns", 0) for r in responses),
            totalUpdatedCells=sum(r.get("updatedCells", 0) for r in responses),
            totalUpdatedSheets=len({id(p[0].sheet) for p in plans if any(p[1])})),
            "responses": responses}

    def values_append(self, book: Book, range_text: str, query: dict, body) -> dict:
        option = self._input_option(query.get("valueInputOption"))
        insert = query.get("insertDataOption", "OVERWRITE")
        if insert not in ("OVERWRITE", "INSERT_ROWS"):
            raise ApiError(400, f"Invalid value at 'insert_data_option' ({insert})")
        box, body = book.resolve(range_text), body or {}
        sheet, first, last, used = box.sheet, None, None, set()
        # The table: data from the range's first row down to the last non-empty row, in the range's columns
        # (all columns from its first one when it is a single cell or open-ended).
        c1 = box.c1 if box.cols_bounded and (box.r0, box.c0) != (box.r1, box.c1) else sheet.grid["columnCount"] - 1
        for r in range(box.r0, len(sheet.rows)):
            cols = [c for c, v in enumerate(sheet.rows[r][box.c0:c1 + 1], box.c0) if v is not None]
            if cols:
                first = r if first is None else first
                last = r
                used.update(cols)
        reply = {"spreadsheetId": book.id}
        start_col = box.c0
        if last is not None:
            start_col = min(used)
            reply["tableRange"] = a1(sheet.props["title"], first, start_col, last, max(used))
        target = Box(sheet, box.r0 if last is None else last + 1, start_col, 0, 0, False, False)
        values = body.get("values", [])
        _, rows = self._plan(target, values, option, body.get("majorDimension", "ROWS"), grow_rows=True)
        if insert == "INSERT_ROWS":
            if target.r0 < len(sheet.rows):
                sheet.rows[target.r0:target.r0] = [[] for _ in rows]
            sheet.grid["rowCount"] += len(rows)
        else:
            sheet.grid["rowCount"] = max(sheet.grid["rowCount"], target.r0 + len(rows))
        reply["updates"] = {"spreadsheetId": book.id, **self._apply(target, rows)}
        return reply

    def values_clear(self, book: Book, range_text: str, query: dict, body) -> dict:
        box = book.resolve(range_text)
        self._clear(box)
        return {"spreadsheetId": book.id, "clearedRange": box.a1()}

    def values_batch_clear(self, book: Book, range_text, query: dict, body) -> dict:
        boxes = [book.resolve(r) for r in (body or {}).get("ranges", [])]
        for box in boxes:
            self._clear(box)
        return {"spreadsheetId": book.id, "clearedRanges": [box.a1() for box in boxes]}

    @staticmethod
    def _clear(box: Box) -> None:
        for row in box.sheet.rows[box.r0:box.r1 + 1]:
            for c in range(box.c0, min(box.c1 + 1, len(row))):
                row[c] = None

    def spreadsheets_batch_update(self, book: Book, range_text, query: dict, body) -> dict:
        requests_ = (body or {}).get("requests") or []
        if not requests_:
            raise ApiError(400, "Must specify at least one request.")
        structure = Structure(book, [s.clone() for s in book.sheets])
        replies = [structure.apply(i, r) for i, r in enumerate(requests_)]
        book.sheets, book.title, book.charts = structure.sheets, structure.title, structure.charts
        book.structural.extend(copy.deepcopy(requests_))
        return {"spreadsheetId": book.id, "replies": replies}


def route(method: str, raw_path: str) -> tuple[str, str | None, str | None]:
    """-> (kind, spreadsheet id, range) for a request path, or ("unknown", ...)."""
    prefix = "/v4/spreadsheets/"
    if not raw_path.startswith(prefix):
        return "unknown", None, None
    head, _, rest = raw_path[len(prefix):].partition("/")
    if not rest:
        sid, _, verb = head.partition(":")
        kind = {("GET", ""): "spreadsheets.get", ("POST", "batchUpdate"): "spreadsheets.batchUpdate"}.get((method, verb))
        return kind or "unknown", unquote(sid), None
    verbs = {("GET", "values:batchGet"): "values.batchGet", ("POST", "values:batchUpdate"): "values.batchUpdate",
             ("POST", "values:batchClear"): "values.batchClear"}
    if (method, rest) in verbs:
        return verbs[(method, rest)], unquote(head), None
    if rest.startswith("values/"):
        rng = rest[len("values/"):]
        base, _, verb = rng.rpartition(":")
        if method == "POST" and verb in ("append", "clear") and base:
            return f"values.{verb}", unquote(head), unquote(base)
        kind = {"GET": "values.get", "PUT": "values.update"}.get(method)
        if kind and rng:
            return kind, unquote(head), unquote(rng)
    return "unknown", unquote(head), None
