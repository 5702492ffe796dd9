"""The coupon pool: available codes per campaign, each bound to one member. Pure."""
from __future__ import annotations

from ..sheet.cells import fold
from ..sheet.records import Coupon, Member


class CouponPool:
    """Available codes per campaign, handed out in code order, one per member per campaign."""

    def __init__(self, coupons: dict[str, Coupon]):
        self.free: dict[str, list[str]] = {}
        self.held: dict[tuple[str, str], str] = {}
        for code in sorted(coupons):
            c = coupons[code]
            if c.member_id:
                self.held.setdefault((fold(c.campaign), c.member_id), code)
            elif c.status == "available":
                self.free.setdefault(fold(c.campaign), []).append(code)
        self.issued: list[tuple[str, str]] = []  # (code, member_id) handed out in this run

    def code_for(self, campaign: str, member: Member) -> str | None:
        key = (fold(campaign), member.member_id)
        if key in self.held:
            return self.held[key]
        free = self.free.get(fold(campaign), [])
        if not free:
            return None
        code = free.pop(0)
        self.held[key] = code
        self.issued.append((code, member.member_id))
        return code
