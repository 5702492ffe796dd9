"""The store interface: read every tab in one batch, write the changes back in one batch."""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..sheet.changes import Changes
from ..sheet.tables import RawWorkbook


@dataclass
class Snapshot:
    raw: RawWorkbook                                   # title -> rows (header first)
    grid_rows: dict[str, int] = field(default_factory=dict)
    version: str | None = None                         # what the store needs to detect a concurrent edit
    merged: dict[str, list[tuple[int, int, int, int]]] = field(default_factory=dict)  # merged cells near the top


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
