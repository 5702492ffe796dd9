"""Loading the workbook: raw cells in, a typed and checked Workbook with its Problems out. Pure.

Every mistake is reported at its cell; what a bad cell does to its row is sheet.parse's rule. A tab qunflow
cannot read (no header, its key column gone) is reported once and read as missing.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from .campaigns import check_duplicate_rules
from .cards import check_cards
from .cells import scrub_workbook, warn_unstorable
from .parse import parse_table
from .problems import ProblemSink
from .schema import TabSchema, load_schemas
from .tables import Merged, RawWorkbook, detect_language, locate
from .validate import check_references, check_settings, check_sop, check_groups, check_tag_rules, drop_duplicates
from .workbook import Memberships, Workbook


def load_workbook(raw: RawWorkbook, *, today: date | None = None, schemas: dict[str, TabSchema] | None = None,
                  grid_rows: dict[str, int] | None = None, shared_sheet: bool = False,
                  unparsed: tuple[str, ...] = (), merged: Merged | None = None, lang: str | None = None,
                  reuse: Any = None) -> Workbook:
    """Parse and check every tab. `shared_sheet`: the source is a Google sheet every editor can read.
    `unparsed`: tabs located but not parsed into records (the SendLog, when the state store is the memory).
    `merged`: the merged cells near the top of each tab, when the store knows them (a local workbook).
    `lang`: say the problems in this language rather than the workbook's (the CLI's --lang; never written).
    `reuse`: a sheet.reuse.BlockCache holding the big tabs' blocks parsed before: the ones whose cells did not
    change are not parsed again (the checks across rows still run on every record)."""
    schemas = schemas or load_schemas()
    raw, unstorable = scrub_workbook(raw)        # text no workbook can hold is read as U+FFFD, with a warning
    sink = ProblemSink(lang or detect_language(raw, schemas))
    located = locate(raw, schemas, sink, grid_rows, merged)
    warn_unstorable(unstorable, located.tables, sink)
    tables = located.tables
    settings = check_settings(tables["settings"], sink, today)
    parsed = {key: parse_table(table, sink, today, reuse) for key, table in tables.items()
              if key != "settings" and key not in unparsed}
    for key in unparsed:
        parsed.setdefault(key, [])
    for key in ("groups", "members", "tags", "coupons", "templates", "cards", "sop", "campaigns", "events"):
        parsed[key] = drop_duplicates(tables[key], parsed[key], sink)
    wb = Workbook(
        lang=sink.lang, settings=settings, tables=tables,
        groups={g.group_id: g for g in parsed["groups"]},
        members=Memberships({(m.member_id, m.group_id): m for m in parsed["members"]}),
        tags=parsed["tags"],
        coupons={c.code: c for c in parsed["coupons"]},
        templates={t.name: t for t in parsed["templates"]},
        cards={c.name: c for c in parsed["cards"]},
        sop=parsed["sop"], campaigns={c.campaign: c for c in parsed["campaigns"]}, events=parsed["events"],
        sendlog=parsed["sendlog"], metrics=parsed["metrics"],
        previous_problems=parsed["problems"],
    )
    local_times(wb, wb.events)
    check_references(wb, sink)
    check_groups(wb, sink, shared_sheet)
    check_cards(wb, sink)
    check_sop(wb, sink)
    check_duplicate_rules(wb, sink)
    check_tag_rules(wb, sink)
    wb.problems = sink.items
    return wb


MEMBER_TIMES = ("joined_at", "left_at", "last_active_at", "welcomed_at")


def local_times(wb: Workbook, events: list) -> None:
    """One reading of every time, everywhere: a time written with its offset (ingest, an import, or typed so) is
    that moment, shown as wall-clock time in its group's zone; a time without one already is wall-clock time in
    its group's zone. Events without a group belong to their member's group, else the Settings zone."""
    def zone(group_id):
        group = wb.groups.get(group_id or "")
        return (group.timezone if group is not None else None) or wb.settings.timezone
    for m in wb.members.values():
        for key in MEMBER_TIMES:
            value = getattr(m, key, None)
            if value is not None and value.tzinfo is not None:
                setattr(m, key, value.astimezone(zone(m.group_id)).replace(tzinfo=None))
    for event in events:
        if event.at is not None and event.at.tzinfo is not None:
            member = wb.members.get(event.member_id)
            event.at = event.at.astimezone(zone(event.group_id or (member.group_id if member else None))).replace(tzinfo=None)
