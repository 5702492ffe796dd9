"""The tick's side of the state store: what it remembers apart from the sheet, and how the sheet is told.

- **The ledger.** Every send's state lives in the store; the SendLog tab is a projection of it
  (jobs/sendlog_projection.py). On the first
  run against a store, the SendLog's history is imported (`import_sendlog`), so nothing already sent goes
  out again. A send still `claimed` when a tick starts was in flight in a run that died: it becomes `unknown`
  (it may have reached the group), never sent twice.
- **Claims.** Each delivery is claimed just before its first POST, with the coupons and the welcome it
  decides, in one transaction (`Claims.before_send`). A claim the store refuses is never posted. Everything
  not claimed when a run dies is planned again by the next tick.
- **Bindings win over the sheet.** A coupon bound to a member, or a member's welcome, that an operator's
  stale save took out of the sheet is put back (in the workbook the tick plans from, and in the sheet).
- **`last_tick`** is a cursor of the store that never moves back; the Settings row is its projection.
"""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from ..engine.ledger import Entry, Ledger
from ..engine.outcomes import POLICY_STATUS
from ..engine.planned import PlannedSend
from ..sheet.changes import Changes
from ..sheet.workbook import Workbook
from ..state.base import Binding, Conflict, SendState, from_iso, iso

IMPORTED = "sendlog_imported"
STALE_CLAIM = "the run stopped after claiming it; it may have been delivered"


def import_sendlog(state: Any, ledger: Ledger, now: datetime) -> int:
    """Once per store: the SendLog's history as the store's ledger (what was final stays final)."""
    if state.cursor(IMPORTED):
        return 0
    rows = [SendState(e.send_id, e.status if e.status != "pending" else "unknown", e.rule_id or "", e.group_id or "",
                      e.scheduled_for, e.attempts, None, e.sent_at, "imported from the SendLog tab")
            for e in ledger.latest.values() if e.status != "pending"]
    count = state.record(rows, now)
    state.advance(IMPORTED, iso(now))
    return count


def recover_claims(state: Any, now: datetime, sends: list[SendState]) -> list[SendState]:
    """Sends left `claimed` by a run that died (the tick's lease says no other run is alive) become `unknown`;
    `sends` as they are now (the store's, read once by the caller)."""
    out = []
    for s in sends:
        if s.status == "claimed":
            state.settle([s.send_id], "unknown", at=now, attempts=max(s.attempts, 1), reason=STALE_CLAIM)
            s = replace(s, status="unknown", attempts=max(s.attempts, 1), reason=STALE_CLAIM)
        out.append(s)
    return out


def ledger_from_state(sends: list[SendState], ledger: Ledger) -> None:
    """The store's states over the SendLog's: the store is the memory, the sheet may have been reverted."""
    for s in sends:
        ledger.add(Entry(s.send_id, s.status, s.attempts, s.scheduled_for, s.sent_at, s.group_id or None,
                         s.rule_id or None, s.reason or ""))


def last_tick(state: Any) -> datetime | None:
    return from_iso(state.cursor("last_tick"))


def advance_last_tick(state: Any, now: datetime) -> None:
    state.advance("last_tick", iso(now))


def _send_group(wb: Workbook, send_id: str) -> str | None:
    """The group of a send id `rule:group:stamp[...]` (the group whose id sits between colons)."""
    for rule in wb.sop:
        if send_id.startswith(f"{rule.rule_id}:"):
            rest = send_id[len(rule.rule_id) + 1:]
            return next((g for g in wb.groups if rest.startswith(f"{g}:")), None)
    return None


def restore_bindings(state: Any, wb: Workbook, changes: Changes) -> int:
    """Put back into the workbook (and, through `changes`, the sheet) what the store says a send decided."""
    restored = 0
    for code, b in state.bindings("coupon").items():
        coupon = wb.coupons.get(code)
        group_id = _send_group(wb, b.send_id)
        member = wb.members.get((b.value, group_id)) if group_id else None
        member = member if member is not None else wb.members.get(b.value)
        if coupon is not None and coupon.member_id != b.value:
            coupon.member_id = b.value
            changes.set("coupons", code, "member_id", b.value)
            if coupon.status == "available":
                coupon.status = "issued"
                changes.set("coupons", code, "status", "issued")
            restored += 1
        if member is not None and not member.coupon_code:
            member.coupon_code = code
            changes.set("members", (member.member_id, member.group_id), "coupon_code", code)
            restored += 1
    for key, b in state.bindings("welcome").items():
        member_id, _, group_id = key.rpartition("@")
        member = wb.members.get((member_id, group_id))
        if member is not None and member.welcomed_at is None:
            at = from_iso(b.value)
            tz = wb.groups[member.group_id].timezone if member.group_id in wb.groups else None
            member.welcomed_at = at.astimezone(tz or wb.settings.timezone).replace(tzinfo=None) if at else None
            changes.set("members", (member.member_id, member.group_id), "welcomed_at", member.welcomed_at)
            restored += 1
    return restored


