"""The store interface: read every tab in one batch, write the changes back in one batch."""
from __future__ import annotations

import os
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..changes import Changes
from ..tables import RawWorkbook


@dataclass
class Snapshot:
    raw: RawWorkbook                                   # title -> rows (header first)
    grid_rows: dict[str, int] = field(default_factory=dict)
    version: str | None = None                         # what the store needs to detect a concurrent edit


@dataclass
class WriteReport:
    requests: int = 0              # API requests the write cost (Google), 0 for local stores
    deferred: bool = False         # the workbook changed since it was read: changes kept for the next run
    reason: str = ""
    skipped: list[str] = field(default_factory=list)


@dataclass
class RequestCount:
    read: int = 0
    write: int = 0


class Store(Protocol):
    kind: str                      # "google" | "xlsx" | "memory"
    requests: RequestCount

    def read(self) -> Snapshot: ...

    def write(self, changes: Changes, snapshot: Snapshot, lang: str) -> WriteReport: ...

    def lease(self, name: str, seconds: float) -> AbstractContextManager[Any]: ...

    def describe(self) -> str: ...


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
