"""The Cards tab (#21): link cards with a column each, sent by an SOP row whose content is `card:NAME`.

- `check_cards`: every card's url and picture_url is a web address (http or https); a card with a bad one is
  not sent (an error at its cell), and the SOP rows naming it say so (`check_card_rule`).
- `check_card_rule`: a rule naming a card that does not exist (the known ones listed), or one held back by its
  own row; a news rule still writing title | description | url | picture in one cell gets a warning pointing
  at the Cards tab (it keeps working).
The per-platform limits (title bytes, button text...) depend on the groups a card goes to: jobs/card_checks.py.
Pure."""
from __future__ import annotations

import re
from typing import Any, Callable

from .cells import fold, is_blank, parse_id
from .problems import ProblemSink

PREFIX = "card:"
WEB_ADDRESS = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.I)


def card_name(content: str | None) -> str | None:
    """NAME when the SOP content is `card:NAME`, else None."""
    text = (content or "").strip()
    return text[len(PREFIX):].strip() if text[:len(PREFIX)].lower() == PREFIX else None


def card_of(rule: Any, cards: dict[str, Any]) -> Any:
    """The Cards row a rule sends, or None (not a card rule, or no such card)."""
    name = card_name(rule.content)
    if name is None:
        return None
    return cards.get(name) or next((c for key, c in cards.items() if fold(key) == fold(name)), None)


def check_cards(wb: Any, sink: ProblemSink) -> None:
    table = wb.tables["cards"]
    if table.missing:
        return
    bad = set()
    for card in wb.cards.values():
        for key in ("url", "picture_url"):
            value = getattr(card, key)
            if value and not WEB_ADDRESS.match(value.strip()):
                sink.add("card_bad_url", tab=table.title, row=card.row, column=table.header_of(key, sink.lang),
                         value=value, example=table.schema.column(key).example, card=card.name)
                bad.add(card.row)
    wb.cards = {k: c for k, c in wb.cards.items() if c.row not in bad}


def _raw_rows(table: Any) -> dict[str, int]:
    """The names in the Cards tab as typed (folded) -> their sheet row, kept or not."""
    out: dict[str, int] = {}
    if table.missing or "name" not in table.columns:
        return out
    for index, row in enumerate(table.rows):
        value = table.cell(row, "name")
        if not is_blank(value):
            try:
                out.setdefault(fold(parse_id(value)), table.sheet_row(index))
            except ValueError:
                pass
    return out


def check_card_rule(wb: Any, rule: Any, add: Callable[..., None]) -> None:
    """Problems at the rule's content cell for the card it names (see the module's doc)."""
    cards_tab = wb.tables["cards"].title
    name = card_name(rule.content)
    if name is None:
        if rule.msg_type == "news":
            add("news_separators", rule, "content", rule.content[:60], severity="warning", cards_tab=cards_tab)
        return
    if card_of(rule, wb.cards) is not None:
        return
    typed = _raw_rows(wb.tables["cards"])
    if fold(name) in typed:
        add("card_unusable", rule, "content", name, cards_tab=cards_tab, card_row=typed[fold(name)])
    else:
        add("unknown_card", rule, "content", name, cards_tab=cards_tab, known=", ".join(wb.cards) or "-")


def card_text(rule: Any, cards: dict[str, Any]) -> str | None:
    """What a card rule's members read (title, description, button), for keyword checks; None for other rules."""
    card = card_of(rule, cards)
    if card is None:
        return None
    return "\n".join(x for x in (card.title, card.description, card.button_text) if x)


def rule_text(rule: Any, wb: Any) -> str:
    """The words a rule sends, unrendered: its template's (template:NAME), its card's title, description and
    button (card:NAME), else its content ("" for a template or card that is not there)."""
    content = rule.content or ""
    if content.startswith("template:"):
        template = wb.templates.get(content[9:].strip())
        return template.content if template else ""
    text = card_text(rule, getattr(wb, "cards", {}))
    if text is not None:
        return text
    return "" if card_name(content) is not None else content
