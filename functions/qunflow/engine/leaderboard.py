"""{{ leaderboard }}: the group's top inviters, from an index built once per workbook, not from every event per
message. Pure.

The board counts joined referrals (qunflow.members.referral) whose invitee joined in the last Settings
`leaderboard_days` (default 7) days up to the send, by inviters who are members of the send's group. Which
referrals exist depends on the events due at the send (members.activity.due_events), and of those only
`join` and `invite` events count. So the index keeps those two kinds, sorted by their (aware) time: the events
due at a moment are a prefix of that list, and every send whose moment sees the same prefix shares one
computation of the referrals (in a tick, normally all of them). Per send what is left is a bisect into the
referrals sorted by join time. The result is the same as computing it from all events for every message
(tests/test_hotspots.py keeps that old way as the reference).
"""
from __future__ import annotations

import bisect
from datetime import datetime, timedelta, timezone
from typing import Any

KINDS = ("join", "invite")       # the only events members.referral.referrals reads


def _aware(e: Any, wb: Any) -> datetime:
    """members.activity.due_events' reading of an event's time: wall time in its group's zone, else Settings'."""
    at = e.at
    if at.tzinfo is None:
        group = wb.groups.get(e.group_id) if e.group_id else None
        at = at.replace(tzinfo=(group.timezone if group is not None and group.timezone else None) or wb.settings.timezone)
    return at


class LeaderboardIndex:
    """The referral events of one workbook by time, and the referrals each distinct prefix of them credits."""

    def __init__(self, wb: Any):
        self.wb = wb
        self.fingerprint = _fingerprint(wb)
        timed = sorted(((_aware(e, wb).astimezone(timezone.utc), i, e) for i, e in enumerate(wb.events)
                        if e.at is not None and e.type in KINDS), key=lambda x: (x[0], x[1]))
        self.times = [t for t, _, _ in timed]
        self.order = [(i, e) for _, i, e in timed]     # the events with their place in wb.events
        self._by_prefix: dict[int, tuple[list, list[datetime]]] = {}

    def referrals_at(self, now: datetime) -> tuple[list, list[datetime]]:
        """The credited referrals seeing the events due at `now` (sorted by join time), and their join times."""
        from ..members.referral import referrals
        k = bisect.bisect_right(self.times, now)
        if k not in self._by_prefix:
            due = [e for _, e in sorted(self.order[:k], key=lambda x: x[0])]   # wb.events' own order, as due_events
            found, _ = referrals(self.wb.members.values(), due, self.wb.settings)
            self._by_prefix[k] = (found, [r.joined_at for r in found])
        return self._by_prefix[k]

    def board(self, group_id: str, at: datetime, top: int = 5) -> str:
        wb = self.wb
        days = int(wb.settings.extra.get("leaderboard_days") or 7)
        local = at.astimezone(wb.settings.timezone).replace(tzinfo=None)
        found, joined = self.referrals_at(at)
        counts: dict[str, int] = {}
        since = local - timedelta(days=days)
        for r in found[bisect.bisect_left(joined, since):bisect.bisect_right(joined, local)]:
            counts[r.inviter] = counts.get(r.inviter, 0) + 1
        ranked = sorted(((mid, n) for mid, n in counts.items() if (mid, group_id) in wb.members),
                        key=lambda kv: (-kv[1], kv[0]))[:top]
        return "\n".join(f"{i}. {wb.members[mid].name} {n}" for i, (mid, n) in enumerate(ranked, start=1))


def _fingerprint(wb: Any) -> tuple:
    return (id(wb.events), len(wb.events), id(wb.members), len(wb.members))


def index_of(wb: Any) -> LeaderboardIndex:
    """The workbook's index, built on first use and rebuilt when its events or members were replaced or grew."""
    index = getattr(wb, "_leaderboard_index", None)
    if index is None or index.fingerprint != _fingerprint(wb):
        index = LeaderboardIndex(wb)
        wb._leaderboard_index = index
    return index


def leaderboard(p: Any, wb: Any, top: int = 5) -> str:
    """The board for a planned send: `1. 小林 5` lines (see the module's text)."""
    return index_of(wb).board(p.group.group_id, p.at, top)
