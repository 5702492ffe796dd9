"""Referrals: an invite is credited when the invitee joins. Pure.

An `invite` event's member is the inviter; its `detail` names the invitee by member id, platform user id
or mobile (`member=M0042`, `user=lin.xiao`, `mobile=138…`, or the bare value, matched against all three).
It is credited when the invitee's first join to the shop lies within `referral_window` (Settings, default
7 days) of the invite, before or after it: the usual order is the link first, then the join. A credited
invitee has one inviter (the invite nearest before the join, else the first after it); the invitee's
`referred_by` is set from it. These earn nothing, each a warning at its Events row:
- an invite naming nobody (`invite_no_invitee`);
- a member inviting themself (`invite_self`);
- an invitee who was in the shop before the window (`invite_already_member`).
An invite whose invitee has not joined yet waits, silently, until the window closes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

DEFAULT_WINDOW_DAYS = 7


@dataclass(frozen=True)
class Referral:
    inviter: str
    invitee: str
    invited_at: datetime          # naive wall time
    joined_at: datetime           # the invitee's first join to the shop
    group_id: str | None          # the group the invitee joined
    event: Any                    # the invite event


@dataclass(frozen=True)
class Refusal:
    code: str                     # invite_no_invitee | invite_self | invite_already_member
    event: Any
    invitee: str = ""


def _detail(detail: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in re.split(r"[;；|]", detail or ""):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip().lower()] = v.strip()
        elif part.strip():
            out.setdefault("channel", part.strip().removeprefix("channel ").strip())
    return out


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo else value


def window(settings: Any) -> timedelta:
    """Settings `referral_window` (a duration, or a number of days); 7 days when empty."""
    value = (getattr(settings, "extra", None) or {}).get("referral_window")
    if isinstance(value, timedelta):
        return value
    try:
        return timedelta(days=float(value)) if value not in (None, "") else timedelta(days=DEFAULT_WINDOW_DAYS)
    except (TypeError, ValueError):
        return timedelta(days=DEFAULT_WINDOW_DAYS)


class _People:
    """Who is who: member id, platform user id and mobile → member id, and each person's first join."""

    def __init__(self, members: Iterable[Any], events: Iterable[Any]):
        self.by_user: dict[str, str] = {}
        self.by_mobile: dict[str, str] = {}
        self.ids: set[str] = set()
        self.first_join: dict[str, tuple[datetime, str | None]] = {}
        for m in members:
            self._know(m.member_id, m.platform_user_id, m.mobile)
            if m.joined_at is not None:
                self._joined(m.member_id, _naive(m.joined_at), m.group_id)
        for e in events:
            if e.type == "join":
                info = _detail(e.detail)
                self._know(e.member_id, info.get("user") or info.get("userid"), info.get("mobile"))
                self._joined(e.member_id, _naive(e.at), e.group_id)

    def _know(self, member_id: str, user: str | None, mobile: str | None) -> None:
        self.ids.add(member_id)
        if user:
            self.by_user.setdefault(str(user), member_id)
        if mobile:
            self.by_mobile.setdefault(str(mobile), member_id)

    def _joined(self, member_id: str, at: datetime, group_id: str | None) -> None:
        if member_id not in self.first_join or at < self.first_join[member_id][0]:
            self.first_join[member_id] = (at, group_id)

    def resolve(self, info: dict[str, str]) -> str | None:
        """The member id an invite names, or the raw name when nobody by it is known (yet)."""
        if info.get("member"):
            return info["member"]
        if info.get("user"):
            return self.by_user.get(info["user"], info["user"])
        if info.get("mobile"):
            return self.by_mobile.get(info["mobile"], info["mobile"])
        bare = info.get("channel") or info.get("invitee")
        if not bare:
            return None
        if bare in self.ids:
            return bare
        return self.by_user.get(bare) or self.by_mobile.get(bare) or bare


def referrals(members: Iterable[Any], events: Iterable[Any], settings: Any) -> tuple[list[Referral], list[Refusal]]:
    """The credited referrals (one per invitee) and the invites that earn nothing. `events`: those due."""
    members, events = list(members), sorted(events, key=lambda e: (_naive(e.at), e.row))
    people = _People(members, events)
    span = window(settings)
    refusals: list[Refusal] = []
    candidates: dict[str, list[tuple[Any, str]]] = {}
    for e in events:
        if e.type != "invite":
            continue
        invitee = people.resolve(_detail(e.detail))
        if not invitee:
            refusals.append(Refusal("invite_no_invitee", e))
            continue
        if invitee == e.member_id:
            refusals.append(Refusal("invite_self", e, invitee))
            continue
        candidates.setdefault(invitee, []).append((e, invitee))
    out: list[Referral] = []
    for invitee, invites in candidates.items():
        first = people.first_join.get(invitee)
        if first is None:
            continue  # not joined (yet): waits
        joined_at, group_id = first
        credited = None
        before = [e for e, _ in invites if joined_at - span <= _naive(e.at) <= joined_at]
        after = [e for e, _ in invites if joined_at < _naive(e.at) <= joined_at + span]
        if before:
            credited = before[-1]
        elif after:
            credited = after[0]
        for e, _ in invites:
            if e is credited:
                continue
            if _naive(e.at) > joined_at:  # the invitee was in the shop already (or credited to another)
                refusals.append(Refusal("invite_already_member", e, invitee))
        if credited is not None:
            out.append(Referral(credited.member_id, invitee, _naive(credited.at), joined_at, group_id, credited))
    out.sort(key=lambda r: (r.joined_at, r.invitee))
    refusals.sort(key=lambda r: r.event.row)
    return out, refusals


def joined_counts(found: Iterable[Referral], since: datetime | None = None) -> dict[str, int]:
    """Joined referrals per inviter (those whose invitee joined at or after `since`, naive wall time)."""
    counts: dict[str, int] = {}
    for r in found:
        if since is None or r.joined_at >= since:
            counts[r.inviter] = counts.get(r.inviter, 0) + 1
    return counts
