"""What a job wants written back, addressed by key, never by remembered row number.

Staff sort and insert rows between a read and a write; a Changes value is
resolved to cell positions only at the moment it is written (qunflow.stores.writeplan).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

Row = dict[str, Any]  # column key -> value


@dataclass(frozen=True)
class CellChange:
    tab: str                  # tab key, e.g. "groups"
    key: tuple[str, ...]      # the row's key values, in the schema's key-column order
    column: str               # column key
    value: Any


@dataclass
class Changes:
    cells: list[CellChange] = field(default_factory=list)
    appends: dict[str, list[Row]] = field(default_factory=dict)   # log tabs: new rows at the end
    replace: dict[str, list[Row]] = field(default_factory=dict)   # computed tabs: the whole content
    upserts: dict[str, list[Row]] = field(default_factory=dict)   # rows matched by the tab's key columns
    rows_at: list[tuple[str, int, Row]] = field(default_factory=list)  # rows this run wrote ahead, by sheet row

    def set(self, tab: str, key: str | tuple[str, ...], column: str, value: Any) -> None:
        self.cells.append(CellChange(tab, (key,) if isinstance(key, str) else tuple(key), column, value))

    def append(self, tab: str, rows: list[Row]) -> None:
        self.appends.setdefault(tab, []).extend(rows)

    def upsert(self, tab: str, rows: list[Row]) -> None:
        self.upserts.setdefault(tab, []).extend(rows)

    def merge(self, later: Changes) -> Changes:
        """These changes, then `later` on top (a later replace wins)."""
        out = Changes(list(self.cells) + list(later.cells))
        for tab in {*self.appends, *later.appends}:
            out.appends[tab] = self.appends.get(tab, []) + later.appends.get(tab, [])
        for tab in {*self.upserts, *later.upserts}:
            out.upserts[tab] = self.upserts.get(tab, []) + later.upserts.get(tab, [])
        out.replace = {**self.replace, **later.replace}
        out.rows_at = list(self.rows_at) + list(later.rows_at)
        return out

    def fold_into_appends(self, key_columns: dict[str, tuple[str, ...]]) -> None:
        """Cell changes to rows this run also appends (a member created from a join event, then welcomed)
        go into the appended row itself: the row does not exist yet to be found by key."""
        index = {}
        for tab, rows in self.appends.items():
            for row in rows:
                if tab in key_columns:
                    index[(tab, tuple(str(row.get(k)) for k in key_columns[tab]))] = row
        kept = []
        for change in self.cells:
            row = index.get((change.tab, tuple(str(k) for k in change.key)))
            if row is None:
                kept.append(change)
            else:
                row[change.column] = change.value
        self.cells = kept

    def is_empty(self) -> bool:
        return not (self.cells or any(self.appends.values()) or self.replace or any(self.upserts.values())
                    or self.rows_at)

    def to_json(self) -> str:
        return json.dumps({
            "cells": [[c.tab, list(c.key), c.column, to_cell(c.value)] for c in self.cells],
            "appends": {t: [{k: to_cell(v) for k, v in r.items()} for r in rows] for t, rows in self.appends.items()},
            "replace": {t: [{k: to_cell(v) for k, v in r.items()} for r in rows] for t, rows in self.replace.items()},
            "upserts": {t: [{k: to_cell(v) for k, v in r.items()} for r in rows] for t, rows in self.upserts.items()},
            "rows_at": [[t, n, {k: to_cell(v) for k, v in r.items()}] for t, n, r in self.rows_at],
        }, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Changes:
        data = json.loads(text)
        return cls(cells=[CellChange(t, tuple(k), c, v) for t, k, c, v in data["cells"]],
                   appends=data["appends"], replace=data["replace"], upserts=data["upserts"],
                   rows_at=[(t, n, r) for t, n, r in data.get("rows_at", [])])


def to_cell(value: Any) -> str | int | float | bool:
    """The value as written to a sheet (always RAW): text for dates, ids and anything else."""
    if value is None:
        return ""
    if isinstance(value, bool) or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else ""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        text = value.replace(microsecond=0).isoformat(sep=" ")
        return text
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
