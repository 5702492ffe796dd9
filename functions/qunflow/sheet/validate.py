"""Checks across rows and tabs: unique ids, references, settings, group and SOP specifics.

Each failed check adds one Problem at the cell to fix. An error drops its row
from the model (the rest of the run goes on); a warning keeps it. A reference to
nothing in a Members or Coupons row is a warning (the row stays: see sheet.parse).
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from .cards import card_text, check_card_rule
from .cells import fold, is_blank, parse_id
from .impossible import check_impossible
from .parse import KEPT_TABS, parse_cell
from .problems import ERROR, WARNING, ProblemSink
from .records import Settings
from .tables import Table

if TYPE_CHECKING:
    from .workbook import Workbook

MENTION_WORDS = {"none", "all", "new", "not_checked_in", "rewarded"}
LAYERS = {"core", "influence", "periphery"}
_WEBHOOK_REF = re.compile(r"^(env|secret):[A-Za-z_][A-Za-z0-9_\-]*$")


def drop_duplicates(table: Table, records: list[Any], sink: ProblemSink) -> list[Any]:
    """A second row with the same unique id (or, for a tab keyed by several columns such as Members'
    member_id + group_id, the same key) is dropped, with a Problem naming the first row."""
    keys = [c for c in table.schema.columns if c.unique]
    if len(table.schema.key_columns) > 1:
        return _drop_duplicate_keys(table, records, sink)
    if not keys:
        return records
    key = keys[0].key
    first: dict[str, int] = {}
    kept = []
    for record in records:
        value = getattr(record, key)
        folded = fold(value)
        if folded in first:
            sink.add("duplicate", tab=table.title, row=record.row, column=table.header_of(key, sink.lang),
                     value=value, first_row=first[folded])
            continue
        first[folded] = record.row
        kept.append(record)
    return kept


def _drop_duplicate_keys(table: Table, records: list[Any], sink: ProblemSink) -> list[Any]:
    columns = table.schema.key_columns
    first: dict[tuple, int] = {}
    kept = []
    for record in records:
        values = tuple(getattr(record, k) for k in columns)
        folded = tuple(fold(v) for v in values)
        if folded in first:
            sink.add("duplicate_membership", tab=table.title, row=record.row,
                     column=table.header_of(columns[0], sink.lang), value=" / ".join(str(v) for v in values),
                     first_row=first[folded], columns=" + ".join(table.header_of(k, sink.lang) for k in columns))
            continue
        first[folded] = record.row
        kept.append(record)
    return kept


def check_settings(table: Table, sink: ProblemSink, today: date | None) -> Settings:
    settings = Settings()
    if table.missing or "key" not in table.columns:
        return settings
    known = {c.key: c for c in table.schema.settings}
    aliases = {fold(c.key): c for c in known.values()} | {fold(c.headers.get("zh-CN", c.key)): c for c in known.values()}
    for index, row in enumerate(table.rows):
        key_raw = table.cell(row, "key")
        if is_blank(key_raw):
            continue
        column = aliases.get(fold(key_raw))
        if column is None:
            sink.add("unknown_setting", tab=table.title, row=table.sheet_row(index),
                     column=table.header_of("key", sink.lang), value=key_raw, severity=WARNING, allowed=", ".join(known))
            continue
        # problems point at the value cell of this setting's row
        ok, value = parse_cell(replace(column, key="value", required=False), table.cell(row, "value"),
                               table=table, row=table.sheet_row(index), sink=sink, today=today)
        if not ok or value is None:
            continue
        if hasattr(settings, column.key) and column.key != "extra":
            setattr(settings, column.key, value)
        else:
            settings.extra[column.key] = value
    return settings


def _raw_keys(table: Table, key: str) -> set[str]:
    if table.missing or key not in table.columns:
        return set()
    out = set()
    for row in table.rows:
        value = table.cell(row, key)
        if not is_blank(value):
            try:
                out.add(fold(parse_id(value)))
            except ValueError:
                pass
    return out


def _drop(records: dict | list, bad_rows: set[int]) -> Any:
    if isinstance(records, dict):
        return {k: v for k, v in records.items() if v.row not in bad_rows}
    return [r for r in records if r.row not in bad_rows]


def check_references(wb: Workbook, sink: ProblemSink) -> None:
    """Every reference column points at an existing row of its target tab."""
    for tab_key, table in wb.tables.items():
        if table.missing or table.schema.written:
            continue
        records = getattr(wb, tab_key, None)
        if records is None:
            continue
        bad_rows: set[int] = set()
        for column in table.schema.columns:
            if column.type != "reference" or column.key not in table.columns:
                continue
            target_tab, target_key = column.ref.split(".")
            existing = _raw_keys(wb.tables[target_tab], target_key)
            severity = ERROR if column.required and tab_key not in KEPT_TABS else WARNING
            for record in (records.values() if isinstance(records, dict) else records):
                value = getattr(record, column.key)
                if is_blank(value) or fold(value) in existing:
                    continue
                target = wb.tables[target_tab]
                sink.add("unknown_ref", tab=table.title, row=record.row, column=table.header_of(column.key, sink.lang),
                         value=value, severity=severity, target_tab=target.title,
                         target_column=target.header_of(target_key, sink.lang))
                if severity == ERROR:
                    bad_rows.add(record.row)
        if bad_rows:
            setattr(wb, tab_key, _drop(records, bad_rows))


def check_groups(wb: Workbook, sink: ProblemSink, shared_sheet: bool) -> None:
    table = wb.tables["groups"]
    bad_rows = set()
    for group in wb.groups.values():
        for key in ("webhook", "secret"):
            value = getattr(group, key)
            if not value:
                continue
            header = table.header_of(key, sink.lang)
            if _WEBHOOK_REF.match(value):
                continue
            if key == "webhook" and not re.match(r"^https?://\S+$", value):
                sink.add("bad_webhook", tab=table.title, row=group.row, column=header, value=_masked(value))
                bad_rows.add(group.row)
            elif shared_sheet:
                sink.add("literal_webhook", tab=table.title, row=group.row, column=header, value=_masked(value),
                         severity=WARNING)
        if (group.status or "").lower().startswith("dead"):
            sink.add("webhook_marked_dead", tab=table.title, row=group.row, column=table.header_of("status", sink.lang),
                     value=group.status, severity=WARNING)
    wb.groups = _drop(wb.groups, bad_rows)


def _masked(value: str) -> str:
    """Problems are written to the sheet: never repeat a key there whole."""
    from ..delivery.masking import mask_webhook_cell
    return mask_webhook_cell(value)


def check_tag_rules(wb: Workbook, sink: ProblemSink) -> None:
    """Each Tags.rule parses in the safe rule language; a bad one is a Problem at its cell (the tag still exists)."""
    from .tagrules import RuleError, parse_rule
    table = wb.tables["tags"]
    for tag in wb.tags:
        if not tag.rule or not str(tag.rule).strip():
            continue
        try:
            parse_rule(str(tag.rule))
        except RuleError as err:
            sink.add("bad_rule", tab=table.title, row=tag.row, column=table.header_of("rule", sink.lang), value=tag.rule,
                     detail=err.text(sink.lang), position=err.position + 1, example=err.example)


def check_sop(wb: Workbook, sink: ProblemSink) -> None:
    table = wb.tables["sop"]
    kinds = {fold(v.value): v.value for v in wb.tables["groups"].schema.column("kind").values}
    kinds |= {fold(label): v.value for v in wb.tables["groups"].schema.column("kind").values for label in v.labels.values()}
    group_ids = {fold(g) for g in wb.groups} | _raw_keys(wb.tables["groups"], "group_id")
    member_ids = _raw_keys(wb.tables["members"], "member_id")
    campaigns = {fold(c.campaign) for c in wb.coupons.values()}
    available = {fold(c.campaign) for c in wb.coupons.values() if c.status == "available" and not c.member_id}
    bad_rows = set()

    def add(code: str, rule: Any, key: str, value: Any, severity: str = ERROR, **params: Any) -> None:
        sink.add(code, tab=table.title, row=rule.row, column=table.header_of(key, sink.lang), value=value,
                 severity=severity, **params)
        if severity == ERROR:
            bad_rows.add(rule.row)

    for rule in wb.sop:
        for target in rule.groups:
            t = fold(target)
            if t == "*" or t in group_ids:
                continue
            if t.startswith("kind:") and fold(t[5:]) in kinds:
                continue
            add("bad_group_target", rule, "groups", target)
            break
        mention = fold(rule.mention or "none")
        if not (mention in MENTION_WORDS or (mention.startswith("tag:") and len(mention) > 4)
                or re.fullmatch(r"(streak|expiring):\s*\d+(\s*,\s*\d+)*", mention)
                or (mention.startswith("layer:") and mention[6:] in LAYERS)
                or all(fold(m) in member_ids for m in re.split(r"[,，、\s]+", mention) if m)):
            add("bad_mention", rule, "mention", rule.mention)
        if rule.content.startswith("template:") and rule.content[9:].strip() not in wb.templates:
            add("unknown_template", rule, "content", rule.content[9:].strip())
        if check_impossible(wb, rule, add, rule_groups(rule, wb.groups)):
            continue
        check_card_rule(wb, rule, add)
        if rule.coupon and fold(rule.coupon) not in campaigns:
            add("unknown_coupon_campaign", rule, "coupon", rule.coupon, severity=WARNING)
        elif rule.coupon and rule.enabled and fold(rule.coupon) not in available:
            add("pool_empty", rule, "coupon", rule.coupon, severity=WARNING)
    check_keywords(wb, sink)
    wb.sop = _drop(wb.sop, bad_rows)


def keywords_of(group: Any) -> list[str]:
    """The robot's security keywords from the Groups `keyword` cell (comma-separated); [] when none."""
    return [k.strip() for k in re.split(r"[,，、]", getattr(group, "keyword", None) or "") if k.strip()]


