"""`qunflow playbook`: list the ready-made calendars and add one's SOP rows for some groups."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ..sheet.changes import Changes
from ..sop.playbooks import load_playbooks, needs_campaign_start, sop_rows
from .errors import Refused
from .reading import read_workbook


@dataclass
class Applied:
    rows: list[dict]
    groups: list[str]
    needs_start: bool          # the playbook counts campaign days and a group has no campaign_start


def playbook_summaries() -> list[tuple[str, int, dict]]:
    """(name, number of rules, {lang: title}) of every playbook."""
    return [(name, len(book["rules"]), book["title"]) for name, book in load_playbooks().items()]


def apply_playbook(store: Any, name: str, groups: list[str], start_day: date | None, today: date) -> Applied:
    if name not in load_playbooks():
        raise Refused(f"no playbook named {name!r}; `qunflow playbook list` shows them")
    with store.lease("playbook", 30):
        snapshot, wb = read_workbook(store, today, grid_rows=False)
        unknown = [g for g in groups if g not in wb.groups]
        if unknown:
            raise Refused(f"unknown group id(s): {', '.join(unknown)}; they must exist in the Groups tab")
        sop = wb.tables["sop"]
        existing = {str(r[sop.columns["rule_id"]]) for r in sop.rows
                    if "rule_id" in sop.columns and len(r) > sop.columns["rule_id"]}
        rows = sop_rows(name, groups, wb.lang, existing)
        changes = Changes()
        changes.append("sop", rows)
        for g in groups:
            if start_day:
                changes.set("groups", g, "campaign_start", start_day)
        store.write(changes, snapshot, wb.lang)
    needs = needs_campaign_start(name) and not start_day and any(wb.groups[g].campaign_start is None for g in groups)
    return Applied(rows, groups, needs)
