"""The words of a planned send: its template rendered in the sandbox, and the platform-neutral message. Pure."""
from __future__ import annotations

from datetime import datetime

from ..sop import render
from ..delivery.message import MENTION_SLOT, Mentions, Message, NewsCard, place_mentions, readable
from ..sheet import i18n
from ..sheet.campaigns import campaign_start
from ..sheet.cards import card_of, rule_text
from .customer import coupon_link, is_customer, link_base, tidy
from .permember import coupon_display
from ..sheet.workbook import Workbook
from .planned import PlannedSend, group_tz


def template_text(p: PlannedSend, wb: Workbook) -> str:
    """The rule's words before rendering: its template's, its card's (title, description, button), or its own."""
    return rule_text(p.rule, wb)


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
    names = [] if is_customer(p.group) else [m.name for m in p.audience.members]   # a customer group: nobody named
    return {
        "group_name": p.group.name,
        "mentions": mentions_text(p),
        "member_names": "、".join(names),
        "campaign_day": campaign_day, "days_left": days_left,
        "date": local.strftime("%Y-%m-%d"), "time": local.strftime("%H:%M"), "coupon": coupon_text(p, wb),
        "phase": p.rule.phase or "", "rule_id": p.rule.rule_id, "leaderboard": leaderboard(p, wb) if "leaderboard" in template_text(p, wb) else "",
        **_own_values(p, wb),
    }


NATIVE_MOBILES = ("wecom", "dingtalk")  # platforms that can @ a member by mobile number


def _native(p: PlannedSend) -> list:
    """Mentioned members the platform can @ itself: by user id, or by mobile where the platform takes one."""
    return [m for m in p.audience.members
            if m.platform_user_id or (m.mobile and p.group.platform in NATIVE_MOBILES)]


def mentions_text(p: PlannedSend) -> str:
    """{{ mentions }}: a slot (see fill_mentions); nothing in a customer group (it cannot @ anyone)."""
    if is_customer(p.group):
        return ""
    return MENTION_SLOT if p.audience.everyone or p.audience.members else ""


def fill_mentions(text: str, p: PlannedSend) -> str:
    """The first {{ mentions }} becomes the slot where the platform writes its own @-markup, then plain @names for
    members it cannot @ (no user id on record); later ones vanish. So each person is named once."""
    if MENTION_SLOT not in text:
        return text
    if is_customer(p.group):
        return place_mentions(text, "")
    native = {m.member_id for m in _native(p)}
    marks = ([MENTION_SLOT] if p.audience.everyone or native else []) + \
        [f"@{m.name}" for m in p.audience.members if m.member_id not in native]
    return place_mentions(text, " ".join(marks) + " " if marks else "")


def mask_code(code: str) -> str:
    """WEL-0001 → WEL-****01: the prefix and the last two characters; the rest hidden."""
    head, dash, tail = code.rpartition("-")
    if not dash:
        head, tail = "", code
    keep = tail[-2:] if len(tail) > 2 else ""
    return f"{head}{dash}{'*' * max(4, len(tail) - len(keep))}{keep}"


def coupon_text(p: PlannedSend, wb: Workbook) -> str:
    """{{ coupon }}: the mentioned member's own code as the rule's coupon_display says; a line saying where to find
    it when codes are not shown. A post for several members with codes shown goes out once per member
    (engine.permember), so there is one code here; "" when nobody got one."""
    if is_customer(p.group):     # the member's own code, as a link to the coupon page (engine/customer.py)
        return coupon_link(link_base(wb), [m.member_id for m in p.audience.members if m.member_id in p.coupons]
                           or list(p.coupons))
    codes = [p.coupons[m.member_id] for m in p.audience.members if m.member_id in p.coupons] or list(p.coupons.values())
    return shown_codes(codes, p, wb)


def shown_codes(codes: list[str], p: PlannedSend, wb: Workbook) -> str:
    """Codes as the rule's coupon_display shows them in a group post ("" when there are none)."""
    if not codes:
        return ""
    display = coupon_display(p, wb)
    if display == "none":
        return str(wb.settings.extra.get("coupon_hint") or "").strip() or i18n.message("coupon_where", wb.lang)
    return "、".join(dict.fromkeys(mask_code(c) if display == "masked" else c for c in codes))


