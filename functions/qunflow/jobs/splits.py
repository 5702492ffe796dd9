"""Texts a platform will receive as several posts: delivery splits a text over the platform's length limit.
`validate` flags them at their SOP row; `preview` shows each send's number of posts."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ..delivery.message import Message, Target
from ..delivery.platforms import PLATFORMS, MessageRejected
from ..engine.audience import target_groups
from ..engine.compose import compose
from ..engine.planned import PlannedSend
from ..sheet.problems import WARNING, ProblemSink
from ..sheet.workbook import Workbook
from ..sop.render import TemplateProblem
from .images import BYTES_CAP

_STUB_PNG = b"\x89PNG\r\n\x1a\n"       # stands for a fetched image: only the posts are counted
_DUMMY = {"telegram": "https://api.telegram.org/bot0:x/sendMessage?chat_id=1"}


def preview_target(platform: str) -> Target:
    """A stand-in target for building a platform's requests without sending them (a webhook of the right shape)."""
    return Target(platform, "preview", _DUMMY.get(platform, "https://127.0.0.1/preview"), "preview-secret")


def post_count(message: Message, platform: str) -> int:
    """How many posts the platform receives for this message (1 when it is not split, or cannot be built)."""
    cls = PLATFORMS.get(platform)
    if cls is None:
        return 1
    target = preview_target(platform)
    if message.kind == "image" and platform in BYTES_CAP and not message.image_bytes:
        message = replace(message, image_bytes=_STUB_PNG)   # the tick sends the fetched bytes (jobs/images.py)
    try:
        return max(1, len(cls.build_requests(message, target, 0.0)))
    except (MessageRejected, ValueError, KeyError):
        return 1


def split_problems(wb: Workbook, now: datetime, sink: ProblemSink) -> int:
    """A warning at the SOP content cell of each rule whose text one of its groups will receive as several
    posts (rendered for the group as the tick would, with nobody mentioned). Returns how many were added."""
    table, added = wb.tables["sop"], 0
    for rule in wb.sop:
        if not rule.enabled:
            continue
        for group in target_groups(rule, wb.groups):
            try:
                posts = post_count(compose(PlannedSend(f"{rule.rule_id}:{group.group_id}:validate", rule, group, now, now), wb),
                                   group.platform)
            except (TemplateProblem, MessageRejected, ValueError):
                continue
            if posts > 1:
                sink.add("multi_post", tab=table.title, row=rule.row, column=table.header_of("content", wb.lang),
                         value=rule.content[:60], severity=WARNING, platform=group.platform, group=group.group_id,
                         posts=posts)
                added += 1
                break
    return added
