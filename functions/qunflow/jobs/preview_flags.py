"""What `qunflow preview` adds beside each send: the checks validate makes that concern that send (a robot
keyword its text lacks). Pure."""
from __future__ import annotations

from ..sheet.i18n import message
from ..sheet.validate import lacks_keyword
from ..sheet.workbook import Workbook


def flag_sends(wb: Workbook, items: list[dict]) -> list[dict]:
    """`items` (preview's sends), each with `flags`: the warnings, in the workbook's language, that say this send
    will be refused as it is (its group's robot requires a keyword the rule's text lacks)."""
    rules = {r.rule_id: r for r in wb.sop}
    for item in items:
        flags = list(item.get("flags", []))
        rule, group = rules.get(item["rule_id"]), wb.groups.get(item["group_id"])
        missing = lacks_keyword(rule, group, wb.templates, wb.cards) if rule is not None and group is not None else None
        if missing:
            flags.append(message("preview_keyword", wb.lang, keyword=missing))
        item["flags"] = flags
    return items