def _own_values(p: PlannedSend, wb: Workbook) -> dict:
    """{{ streak }} and {{ expiring_code }}: the mentioned member's own (one value: posts whose members differ go
    out once per member)."""
    ids = [m.member_id for m in p.audience.members]
    streaks = [p.audience.streaks[i] for i in ids if i in p.audience.streaks]
    codes = [p.audience.expiring[i] for i in ids if i in p.audience.expiring]
    if is_customer(p.group):     # a link carrying the members' ids, never the code (engine/customer.py)
        expiring = coupon_link(link_base(wb), [i for i in ids if i in p.audience.expiring])
        return {"streak": streaks[0] if len(set(streaks)) == 1 else "", "expiring_code": expiring}   # one for all, or none
    return {"streak": streaks[0] if streaks else "", "expiring_code": shown_codes(codes, p, wb)}


def leaderboard(p: PlannedSend, wb: Workbook, top: int = 5) -> str:
    """The group's top inviters, for a weekly referral post: `1. 小林 5` lines. It counts joined referrals
    (qunflow.members.referral) whose invitee joined in the last Settings `leaderboard_days` (default 7) days
    up to the send, by inviters who are members of this group. From an index built once per workbook
    (engine/leaderboard.py), and only for a template that uses it (`variables`)."""
    from .leaderboard import leaderboard as board
    return board(p, wb, top)


def compose(p: PlannedSend, wb: Workbook) -> Message:
    """The message for a planned send; raises render.TemplateProblem if the template cannot render."""
    card = card_of(p.rule, wb.cards)
    values = variables(p, wb)

    def fill(template: str) -> str:
        text = fill_mentions(render.render(template, values).strip(), p)
        return tidy(text).strip() if is_customer(p.group) else text   # nobody named: close the gaps the names left

    text = "" if card is not None else fill(template_text(p, wb))
    members = [] if is_customer(p.group) else _native(p)
    mentions = Mentions(all=p.audience.everyone and not is_customer(p.group),
                        user_ids=tuple(m.platform_user_id for m in members if m.platform_user_id),
                        mobiles=tuple(m.mobile for m in members if not m.platform_user_id and m.mobile),
                        names=tuple(m.name for m in members if m.platform_user_id))
    if card is not None:          # card:NAME: a Cards row, one column each; mentions go beside the card
        def line(template: str | None) -> str:
            return place_mentions(fill(template or ""), "").strip()
        return Message(kind="news", card=NewsCard(title=line(card.title), description=line(card.description),
                                                  url=card.url.strip(), picture_url=(card.picture_url or "").strip(),
                                                  button_text=line(card.button_text)), mentions=mentions)
    kind = p.rule.msg_type
    if kind in ("image", "news"):  # cards and images carry mentions beside them, never inside
        text = place_mentions(text, "").strip()
    if kind == "image":
        url, caption = image_parts(text)
        return Message(kind="image", image_url=url, text=caption, mentions=mentions)
    if kind == "news":
        parts = [x.strip() for x in text.split("|")] + ["", "", "", ""]
        return Message(kind="news", card=NewsCard(title=parts[0], description=parts[1], url=parts[2], picture_url=parts[3]),
                       mentions=mentions)
    return Message(kind=kind, text=text, title=(p.rule.phase or p.group.name), mentions=mentions)


def image_parts(text: str) -> tuple[str, str]:
    """An image row's content: (the image's address, its caption). The address is the first line that is one
    http(s) address by itself; the other lines are the caption. Without such a line the whole text is the
    address (the fetch then says what is wrong with it)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        word = line.strip()
        if word.lower().startswith(("https://", "http://")) and not any(c.isspace() for c in word):
            return word, "\n".join(lines[:i] + lines[i + 1:]).strip()
    return text.strip(), ""


def preview_of(message: Message, limit: int = 80) -> str:
    text = readable(message.text, message.mentions) or (message.card.title if message.card else "") or (message.image_url or "")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
