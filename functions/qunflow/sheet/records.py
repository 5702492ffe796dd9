"""Typed rows, one dataclass per tab. Field names are the schema's column keys.

tests/test_schema.py checks that every schema in sheets_schema/ has a record here
with exactly its columns (plus `row`, the row number the operator sees), and that
every record here has a schema.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from .cells import TimeRange


@dataclass
class Setting:
    key: str
    value: str | None = None
    about: str | None = None
    row: int = 0


@dataclass
class Group:
    group_id: str
    name: str
    platform: str
    webhook: str
    kind: str
    secret: str | None = None
    timezone: ZoneInfo | None = None
    campaign_start: date | None = None
    quiet_hours: TimeRange | None = None
    daily_cap: int | None = None
    enabled: bool = True
    holdout: bool = False
    status: str | None = None
    keyword: str | None = None     # the robot's security keyword(s), comma-separated (DingTalk, Feishu)
    checkin_keyword: str | None = None
    owner: str | None = None       # wecom-customer: the owner's userid (the task's sender)
    chat_id: str | None = None     # the platform's id of the chat: its events count for this group (wecom-customer: the customer group's chat_id)
    row: int = 0


@dataclass
class Member:
    member_id: str
    name: str
    group_id: str
    platform_user_id: str | None = None
    mobile: str | None = None
    joined_at: datetime | None = None
    left_at: datetime | None = None
    source: str | None = None
    referred_by: str | None = None
    tags: tuple[str, ...] = ()
    status: str = "active"
    last_active_at: datetime | None = None
    layer: str | None = None
    rule_tags: tuple[str, ...] = ()
    review: str | None = None
    welcomed_at: datetime | None = None
    coupon_code: str | None = None
    row: int = 0


@dataclass
class Tag:
    tag: str
    rule: str | None = None
    description: str | None = None
    row: int = 0


@dataclass
class Coupon:
    code: str
    campaign: str
    kind: str
    value: Decimal | None = None
    status: str = "available"
    member_id: str | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    redeemed_at: datetime | None = None
    order_id: str | None = None
    draw_id: str | None = None
    row: int = 0


@dataclass
class Template:
    name: str
    content: str
    row: int = 0


@dataclass
class Card:
    """A Cards row: a link card an SOP row sends by `card:NAME` (engine/compose.py; each platform's own form)."""
    name: str
    title: str
    url: str
    description: str | None = None
    picture_url: str | None = None
    button_text: str | None = None
    row: int = 0


@dataclass
class SopRule:
    rule_id: str
    groups: tuple[str, ...]
    schedule: Any          # qunflow.sop.schedule.Schedule
    content: str
    enabled: bool = True
    phase: str | None = None
    msg_type: str = "text"
    mention: str = "none"
    coupon: str | None = None
    catch_up: timedelta | None = None
    quiet: str = "wait"
    until: date | None = None
    variant: str | None = None
    status: str | None = None
    campaign: str | None = None   # a Campaigns row: its start is day 1 of this rule's `day N` (sheet.campaigns)
    coupon_display: str | None = None
    row: int = 0


@dataclass
class Campaign:
    campaign: str
    start: date
    playbook: str | None = None
    groups: tuple[str, ...] = ()
    note: str | None = None
    row: int = 0


@dataclass
class Event:
    event_id: str
    type: str
    member_id: str
    at: datetime
    group_id: str | None = None
    amount: Decimal | None = None
    coupon_code: str | None = None
    detail: str | None = None
    row: int = 0


@dataclass
class SendRecord:
    send_id: str | None = None
    rule_id: str | None = None
    group_id: str | None = None
    member_id: str | None = None
    scheduled_for: datetime | None = None
    status: str | None = None
    attempts: int | None = None
    sent_at: datetime | None = None
    outcome: str | None = None
    preview: str | None = None
    row: int = 0


@dataclass
class MetricRow:
    date: date | None = None
    group_id: str | None = None
    members: int | None = None
    joined: int | None = None
    left: int | None = None
    messages_sent: int | None = None
    net: int | None = None
    activated: int | None = None
    active_7d: int | None = None
    lurkers: int | None = None
    messages_by_members: int | None = None
    coupons_issued: int | None = None
    coupons_redeemed: int | None = None
    redemption_rate: Decimal | None = None
    orders: int | None = None
    buyers: int | None = None
    revenue: Decimal | None = None
    conversion_rate: Decimal | None = None
    referrals: int | None = None
    k_factor: Decimal | None = None
    shop_people: int | None = None
    row: int = 0


@dataclass
class CohortRow:
    cohort_date: date | None = None
    group_id: str | None = None
    size: int | None = None
    activated: int | None = None
    d1: Decimal | None = None
    d7: Decimal | None = None
    d30: Decimal | None = None
    still_in: Decimal | None = None
    row: int = 0


@dataclass
class RuleReportRow:
    date: date | None = None
    rule_id: str | None = None
    group_id: str | None = None
    phase: str | None = None
    variant: str | None = None
    sends: int | None = None
    reach: int | None = None
    conversions: int | None = None
    revenue: Decimal | None = None
    conversion_rate: Decimal | None = None
    row: int = 0


@dataclass
class ProblemRow:
    tab: str | None = None
    row: int | None = None
    column: str | None = None
    value: str | None = None
    message: str | None = None
    severity: str | None = None
    seen_at: datetime | None = None
    link: str | None = None


RECORDS: dict[str, type] = {
    "settings": Setting, "groups": Group, "members": Member, "tags": Tag, "coupons": Coupon,
    "templates": Template, "cards": Card, "sop": SopRule, "campaigns": Campaign, "events": Event, "sendlog": SendRecord,
    "metrics": MetricRow, "problems": ProblemRow,
    "cohorts": CohortRow, "rules_report": RuleReportRow,
}


@dataclass
class Settings:
    """The Settings tab, typed. Defaults come from sheets_schema/settings.yaml."""
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    language: str = "zh-CN"
    catch_up: timedelta = timedelta(minutes=30)
    coupon_expiry_days: int = 7
    daily_cap: int = 10
    quiet_hours: TimeRange | None = None
    welcome_window: timedelta = timedelta(hours=6)   # how late a welcome may go out after a join seen late
    min_gap: timedelta = timedelta(minutes=2)        # least time between two slots in one group
    extra: dict[str, Any] = field(default_factory=dict)  # knobs added by later issues, typed by the schema