def rule_groups(rule: Any, groups: dict[str, Any]) -> list[Any]:
    """The groups a rule's `groups` cell names: ids, kind:X, or * (as engine.audience.target_groups reads it)."""
    wanted = [fold(t) for t in rule.groups]
    return [g for g in groups.values()
            if "*" in wanted or fold(g.group_id) in wanted or f"kind:{fold(g.kind)}" in wanted]


def lacks_keyword(rule: Any, group: Any, templates: dict[str, Any], cards: dict[str, Any] | None = None) -> str | None:
    """The group's keywords (joined) when the rule's text contains none of them; None when it does, or there
    are none. A template:NAME rule is checked on the template's text, a card:NAME rule on the card's."""
    keywords = keywords_of(group)
    if not keywords:
        return None
    text = card_text(rule, cards or {}) or rule.content
    if text.startswith("template:") and text[9:].strip() in templates:
        text = templates[text[9:].strip()].content
    return None if any(k in text for k in keywords) else " / ".join(keywords)


def check_keywords(wb: Workbook, sink: ProblemSink) -> None:
    """Every enabled rule sent to a group whose robot has a security keyword contains that keyword, or the
    platform refuses it (DingTalk 310000, Feishu 19024): a warning at the rule's content cell, per group."""
    table = wb.tables["sop"]
    for rule in wb.sop:
        if not rule.enabled:
            continue
        for group in rule_groups(rule, wb.groups):
            missing = lacks_keyword(rule, group, wb.templates, wb.cards)
            if missing:
                sink.add("keyword_missing", tab=table.title, row=rule.row, column=table.header_of("content", sink.lang),
                         value=rule.content[:60], severity=WARNING, group=group.group_id, keyword=missing)
