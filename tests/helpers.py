"""Builders shared by the tests: raw workbooks from row dicts, in either language."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from qunflow.sheet.changes import to_cell
from qunflow.sheet.layout import workbook_layout


def make_raw(rows: dict[str, list[dict[str, Any]]], lang: str = "en", order: dict[str, list[str]] | None = None,
             extra_column: str | None = None) -> dict[str, list[list[Any]]]:
    """A raw workbook {title: [header, row...]} with every tab, headers in `lang`.

    `order` maps a tab key to the column keys in the order to lay them out (others follow);
    `extra_column` adds a column the schema does not know, with a value in every row.
    """
    raw = {}
    for layout in workbook_layout(lang):
        columns = list(layout.columns)
        if order and layout.key in order:
            want = order[layout.key]
            columns.sort(key=lambda c: want.index(c.key) if c.key in want else len(want))
        header = [c.header for c in columns]
        if extra_column:
            header.insert(1, extra_column)
        lines = [header]
        for row in rows.get(layout.key, []):
            line = [to_cell(row.get(c.key)) if not isinstance(row.get(c.key), (int, float)) else row.get(c.key) for c in columns]
            if extra_column:
                line.insert(1, f"note {len(lines)}")
            lines.append(line)
        raw[layout.title] = lines
    return raw


BASE = {
    "settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"}],
    "groups": [
        {"group_id": "G01", "name": "Spring deals", "platform": "wecom", "webhook": "env:QUNFLOW_HOOK_G01", "kind": "traffic",
         "campaign_start": "2026-12-01", "quiet_hours": "22:00-08:00", "daily_cap": 8, "enabled": "yes"},
        {"group_id": "G02", "name": "Flash sale", "platform": "dingtalk", "webhook": "env:QUNFLOW_HOOK_G02",
         "secret": "env:QUNFLOW_SIGN_G02", "kind": "flash", "campaign_start": "2026-12-01"},
    ],
    "members": [
        {"member_id": "M0001", "name": "Lin", "group_id": "G01", "platform_user_id": "lin", "mobile": "013800138000",
         "joined_at": "2026-11-20 20:00", "source": "store", "tags": "VIP, 老客", "status": "active"},
        {"member_id": "M0002", "name": "Chen", "group_id": "G02", "mobile": "+8613900139000",
         "joined_at": "2026-11-21 09:30", "referred_by": "M0001"},
    ],
    "tags": [{"tag": "lurker", "rule": "messages_7d == 0", "description": "quiet for a week"}],
    "coupons": [{"code": "0042", "campaign": "welcome50", "kind": "welcome", "value": 50, "status": "available"}],
    "templates": [{"name": "welcome", "content": "Welcome {{ mentions }} to {{ group_name }}!"}],
    "sop": [
        {"rule_id": "R01", "enabled": "yes", "groups": "G01, G02", "schedule": "daily 23:00", "content": "Good night {{ group_name }}"},
        {"rule_id": "W01", "groups": "*", "schedule": "on join", "content": "template:welcome", "mention": "new", "coupon": "welcome50"},
    ],
    "events": [{"event_id": "E1", "type": "join", "member_id": "M0002", "group_id": "G02", "at": "2026-11-21 09:30"}],
}


def write_xlsx(raw: dict[str, list[list[Any]]], path) -> None:
    """Save a raw workbook as a real .xlsx file (strings stay strings, numbers stay numbers)."""
    from openpyxl import Workbook
    book = Workbook()
    book.remove(book.active)
    for title, rows in raw.items():
        sheet = book.create_sheet(title)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value in ("", None):
                    continue
                cell = sheet.cell(row=r, column=c, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"
    book.save(path)


def at(text: str) -> datetime:
    """A Shanghai wall-clock time ("2026-12-01 09:55") as the UTC moment a tick is given."""
    return datetime.fromisoformat(text + "+08:00").astimezone(timezone.utc)


def add_events(store: Any, events: list[dict[str, Any]]) -> None:
    """Rows typed into the Events tab of a memory store (or of a Shop's store), by the tab's own header."""
    raw = getattr(store, "store", store).raw
    header = raw["Events"][0]
    for e in events:
        raw["Events"].append([e.get(h, "") for h in header])
