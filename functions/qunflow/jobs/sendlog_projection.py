"""The SendLog tab as a projection of the state store.

With a state store, qunflow's memory of every send is the store, and the SendLog tab shows its last
`sendlog_days` (Settings, default 14):
- The tick does not parse the SendLog. The engine's view of recent sends (the day's metrics, the report)
  comes from the store (`records`); the ledger, daily caps and rule statuses were the store's already.
- Each tick appends the rows of its own sends.
- The whole tab is rewritten from the store (`project`) at the first tick of each day, which takes rows older
  than the window off the tab, and whenever the tab does not show what the store holds: a run that died before
  writing back, or an operator's stale save that put old cells back. Nothing is re-sent either way: what was
  sent is decided by the store, never by the tab.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from ..sheet.cells import is_blank
from ..sheet.changes import Changes
from ..sheet.records import SendRecord
from ..sheet.tables import Table
from ..sheet.vocabulary import canonical
from ..sheet.workbook import Workbook
from ..state.base import CLAIMED, SendState

CURSOR = "sendlog_projected"   # the local day the tab was last rewritten whole
DEFAULT_DAYS = 14


def window_days(wb: Workbook) -> int:
    value = wb.settings.extra.get("sendlog_days", DEFAULT_DAYS)
    return max(1, int(value)) if isinstance(value, int) else DEFAULT_DAYS


def _when(s: SendState) -> datetime | None:
    return s.scheduled_for or s.sent_at or s.updated_at


def in_window(sends: list[SendState], wb: Workbook, now: datetime) -> list[SendState]:
    since = now - timedelta(days=window_days(wb))
    return [s for s in sends if s.status != CLAIMED and (_when(s) is None or _when(s) >= since)]


def _member_of(send_id: str) -> str:
    parts = send_id.split(":")
    return parts[3] if len(parts) > 3 else ""


def records(sends: list[SendState]) -> list[SendRecord]:
    """The store's sends as the records the engine reads from `wb.sendlog` (times aware, in UTC)."""
    return [SendRecord(s.send_id, s.rule_id or None, s.group_id or None, _member_of(s.send_id) or None,
                       s.scheduled_for, s.status, s.attempts, s.sent_at, s.reason, s.preview) for s in sends]


def shown(table: Table) -> dict[str, str]:
    """send id -> the status the tab shows (its last row wins), read from the cells without parsing them."""
    if table.missing or "send_id" not in table.columns or "status" not in table.columns:
        return {}
    out: dict[str, str] = {}
    for row in table.rows:
        send_id = table.cell(row, "send_id")
        if not is_blank(send_id):
            out[str(send_id).strip()] = canonical(table.schema.column("status"), str(table.cell(row, "status") or "").strip())
    return out


def _zone(wb: Workbook, group_id: str | None):
    group = wb.groups.get(group_id or "")
    return (group.timezone if group and group.timezone else None) or wb.settings.timezone


def row_of(s: SendState, wb: Workbook) -> dict:
    tz = _zone(wb, s.group_id)
    local = (lambda t: t.astimezone(tz).replace(tzinfo=None, microsecond=0) if t else None)
    return {"send_id": s.send_id, "rule_id": s.rule_id, "group_id": s.group_id, "member_id": _member_of(s.send_id),
            "scheduled_for": local(s.scheduled_for), "status": s.status, "attempts": s.attempts,
            "sent_at": local(s.sent_at), "outcome": s.reason, "preview": s.preview}


def _order(row: dict, wb: Workbook) -> tuple:
    at = row.get("scheduled_for") or row.get("sent_at")
    if isinstance(at, datetime):
        at = (at if at.tzinfo else at.replace(tzinfo=_zone(wb, row.get("group_id")))).astimezone(timezone.utc)
    else:
        at = datetime.max.replace(tzinfo=timezone.utc)
    return at, str(row.get("send_id"))


def project(state: Any, wb: Workbook, window: list[SendState], changes: Changes, now: datetime) -> str | None:
    """Leave this tick's own rows as appends, or, when the tab is due a rewrite (a new day, or it does not show
    what the store holds), replace the whole tab with the window. Returns the cursor value to advance once the
    write is done (None: nothing rewritten)."""
    if wb.tables["sendlog"].unreadable:
        return None             # a tab qunflow cannot read is never written: nothing rewritten, the cursor stays
    own = {str(r["send_id"]): r for r in changes.appends.get("sendlog", [])}
    own.update({str(r["send_id"]): r for tab, _, r in changes.rows_at if tab == "sendlog"})
    today = now.astimezone(wb.settings.timezone).date().isoformat()
    seen = shown(wb.tables["sendlog"])
    stale = any(seen.get(s.send_id) != s.status for s in window if s.send_id not in own)
    if not stale and state.cursor(CURSOR) == today:
        return None
    rows = {s.send_id: row_of(s, wb) for s in window}
    rows.update(own)
    changes.appends.pop("sendlog", None)
    changes.rows_at = [x for x in changes.rows_at if x[0] != "sendlog"]
    changes.replace["sendlog"] = sorted(rows.values(), key=lambda r: _order(r, wb))
    return today
