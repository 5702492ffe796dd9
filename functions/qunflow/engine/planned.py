"""A planned send, and the time arithmetic every planner shares: a group's zone, sheet times, quiet hours. Pure."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ..sheet.records import Group, Member, SopRule
from ..sheet.workbook import Workbook
from .audience import Audience


@dataclass
class PlannedSend:
    send_id: str                 # the delivery's id; member-relative batches end in :batch
    rule: SopRule
    group: Group
    occurrence: datetime         # when the schedule fired (UTC)
    at: datetime                 # when it goes out (UTC), after quiet hours
    policy: str = "due"          # due | missed | quiet_skip | dead_webhook | deferred | past_until (engine/quota.py too)
    reason: str = ""
    members: list[Member] = field(default_factory=list)          # due members (member-relative rules)
    member_send_ids: dict[str, str] = field(default_factory=dict)
    audience: Audience = field(default_factory=Audience)
    coupons: dict[str, str] = field(default_factory=dict)        # member_id -> code
    pool_empty: bool = False
    cap: int | None = None       # the daily cap that deferred or skipped it (a cap_reached warning)
    quota: str | None = None     # the WeCom quota ("31 per month") that deferred or skipped it (wecom_quota)

    @property
    def sends(self) -> list[str]:
        """The ledger ids this planned send accounts for."""
        return list(self.member_send_ids.values()) or [self.send_id]


def group_tz(group: Group, wb: Workbook) -> ZoneInfo:
    return group.timezone or wb.settings.timezone


def local_naive(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A sheet datetime (wall time in tz unless it carries an offset) as an aware UTC datetime."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=tz)
    return aware.astimezone(timezone.utc)


def quiet_shift(at: datetime, group: Group, wb: Workbook) -> tuple[datetime, bool]:
    """(when it may go out, whether it was inside quiet hours)."""
    quiet = group.quiet_hours or wb.settings.quiet_hours
    if quiet is None:
        return at, False
    tz = group_tz(group, wb)
    local = at.astimezone(tz)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return at, False
    end_day = local.date() if local.time().replace(tzinfo=None) < quiet.end else local.date() + timedelta(days=1)
    end = datetime.combine(end_day, quiet.end, tzinfo=tz)
    return end.astimezone(timezone.utc), True
