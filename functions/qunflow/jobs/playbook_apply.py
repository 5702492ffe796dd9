"""`qunflow playbook`: list the ready-made calendars and add one's SOP rows for some groups.

Each apply with --start is a campaign instance: a row of the Campaigns tab (its name and day 1) that the new SOP
rows name in their `campaign` column, so a group can run several campaigns at once and none moves another's
day 1. Applying a playbook to a group it is already applied to is refused (every post would go out twice),
unless asked for with `again`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..sheet.cells import fold, is_blank, parse_list
from ..sheet.changes import Changes
from ..sheet.i18n import message
from ..sop.playbooks import load_playbooks, needs_campaign_start, sop_rows
from .errors import Refused
from .reading import read_workbook


@dataclass
class Applied:
    rows: list[dict]
    groups: list[str]
    needs_start: bool          # the playbook counts campaign days and a group has no campaign_start
    campaign: str | None = None  # the Campaigns row written (with --start)


def playbook_summaries() -> list[tuple[str, int, dict]]:
    """(name, number of rules, {lang: title}) of every playbook."""
    return [(name, len(book["rules"]), book["title"]) for name, book in load_playbooks().items()]


def applied_before(sop: Any, prefix: str, groups: list[str]) -> tuple[list[str], list[str]]:
    """(groups, rule ids): which of `groups` already have SOP rows made from the playbook with this rule-id
    prefix (ids `PREFIX-NN` or `PREFIX-NN-k`, as `sop_rows` makes them), read from the raw tab."""
    if sop.missing or "rule_id" not in sop.columns or "groups" not in sop.columns:
        return [], []
    pattern = re.compile(rf"^{re.escape(fold(prefix))}-\d{{2}}(-\d+)?$")
    wanted = {fold(g): g for g in groups}
    hit_groups: dict[str, None] = {}
    rules: list[str] = []
    for row in sop.rows:
        rule_id, targets = sop.cell(row, "rule_id"), sop.cell(row, "groups")
        if is_blank(rule_id) or is_blank(targets) or not pattern.match(fold(str(rule_id))):
            continue
        try:
            named = [fold(t) for t in parse_list(targets)]
        except ValueError:
            continue
        overlap = [wanted[t] for t in named if t in wanted] or ([*wanted.values()] if "*" in named else [])
        if overlap:
            hit_groups.update(dict.fromkeys(overlap))
            rules.append(str(rule_id))
    return list(hit_groups), rules


def instance_name(name: str, start_day: date, taken: set[str]) -> str:
    """`campaign-30-20261220`, or `-2`, `-3`... when that name is taken."""
    base = f"{name}-{start_day:%Y%m%d}"
    candidate, n = base, 1
    while fold(candidate) in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def apply_playbook(store: Any, name: str, groups: list[str], start_day: date | None, today: date, *,
                   again: bool = False) -> Applied:
    books = load_playbooks()
    if name not in books:
        raise Refused(f"no playbook named {name!r}; `qunflow playbook list` shows them")
    with store.lease("playbook", 30):
        snapshot, wb = read_workbook(store, today, grid_rows=False)
        unknown = [g for g in groups if g not in wb.groups]
        if unknown:
            raise Refused(f"unknown group id(s): {', '.join(unknown)}; they must exist in the Groups tab")
        sop = wb.tables["sop"]
        hit, rules = applied_before(sop, books[name]["prefix"], groups)
        if hit and not again:
            shown = ", ".join(rules[:3]) + (f" … {rules[-1]}" if len(rules) > 3 else "")
            raise Refused(message("playbook_applied_twice", wb.lang, playbook=name, groups=", ".join(hit),
                                  rules=shown))
        if hit and again and not start_day and needs_campaign_start(name):
            raise Refused(message("playbook_again_needs_start", wb.lang, playbook=name))
        existing = {str(r[sop.columns["rule_id"]]) for r in sop.rows
                    if "rule_id" in sop.columns and len(r) > sop.columns["rule_id"]}
        changes = Changes()
        campaign = None
        if start_day:
            campaign = instance_name(name, start_day, {fold(c) for c in wb.campaigns} | _raw_campaigns(wb))
            changes.append("campaigns", [{"campaign": campaign, "start": start_day, "playbook": name,
                                          "groups": ", ".join(groups)}])
        rows = sop_rows(name, groups, wb.lang, existing, campaign)
        changes.append("sop", rows)
        store.write(changes, snapshot, wb.lang)
    needs = needs_campaign_start(name) and not start_day and any(wb.groups[g].campaign_start is None for g in groups)
    return Applied(rows, groups, needs, campaign)


def _raw_campaigns(wb: Any) -> set[str]:
    """Campaign names in the tab, rows with errors included (a new name must not collide with one)."""
    table = wb.tables["campaigns"]
    if table.missing or "campaign" not in table.columns:
        return set()
    return {fold(table.cell(r, "campaign")) for r in table.rows if not is_blank(table.cell(r, "campaign"))}
