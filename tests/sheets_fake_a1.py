"""A1 notation and cell values for the Sheets API fake (tests/sheets_fake.py).

Written from the Sheets API v4 documentation, independently of qunflow:
- A1 ranges: `Title`, `'My Title'!A1:C10`, `Title!A:C`, `Title!2:5`, `Title!A2:C` (unbounded ends clamp to the grid);
  a range with no `!` is a sheet title if one matches, otherwise cells on the first sheet.
- valueInputOption: RAW stores what it is given; USER_ENTERED parses like the Sheets UI.
- valueRenderOption: FORMATTED_VALUE (strings), UNFORMATTED_VALUE (typed), FORMULA (formulas as text).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

FORMULA_RESULT = "#FORMULA"  # what a formula "evaluates" to here: the fake has no formula engine
_PLAIN_TITLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CELL_LIKE = re.compile(r"[A-Za-z]{1,3}[0-9]+|[Rr][0-9]+[Cc][0-9]+")
_END = re.compile(r"\$?([A-Za-z]*)\$?([0-9]*)")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)?")
EPOCH = datetime(1899, 12, 30)


class ApiError(Exception):
    """An API error answer: {"error": {"code", "message", "status"}}."""

    STATUSES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
                504: "DEADLINE_EXCEEDED"}

    def __init__(self, code: int, message: str, status: str | None = None, details: list | None = None):
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or self.STATUSES.get(code, "UNKNOWN")
        self.details = details

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


@dataclass(frozen=True)
class Formula:
    """A cell holding a formula (only USER_ENTERED input or updateCells formulaValue make these)."""
    text: str


@dataclass(frozen=True)
class DateTime:
    """A USER_ENTERED date: a serial number (days since 1899-12-30) shown as the text typed."""
    serial: float
    text: str


# --- A1 notation ---------------------------------------------------------------------------

def col_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def quote_title(title: str) -> str:
    """Titles are quoted in responses unless they are plain identifiers that cannot be read as a cell."""
    if _PLAIN_TITLE.fullmatch(title) and not _CELL_LIKE.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def split_range(text: str) -> tuple[str | None, str | None]:
    """-> (title, cells). `title` is None when there is no sheet part; `cells` None for a whole sheet."""
    if text.startswith("'"):
        i, title = 1, []
        while i < len(text):
            if text[i] == "'":
                if text[i + 1:i + 2] == "'":
                    title.append("'")
                    i += 2
                    continue
                rest = text[i + 1:]
                if rest == "":
                    return "".join(title), None
                if rest.startswith("!") and len(rest) > 1:
                    return "".join(title), rest[1:]
                break
            title.append(text[i])
            i += 1
        raise ValueError(text)
    if "!" in text:
        title, _, cells = text.rpartition("!")
        return title, cells
    return None, text


def parse_cells(cells: str) -> tuple[int | None, int | None, int | None, int | None]:
    """'A1:C10' -> (row0, col0, row1, col1), 0-based, end inclusive; None where unbounded."""
    parts = cells.split(":")
    if len(parts) > 2 or not cells:
        raise ValueError(cells)
    ends = []
    for part in parts:
        m = _END.fullmatch(part)
        if not m or not (m[1] or m[2]) or (m[2] and int(m[2]) == 0):
            raise ValueError(cells)
        ends.append((int(m[2]) - 1 if m[2] else None, col_index(m[1]) if m[1] else None))
    if len(ends) == 1:
        (r, c), = ends
        if r is None or c is None:
            raise ValueError(cells)
        return r, c, r, c
    (r0, c0), (r1, c1) = ends
    if (r0 is None and c0 is not None and r1 is not None and c1 is None) or \
       (c0 is None and r0 is not None and c1 is not None and r1 is None):
        raise ValueError(cells)  # 'A:5' or '5:A'
    return r0, c0, r1, c1


def a1(title: str, r0: int, c0: int, r1: int, c1: int) -> str:
    """The normalized range the API answers with: quoted title, bounded cells (0-based inclusive)."""
    start = f"{col_letters(c0)}{r0 + 1}"
    if (r0, c0) == (r1, c1):
        return f"{quote_title(title)}!{start}"
    return f"{quote_title(title)}!{start}:{col_letters(c1)}{r1 + 1}"


# --- values in and out ---------------------------------------------------------------------

def user_entered(value):
    """What Sheets makes of a typed string: formulas, numbers ('0123' -> 123), booleans, dates."""
    if not isinstance(value, str):
        return value
    if value.startswith("'"):
        return value[1:] or None  # a leading apostrophe forces text
    if value.startswith("=") and len(value) > 1:
        return Formula(value)
    text = value.strip()
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    if _NUMBER.fullmatch(text):
        number = float(text)
        return int(number) if number.is_integer() and abs(number) < 2 ** 53 else number
    if m := _DATE.fullmatch(text):
        try:
            moment = datetime(*(int(g) for g in m.groups(default="0")))
        except ValueError:
            return value
        serial = (moment - EPOCH).total_seconds() / 86400
        return DateTime(int(serial) if serial.is_integer() else serial, value)
    return value


def stored(value, option: str, where: str):
    """The cell to store for one written value. Returns ... (Ellipsis) for null: "leave the cell alone"."""
    if value is None:
        return ...
    if isinstance(value, (dict, list)):
        raise ApiError(400, f"Invalid {where}: {'struct_value' if isinstance(value, dict) else 'list_value'} "
                            f"{value!r}")
    if option == "USER_ENTERED":
        value = user_entered(value)
    return None if value == "" else value


def _plain_number(x):
    if isinstance(x, float) and x.is_integer() and abs(x) < 2 ** 53:
        return int(x)
    return x


def format_number(x) -> str:
    x = _plain_number(x)
    if isinstance(x, int):
        return str(x)
    return format(x, ".15g").upper()


def render(cell, value_render: str, datetime_render: str):
    if cell is None:
        return ""
    if isinstance(cell, Formula):
        return cell.text if value_render == "FORMULA" else FORMULA_RESULT
    if isinstance(cell, DateTime):
        if value_render == "FORMATTED_VALUE" or datetime_render == "FORMATTED_STRING":
            return cell.text
        return cell.serial
    if value_render == "FORMATTED_VALUE":
        if isinstance(cell, bool):
            return "TRUE" if cell else "FALSE"
        if isinstance(cell, (int, float)):
            return format_number(cell)
        return str(cell)
    return _plain_number(cell) if isinstance(cell, (int, float)) and not isinstance(cell, bool) else cell


def trimmed(rows: list[list]) -> list[list]:
    """Drop trailing empty cells of each row and trailing empty rows (a blank middle row stays as [])."""
    out = []
    for row in rows:
        end = len(row)
        while end and row[end - 1] == "":
            end -= 1
        out.append(row[:end])
    while out and not out[-1]:
        out.pop()
    return out
