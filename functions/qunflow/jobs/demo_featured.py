"""What `qunflow demo` shows on purpose, besides the random crowd (#16):

- a person in two groups: a day-1 newcomer of the traffic group who joins the flash group the next day
  (welcomed in both, one row per group, counted once in the shop's people);
- a referral made the usual way: the inviter shares a link (an invite naming the friend's platform user
  id), and the friend joins two hours later: `referred_by` is set and the group's k-factor is above 0;
- a lottery drawn twice (the same group, prize and time): prizes are issued once, the second run returns
  the same winners, and the posted text alone verifies the draw.
No randomness: the crowd's random draws stay as they were.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIEND = {"member_id": "M2001", "name": "林小满", "platform_user_id": "u2001"}


def featured(joins: list[dict], members: list[dict], start: date, days: int) -> tuple[list[dict], list[dict]]:
    """(joins to add, events to add): the second group's join of a newcomer, and the invite-then-join referral."""
    extra_joins, events = [], []
    day = 1 if days > 1 else 0
    first = next((j for j in joins if j["group_id"] == "G01"), joins[0] if joins else None)
    if first is not None:
        other = "G02" if first["group_id"] != "G02" else "G01"
        when = max(first["joined_at"] + timedelta(hours=1),
                   datetime.combine(start + timedelta(days=day), time(11, 0), SHANGHAI))
        second = dict(first, group_id=other, joined_at=when, source="online")
        extra_joins.append(second)
        events.append({"event_id": "F-JOIN-2ND", "type": "join", "member_id": second["member_id"], "group_id": other,
                       "at": when.replace(tzinfo=None),
                       "detail": f"name={second['name']}; channel=online; user={second['platform_user_id']}"})
    inviter = next((m for m in members if m["group_id"] == "G01"), None)
    if inviter is not None:
        invited = datetime.combine(start + timedelta(days=day), time(10, 0), SHANGHAI)
        joined = invited + timedelta(hours=2)
        friend = dict(FRIEND, group_id=inviter["group_id"], joined_at=joined, source="referral", status="active")
        extra_joins.append(friend)
        events += [
            {"event_id": "F-INVITE", "type": "invite", "member_id": inviter["member_id"], "group_id": inviter["group_id"],
             "at": invited.replace(tzinfo=None), "detail": f"user={friend['platform_user_id']}"},
            {"event_id": "F-JOIN-FRIEND", "type": "join", "member_id": friend["member_id"], "group_id": friend["group_id"],
             "at": joined.replace(tzinfo=None),
             "detail": f"name={friend['name']}; channel=referral; user={friend['platform_user_id']}"}]
    return extra_joins, events


def lottery_twice(store: Any, state: Any, at: datetime, hook: tuple[str, str | None], *, session: Any, clock: Any,
                  sleep: Any, group_id: str = "G04", prize: str = "lucky88", winners: int = 3) -> dict:
    """Draw the same lottery twice, post the first result, and verify it from the posted text alone."""
    from ..members.lottery import verify_posted
    from ..sheet.load import load_workbook
    from .lottery_draw import post_result, run_draw

    def issued() -> int:
        return sum(1 for c in load_workbook(store.raw).coupons.values() if c.draw_id)

    first = run_draw(store, group_id, at, prize=prize, winners=winners, among=None, seed=None, post=False,
                     dry_run=False, state=state)
    after_first = issued()
    first.hook = hook
    post_result(first, session=session, clock=clock, sleep=sleep)
    again = run_draw(store, group_id, at, prize=prize, winners=winners, among=None, seed=None, post=False,
                     dry_run=False, state=state)
    check = verify_posted(first.text)
    return {"draw_id": first.draw_id, "winners": list(first.result.winners), "again": list(again.result.winners),
            "drawn_again": again.again, "issued_first": after_first, "issued_total": issued(),
            "text": first.text, "verify": "OK" if check.ok else "MISMATCH"}