class Claims:
    """The dispatcher's before/after hooks: claim just before the first POST, settle with the result."""

    def __init__(self, state: Any, by_id: dict[str, PlannedSend], clock, journal: Any):
        self.state, self.by_id, self.clock, self.journal = state, by_id, clock, journal
        self.holder = uuid.uuid4().hex
        self.claimed: set[str] = set()
        self.refused: dict[str, str] = {}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    def before_send(self, delivery: Any, attempt: int) -> bool:
        p = self.by_id[delivery.send_id]
        if p.send_id not in self.claimed:
            now = self._now()
            bindings = [Binding("coupon", code, member_id, p.send_id, now) for member_id, code in p.coupons.items()]
            if p.rule.schedule.kind == "on_join":
                bindings += [Binding("welcome", f"{m.member_id}@{p.group.group_id}", iso(now), p.send_id, now)
                             for m in p.members]
            try:
                self.state.claim(p.sends, rule_id=p.rule.rule_id, group_id=p.group.group_id,
                                 scheduled_for=p.occurrence, holder=self.holder, at=now, bindings=bindings)
            except Conflict as refused:
                self.refused[p.send_id] = str(refused)
                return False
            self.claimed.add(p.send_id)
        self.journal.attempt(p.sends, p.group.group_id, p.rule.rule_id)
        return True

    def after_send(self, result: Any) -> None:
        p = self.by_id[result.send_id]
        if p.send_id not in self.claimed:
            return                                  # refused or never attempted: nothing of ours to settle
        sent_at = datetime.fromtimestamp(result.sent_at, timezone.utc) if result.sent_at else None
        self.state.settle(p.sends, result.status, at=self._now(), attempts=result.attempts, sent_at=sent_at,
                          reason=result.reason)
        self.journal.result(p.sends, result.status, result.attempts, sent_at, result.reason, p.group.group_id,
                            p.rule.rule_id)


def record_policies(state: Any, planned: list[PlannedSend], outcomes: dict, now: datetime) -> None:
    """What the planner decided without posting (skipped, missed, deferred, retry) and sends that failed before
    any POST (an unresolved webhook, a template error): into the store, so the sheet can be re-projected."""
    rows = []
    for p in planned:
        if p.policy == "due":
            o = outcomes.get(p.send_id)
            if o is None or o.attempts or o.status not in ("failed", "skipped"):
                continue
            status, reason = o.status, o.reason
        else:
            status, reason = POLICY_STATUS.get(p.policy, p.policy), p.reason
        scheduled = p.at if status == "deferred" else p.occurrence   # a deferred send comes back at its new time
        for sid in p.sends:
            rows.append(SendState(sid, status, p.rule.rule_id, p.group.group_id, scheduled, reason=reason))
    state.record([r for r in rows if r.status in ("skipped", "missed", "deferred", "retry", "failed")], now)


def drain_inbox(state: Any, wb: Workbook, sink: Any, today: Any, changes: Changes,
                *, now: datetime) -> list[str]:
    """Events the inbox holds and the Events tab does not: appended to the tab (through `changes`) and to the
    workbook the tick folds; the ids to mark folded once the write-back is done. Events already in the tab (a
    write-back kept for later, then applied) are only marked. The platforms' events (the `events` function's)
    are made sense of first: rows for joins, leaves and check-ins, activity for messages (jobs/events_inbox.py)."""
    from ..jobs.events_inbox import fold_platform
    from ..jobs.ingest import existing_event_ids
    from ..sheet.cells import fold
    from ..sheet.parse import parse_table
    pending = state.pending_events()
    if not pending:
        return []
    table = wb.tables["events"]
    if table.unreadable:
        return []      # kept in the inbox until qunflow can read (and so write) the Events tab again
    rows, _ = fold_platform(state, wb, pending, now)
    shown = existing_event_ids(wb)
    new = [e for e in rows if fold(str(e.get("event_id", ""))) not in shown]
    if new and not table.missing:
        rows = [[None] * table.width for _ in new]
        for row, event in zip(rows, new):
            for key, index in table.columns.items():
                row[index] = event.get(key)
        padded = replace(table, rows=[[]] * len(table.rows) + rows)   # the rows' numbers as the tab will show them
        from ..sheet.load import local_times
        added = parse_table(padded, sink, today)
        local_times(wb, added)
        wb.events.extend(added)
        changes.append("events", [{k: v for k, v in e.items() if k in table.columns} for e in new])
    return [str(e.get("event_id")) for e in pending]


PARSED_DAYS = 3       # a block of rows nobody reads for this long is parsed again, and its slot written again


def parsed_blocks(state: Any, clock: Any) -> Any:
    """The big tabs' parsed blocks kept in the store (sheet/reuse.py), so a tick parses only the rows that changed.
    The store is a cache here: a read or write it refuses costs a parse, never the tick."""
    from ..sheet.reuse import BlockCache

    def read_all(prefix: str) -> dict[str, str]:
        try:
            return state.cached_under(prefix, clock())
        except Exception:  # noqa: BLE001 - any store's refusal: the blocks are parsed
            return {}

    def write(name: str, text: str) -> None:
        try:
            state.cache(name, text, clock() + PARSED_DAYS * 86400)
        except Exception:  # noqa: BLE001 - kept by the next tick that parses this block
            pass
    return BlockCache(read_all, write)
