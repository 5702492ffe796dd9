"""The send ledger: what has happened to every send, from the SendLog tab (and the local journal).

Send ids are deterministic: rule, group, occurrence (UTC), and member where there is one, e.g.
`R01:G01:20261201T1200Z` or `W01:G01:20261201T1203Z:M0007`. A send whose latest state is final is
never sent again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

FINAL = {"sent", "failed", "skipped", "missed", "unknown", "not_sent", "quota"}
HELD = {"awaiting_confirmation"}        # a WeCom customer-group task waits for its owner: never planned again
DONE = FINAL | HELD
STATES = DONE | {"pending", "retry", "deferred"}


def send_id(rule_id: str, group_id: str, occurrence: datetime, member_id: str | None = None) -> str:
    stamp = occurrence.astimezone(timezone.utc).strftime("%Y%m%dT%H%MZ")
    return f"{rule_id}:{group_id}:{stamp}" + (f":{member_id}" if member_id else "")


@dataclass(frozen=True)
class Entry:
    send_id: str
    status: str
    attempts: int = 0
    scheduled_for: datetime | None = None
    sent_at: datetime | None = None
    group_id: str | None = None
    rule_id: str | None = None
    reason: str = ""             # why it is in this state (a deferred send: the daily cap, or the collision guard)


class Ledger:
    """The latest state of each send id (later rows win)."""

    def __init__(self, entries: Iterable[Entry] = ()):
        self.latest: dict[str, Entry] = {}
        for entry in entries:
            self.latest[entry.send_id] = entry

    def add(self, entry: Entry) -> None:
        self.latest[entry.send_id] = entry

    def status(self, send_id: str) -> str | None:
        entry = self.latest.get(send_id)
        return entry.status if entry else None

    def is_done(self, send_id: str) -> bool:
        return self.status(send_id) in DONE

    def deferred(self) -> list[Entry]:
        return [e for e in self.latest.values() if e.status == "deferred"]

    def retrying(self) -> list[Entry]:
        """Sends the platform never took (a run gave up on a passing failure): later ticks try them again."""
        return [e for e in self.latest.values() if e.status == "retry"]

    def members_done(self) -> set[tuple[str, str, str]]:
        """(rule id, group id, member id) of every final member-relative send (built once, then kept)."""
        if getattr(self, "_members_done", None) is None or self._members_done[0] != len(self.latest):
            done = set()
            for e in self.latest.values():
                if e.status in FINAL and e.rule_id and e.group_id:
                    prefix = f"{e.rule_id}:{e.group_id}:"
                    parts = e.send_id[len(prefix):].split(":", 1) if e.send_id.startswith(prefix) else []
                    if len(parts) == 2:
                        done.add((e.rule_id, e.group_id, parts[1]))
            self._members_done = (len(self.latest), done)
        return self._members_done[1]

    def last_sent_by_group(self) -> dict[str, datetime]:
        """group id -> when qunflow last posted there (the collision guard's starting point)."""
        out: dict[str, datetime] = {}
        for e in self.latest.values():
            if e.status == "sent" and e.group_id and e.sent_at is not None:
                at = _aware(e.sent_at)
                if e.group_id not in out or at > out[e.group_id]:
                    out[e.group_id] = at
        return out

    def quota_used(self, group_id: str, start: datetime, end: datetime) -> int:
        """Mass messages a WeCom customer group received (or has waiting for its owner) in [start, end)."""
        def when(e: Entry):
            at = e.sent_at if e.status == "sent" else e.scheduled_for
            return _aware(at) if at is not None else None
        return sum(1 for e in self.latest.values() if e.group_id == group_id and e.status in ("sent", *HELD)
                   and when(e) is not None and start <= when(e) < end)

    def sent_count(self, group_id: str, day_start: datetime, day_end: datetime) -> int:
        return sum(1 for e in self.latest.values() if e.status == "sent" and e.group_id == group_id
                   and e.sent_at is not None and day_start <= _aware(e.sent_at) < day_end)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def from_sendlog(rows: Iterable, tz_of_group) -> Ledger:
    """Build the ledger from SendLog records; naive times are read in their group's time zone."""
    ledger = Ledger()
    for row in rows:
        if not row.send_id or not row.status:
            continue
        tz = tz_of_group(row.group_id)
        status = "unknown" if row.status == "pending" else row.status  # a run stopped after its write-ahead
        ledger.add(Entry(row.send_id, status, row.attempts or 0,
                         _local(row.scheduled_for, tz), _local(row.sent_at, tz), row.group_id, row.rule_id,
                         row.outcome or ""))
    return ledger


def _local(value: datetime | None, tz) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=tz)
