"""Each card checked against every platform it will be sent to (#21): the SOP rows sending it × their groups'
platforms. A part a platform would cut (WeCom's 128-byte title, Discord's 256 characters...) is a warning at the
card's cell in the Cards tab, naming the platform, the rule and the group; a card a platform cannot take at all
(the sender refuses to build it) is an error there. A news rule still written as title | description | url |
picture is checked the same way, at its SOP content cell. `validate` and the tick both run it."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from ..delivery.message import Message
from ..delivery.platforms import PLATFORMS, MessageRejected
from ..delivery.platforms.base import utf8_len, utf16_len
from ..engine.audience import target_groups
from ..engine.compose import compose
from ..engine.planned import PlannedSend
from ..sheet.cards import card_of
from ..sheet.i18n_cards import CARD_WORDS
from ..sheet.problems import ERROR, WARNING, ProblemSink
from ..sheet.vocabulary import label
from ..sheet.workbook import Workbook
from ..sop.render import TemplateProblem
from .splits import preview_target

BYTES, CHARS = ("bytes", utf8_len), ("chars", utf16_len)
# platform -> (card part, unit, most the platform shows); what is over is cut by the sender, the platform, or refused
LIMITS: dict[str, tuple[tuple[str, tuple[str, Callable[[str], int]], int], ...]] = {
    "wecom": (("title", BYTES, 128), ("description", BYTES, 512)),
    "wecom-customer": (("title", BYTES, 128), ("description", BYTES, 512)),   # a task's link (doc 92135)
    "feishu": (("title", CHARS, 100),),
    "slack": (("title", CHARS, 3000), ("description", CHARS, 3000), ("button_text", CHARS, 75)),
    "discord": (("title", CHARS, 256), ("description", CHARS, 4096)),
    "telegram": (("description", CHARS, 4000),),
}


def card_problems(wb: Workbook, now: datetime, sink: ProblemSink) -> int:
    """Add the Problems (see the module's doc); returns how many were added."""
    sop, cards = wb.tables["sop"], wb.tables["cards"]
    seen: set[tuple] = set()
    added = 0
    for rule in wb.sop:
        card_row = card_of(rule, wb.cards)
        if not rule.enabled or (card_row is None and rule.msg_type != "news"):
            continue
        for group in target_groups(rule, wb.groups):
            try:
                message = compose(PlannedSend(f"{rule.rule_id}:{group.group_id}:validate", rule, group, now, now), wb)
            except (TemplateProblem, ValueError, KeyError):
                continue      # the template's own Problem says why
            if message.card is None:
                continue
            platform = group.platform

            def where(part: str) -> tuple[str, int, str]:
                if card_row is not None:
                    return cards.title, card_row.row, cards.header_of(part, wb.lang)
                return sop.title, rule.row, sop.header_of("content", wb.lang)

            for part, (unit, measure), limit in LIMITS.get(platform, ()):
                size = measure(getattr(message.card, part) or "")
                key = (card_row.name if card_row else rule.rule_id, part, platform)
                if size <= limit or key in seen:
                    continue
                seen.add(key)
                tab, row, column = where(part)
                words = CARD_WORDS.get(wb.lang, CARD_WORDS["en"])
                sink.add("card_too_long", tab=tab, row=row, column=column, value=getattr(message.card, part)[:60],
                         severity=WARNING, part=words[part], size=size, unit=words[unit], limit=limit,
                         platform=_platform(wb, platform), rule=rule.rule_id, group=group.group_id)
                added += 1
            reason = _refusal(message, platform)
            key = (card_row.name if card_row else rule.rule_id, "refused", platform)
            if reason and key not in seen:
                seen.add(key)
                tab, row, column = where("title")
                sink.add("card_refused", tab=tab, row=row, column=column, value=message.card.title[:60],
                         severity=ERROR, platform=_platform(wb, platform), rule=rule.rule_id, group=group.group_id,
                         reason=reason, cards_tab=cards.title)
                added += 1
    return added


def _refusal(message: Message, platform: str) -> str:
    """Why the platform's sender cannot build this card ("" when it can, or the platform has no robot sender)."""
    cls = PLATFORMS.get(platform)
    if cls is None:
        return ""
    try:
        cls.build_requests(message, preview_target(platform), 0.0)
    except MessageRejected as refused:
        return refused.reason
    return ""


EN_NAMES = {"wecom": "WeCom", "dingtalk": "DingTalk", "feishu": "Feishu", "slack": "Slack", "discord": "Discord",
            "telegram": "Telegram", "wecom-customer": "WeCom customer groups"}


def _platform(wb: Workbook, platform: str) -> str:
    if wb.lang == "en":
        return EN_NAMES.get(platform, platform)
    return str(label(wb.tables["groups"].schema.column("platform"), platform, wb.lang))
