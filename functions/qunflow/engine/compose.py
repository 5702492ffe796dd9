"""The words of a planned send: its template rendered in the sandbox, and the platform-neutral message. Pure."""
from __future__ import annotations

from datetime import datetime, timedelta

from ..sop import render
from ..delivery.message import Mentions, Message, NewsCard
from ..sheet.campaigns import campaign_start
from ..sheet.workbook import Workbook
from .planned import PlannedSend, group_tz


def template_text(p: PlannedSend, wb: Workbook) -> str:
    content = p.rule.content
    if content.startswith("template:"):
        return wb.templates[content[9:].strip()].content
    return content


def variables(p: PlannedSend, wb: Workbook) -> dict:
    tz = group_tz(p.group, wb)
    local = p.at.astimezone(tz)
    start = campaign_start(p.rule, p.group, wb)
    campaign_day = (local.date() - start).days + 1 if start else ""
    days_left = ""
    if p.rule.until:
        days_left = max(0, (p.rule.until - local.date()).days)
    elif getattr(p.rule.schedule, "kind", "") == "campaign_day" and start:
        last = getattr(p.rule.schedule, "last_day", None) or getattr(p.rule.schedule, "day_to", None)
        if isinstance(last, int):
            days_left = max(0, last - campaign_day + 1)
    names = [m.name for m in p.audience.members]
    if len(p.coupons) == 1:
        coupon = next(iter(p.coupons.values()))
    else:
        by_id = {m.member_id: m.name for m in p.audience.members}
        coupon = "、".join(f"{by_id.get(mid, mid)} {code}" for mid, code in p.coupons.items())
    return {
        "group_name": p.group.name,
        "mentions": "@所有人" if p.audience.everyone else " ".join(f"@{n}" for n in names),
        "member_names": "、".join(names),
        "campaign_day": campaign_day, "days_left": days_left,
        "date": local.strftime("%Y-%m-%d"), "time": local.strftime("%H:%M"), "coupon": coupon,
        "phase": p.rule.phase or "", "rule_id": p.rule.rule_id, "leaderboard": leaderboard(p, wb) if "leaderboard" in template_text(p, wb) else "",
    }


def leaderboard(p: PlannedSend, wb: Workbook, top: int = 5) -> str:
    """The group's top inviters, for a weekly referral post: `1. 小林 5` lines. It counts joined referrals
    (qunflow.members.referral) whose invitee joined in the last Settings `leaderboard_days` (default 7) days
    up to the send, by inviters who are members of this group."""
    from ..members.activity import due_events
    from ..members.referral import joined_counts, referrals
    days = int(wb.settings.extra.get("leaderboard_days") or 7)
    local = p.at.astimezone(wb.settings.timezone).replace(tzinfo=None)
    found, _ = referrals(wb.members.values(), due_events(wb, p.at), wb.settings)
    counts = {mid: n for mid, n in joined_counts([r for r in found if r.joined_at <= local],
                                                 since=local - timedelta(days=days)).items()
              if (mid, p.group.group_id) in wb.members}
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return "\n".join(f"{i}. {wb.members[mid].name} {n}" for i, (mid, n) in enumerate(ranked, start=1))


def compose(p: PlannedSend, wb: Workbook) -> Message:
    """The message for a planned send; raises render.TemplateProblem if the template cannot render."""
    text = render.render(template_text(p, wb), variables(p, wb)).strip()
    members = [m for m in p.audience.members if m.platform_user_id or m.mobile]
    mentions = Mentions(all=p.audience.everyone,
                        user_ids=tuple(m.platform_user_id for m in members if m.platform_user_id),
                        mobiles=tuple(m.mobile for m in members if not m.platform_user_id and m.mobile),
                        names=tuple(m.name for m in members if m.platform_user_id))
    kind = p.rule.msg_type
    if kind == "image":
        return Message(kind="image", image_url=text, mentions=mentions)
    if kind == "news":
        parts = [x.strip() for x in text.split("|")] + ["", "", "", ""]
        return Message(kind="news", card=NewsCard(title=parts[0], description=parts[1], url=parts[2], picture_url=parts[3]),
                       mentions=mentions)
    return Message(kind=kind, text=text, title=(p.rule.phase or p.group.name), mentions=mentions)


def preview_of(message: Message, limit: int = 80) -> str:
    text = message.text or (message.card.title if message.card else "") or (message.image_url or "")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
