"""The whole workbook, typed and checked: the model every job works from. Pure.

`qunflow.sheet.load.load_workbook(raw, today=...)` builds one from raw cells.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .problems import ERROR, Problem
from .records import (Campaign, Coupon, Event, Group, Member, MetricRow, ProblemRow, SendRecord, Settings, SopRule, Tag,
                      Template)
from .tables import Table


@dataclass
class Workbook:
    lang: str
    settings: Settings
    tables: dict[str, Table]
    groups: dict[str, Group] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    tags: list[Tag] = field(default_factory=list)
    coupons: dict[str, Coupon] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    sop: list[SopRule] = field(default_factory=list)
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    sendlog: list[SendRecord] = field(default_factory=list)
    metrics: list[MetricRow] = field(default_factory=list)
    previous_problems: list[ProblemRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    def title(self, tab_key: str) -> str:
        return self.tables[tab_key].title

