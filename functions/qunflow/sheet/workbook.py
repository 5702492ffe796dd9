"""The whole workbook, typed and checked: the model every job works from.

`load_workbook(raw, today=...)` is pure: raw cells in, a Workbook with its
Problems out. Bad rows are skipped; everything else is used.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .cells import fold, is_blank, parse_id
from .parse import parse_cell, parse_table
from .problems import ERROR, WARNING, Problem, ProblemSink
from .records import (Coupon, Event, Group, Member, MetricRow, ProblemRow, SendRecord, Settings, SopRule, Tag,
                      Template)
from .schema import TabSchema, load_schemas
from .tables import RawWorkbook, Table, detect_language, locate
from .validate import check_references, check_settings, check_sop, check_groups, check_tag_rules, drop_duplicates


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


def load_workbook(raw: RawWorkbook, *, today: date | None = None, schemas: dict[str, TabSchema] | None = None,
                  grid_rows: dict[str, int] | None = None, shared_sheet: bool = False) -> Workbook:
    """Parse and check every tab. `shared_sheet`: the source is a Google sheet every editor can read."""
    schemas = schemas or load_schemas()
    sink = ProblemSink(detect_language(raw, schemas))
    located = locate(raw, schemas, sink, grid_rows)
    tables = located.tables
    settings = check_settings(tables["settings"], sink, today)
    parsed = {key: parse_table(table, sink, today) for key, table in tables.items() if key != "settings"}
    for key in ("groups", "members", "tags", "coupons", "templates", "sop", "events"):
        parsed[key] = drop_duplicates(tables[key], parsed[key], sink)
    wb = Workbook(
        lang=sink.lang, settings=settings, tables=tables,
        groups={g.group_id: g for g in parsed["groups"]},
        members={m.member_id: m for m in parsed["members"]},
        tags=parsed["tags"],
        coupons={c.code: c for c in parsed["coupons"]},
        templates={t.name: t for t in parsed["templates"]},
        sop=parsed["sop"], events=parsed["events"], sendlog=parsed["sendlog"], metrics=parsed["metrics"],
        previous_problems=parsed["problems"],
    )
    check_references(wb, sink)
    check_groups(wb, sink, shared_sheet)
    check_sop(wb, sink)
    check_tag_rules(wb, sink)
    wb.problems = sink.items
    return wb
