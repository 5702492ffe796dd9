"""The whole workbook, typed and checked: the model every job works from. Pure.

`qunflow.sheet.load.load_workbook(raw, today=...)` builds one from raw cells.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .problems import ERROR, Problem
from .records import (Campaign, Card, Coupon, Event, Group, Member, MetricRow, ProblemRow, SendRecord, Settings,
                      SopRule, Tag, Template)
from .tables import Table


class Memberships(dict):
    """The Members tab: one row per membership, keyed by (member_id, group_id).

    A person in two groups has two rows, sharing member_id. A plain member_id also works as a key: it
    means the person's first membership (in sheet order, then the order added), for what is the same in
    every group (name, platform user id, blacklist status). Iterating gives each person's member id once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._index()

    def _index(self) -> None:
        self._by_person: dict[str, list] = {}
        for m in dict.values(self):
            self._by_person.setdefault(m.member_id, []).append(m)
        for rows in self._by_person.values():
            rows.sort(key=lambda m: m.row or 1 << 30)

    def __setitem__(self, key, member) -> None:
        if isinstance(key, str):
            key = (member.member_id, member.group_id)
        old = dict.get(self, key)
        dict.__setitem__(self, key, member)
        rows = self._by_person.setdefault(member.member_id, [])
        if old is not None and old in rows:
            rows[rows.index(old)] = member
        else:
            rows.append(member)

    def __delitem__(self, key) -> None:
        if isinstance(key, str):
            key = (key, self[key].group_id)
        dict.__delitem__(self, key)
        self._index()

    def __getitem__(self, key):
        if isinstance(key, str):
            rows = self._by_person.get(key)
            if not rows:
                raise KeyError(key)
            return rows[0]
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        if isinstance(key, str):
            rows = self._by_person.get(key)
            return rows[0] if rows else default
        return dict.get(self, key, default)

    def __contains__(self, key) -> bool:
        if isinstance(key, str):
            return bool(self._by_person.get(key))
        return dict.__contains__(self, key)

    def __iter__(self):
        """The people's member ids, each once (what code written before memberships expects); `.items()` and
        `.keys()` give the (member_id, group_id) keys, `.values()` every membership."""
        return iter([k for k, rows in self._by_person.items() if rows])

    def add(self, member: Member) -> None:
        self[(member.member_id, member.group_id)] = member

    def of(self, member_id: str) -> list[Member]:
        """Every membership of one person, first row first."""
        return list(self._by_person.get(member_id, ()))

    def people(self) -> set[str]:
        return {k for k, rows in self._by_person.items() if rows}


@dataclass
class Workbook:
    lang: str
    settings: Settings
    tables: dict[str, Table]
    groups: dict[str, Group] = field(default_factory=dict)
    members: Memberships = field(default_factory=Memberships)
    tags: list[Tag] = field(default_factory=list)
    coupons: dict[str, Coupon] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    cards: dict[str, Card] = field(default_factory=dict)
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

