"""Who is never mentioned, welcomed or rewarded: the blacklist spans all groups, and members who left. Pure."""
from __future__ import annotations

from ..sheet.records import Member


def reachable(member: Member) -> bool:
    """Never mention, welcome or reward a blacklisted member or one who left."""
    return member.status == "active" and member.left_at is None


def blacklist(members) -> tuple[set[str], set[str], set[str]]:
    """(member ids, platform user ids, mobiles) of everyone blacklisted, in any group: it spans all groups."""
    ids, users, mobiles = set(), set(), set()
    for m in members:
        if m.status == "blacklisted":
            ids.add(m.member_id)
            if m.platform_user_id:
                users.add(m.platform_user_id)
            if m.mobile:
                mobiles.add(m.mobile)
    return ids, users, mobiles
