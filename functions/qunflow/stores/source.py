"""SOURCE, as operators and engineers type it (an .xlsx path, a Google Sheets URL, `gsheets:ID`), and the
store that opens it."""
from __future__ import annotations

import os
import re
from typing import Any

from .base import Store


_GSHEETS_URL = re.compile(r"https://docs\.google\.com/spreadsheets/d/([A-Za-z0-9_-]+)")


def parse_source(source: str | None) -> tuple[str, str]:
    """("google", spreadsheet_id) or ("xlsx", path). SOURCE defaults to $QUNFLOW_SOURCE, then qunflow.xlsx."""
    source = source or os.environ.get("QUNFLOW_SOURCE") or "qunflow.xlsx"
    if source.startswith("gsheets:"):
        return "google", source.split(":", 1)[1]
    if m := _GSHEETS_URL.match(source):
        return "google", m[1]
    return "xlsx", source


def open_store(source: str | None, **options: Any) -> Store:
    kind, where = parse_source(source)
    if kind == "google":
        from .gsheets import GoogleSheetsStore
        return GoogleSheetsStore(where, **options)
    from .xlsx import XlsxStore
    return XlsxStore(where, **options)
