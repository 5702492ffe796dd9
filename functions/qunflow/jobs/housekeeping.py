"""`housekeeping`: move SendLog and Events rows older than N days to archive tabs, so the live sheet stays small.

Pure planning here; each store moves the rows in the order that never loses one: the archive rows are
written first, then the live tab is rewritten without them (a failure in between leaves rows in both
places, never in neither). Whole rows move, operators' extra columns included.

What may be archived: SendLog rows in a final state whose time is older than `keep_days` (they can never
fall due again: a tick's window never reaches back further than its last tick or `catch_up`), and Events
rows older than `keep_days` (the members, coupons and metrics they produced are already in the sheet).
`keep_days` must exceed 30 days (layers and activity look back 30 days) and `catch_up`.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from ..sheet.cells import CellError, is_blank, parse_datetime
from ..engine.ledger import FINAL
from ..sheet.vocabulary import canonical
from ..sheet.tables import Table
from ..sheet.moves import Move
from ..sheet.workbook import Workbook

ARCHIVE_TITLES = {"sendlog": {"en": "SendLog archive", "zh-CN": "发送记录归档"},
                  "events": {"en": "Events archive", "zh-CN": "事件归档"}}
MIN_KEEP_DAYS = 31


def _when(table: Table, row: list[Any], keys: tuple[str, ...]) -> datetime | None:
    for key in keys:
        value = table.cell(row, key)
        if not is_blank(value):
            try:
                return parse_datetime(value)
            except CellError:
                return None
    return None


def plan_moves(wb: Workbook, now: datetime, keep_days: int) -> list[Move]:
    if keep_days < MIN_KEEP_DAYS or timedelta(days=keep_days) <= wb.settings.catch_up:
        raise ValueError(f"keep_days must be at least {MIN_KEEP_DAYS} and longer than catch_up")
    moves = []
    for tab, time_keys in (("sendlog", ("sent_at", "scheduled_for")), ("events", ("at",))):
        table = wb.tables[tab]
        if table.missing or table.header_row != 1:   # the stores rewrite a live tab from row 2 down
            continue
        tz = wb.settings.timezone
        cutoff = (now - timedelta(days=keep_days)).astimezone(tz).replace(tzinfo=None)
        move = Move(tab, table.title, ARCHIVE_TITLES[tab][wb.lang if wb.lang in ("en", "zh-CN") else "en"],
                    list(table.header), old_rows=len(table.rows))
        for row in table.rows:
            if all(is_blank(v) for v in row):
                continue
            when = _when(table, row, time_keys)
            if when is not None and when.tzinfo is not None:
                when = when.astimezone(tz).replace(tzinfo=None)
            status = str(table.cell(row, "status") or "").strip() if tab == "sendlog" else ""
            final = tab != "sendlog" or canonical(table.schema.column("status"), status) in FINAL
            (move.archive if when is not None and when < cutoff and final else move.keep).append(list(row))
        if move.archive:
            moves.append(move)
    return moves


def run_housekeeping(store: Any, now: datetime, keep_days: int = 90, dry_run: bool = False) -> dict[str, Any]:
    """Plan under the tick's own lease (so the two never interleave), then let the store move the rows."""
    from ..sheet.load import load_workbook
    with store.lease("tick", 60):
        snapshot = store.read()
        wb = load_workbook(snapshot.raw, today=now.date(), grid_rows=snapshot.grid_rows)
        moves = plan_moves(wb, now, keep_days)
        summary = {m.tab: {"archived": len(m.archive), "kept": len(m.keep), "archive_tab": m.archive_title}
                   for m in moves}
        if moves and not dry_run:
            store.move_rows(moves, snapshot)
    return {"keep_days": keep_days, "moved": summary, "dry_run": dry_run}
