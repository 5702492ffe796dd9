"""`qunflow send`: one message to one group now, through the same dispatcher as the tick.

The group comes from the Groups tab; its webhook and secret references are resolved as the tick resolves
them. Nothing is written to the workbook.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any, Callable

from ..delivery import Delivery, Dispatcher, Masker, MaskingFilter, Mentions, Message, Target
from ..delivery.secrets import SecretResolver, UnresolvedSecret
from ..sheet.cells import fold, parse_id
from .errors import Refused
from .reading import read_workbook

SECURITY_CODES = {"310000", "19021", "19022", "19024"}  # DingTalk security settings; Feishu signature, IP, keyword


@dataclass
class Sent:
    group: Any
    status: str
    attempts: int
    reason: str                # keys masked
    parts: int


def load_group(store: Any, group_id: str, today) -> tuple[Any, Any]:
    """(workbook, group); Refused when the group is missing or its row has an error."""
    _, wb = read_workbook(store, today)
    group = wb.groups.get(group_id) or next((g for g in wb.groups.values() if fold(g.group_id) == fold(group_id)), None)
    if group is not None:
        return wb, group
    table = wb.tables["groups"]
    for index, row in enumerate(table.rows):
        try:
            row_id = parse_id(table.cell(row, "group_id"))
        except ValueError:  # a bad id cell (lost digits): not the group we look for
            continue
        if row_id and fold(row_id) == fold(group_id):
            problems = [p.message for p in wb.errors if p.tab == table.title and p.row == index + 2]
            detail = "; ".join(problems) or "the row has an error"
            raise Refused(f"group {group_id} (row {index + 2} of the {table.title} tab) cannot be used: {detail}. "
                          f"Run `qunflow validate` for the details.")
    known = ", ".join(sorted(wb.groups)[:20]) or "none"
    raise Refused(f"no group {group_id!r} in the {table.title} tab (groups: {known})")


def mentions_for(wb: Any, group: Any, mention: str | None, warn: Callable[[str], None]) -> Mentions:
    """`all` and member ids (member_id or platform_user_id of the group's members) → Mentions."""
    if not mention or not mention.strip():
        return Mentions()
    wanted = [m.strip() for m in mention.split(",") if m.strip()]
    everyone = any(w.lower() == "all" for w in wanted)
    members = [m for m in wb.members.values() if m.group_id == group.group_id]
    user_ids, names, mobiles, unknown = [], [], [], []
    for w in wanted:
        if w.lower() == "all":
            continue
        member = next((m for m in members if m.member_id == w), None) or \
            next((m for m in members if m.platform_user_id == w), None)
        if member is None:
            unknown.append(w)
        elif member.platform_user_id:
            if member.platform_user_id not in user_ids:
                user_ids.append(member.platform_user_id)
                names.append(member.name)
        elif member.mobile:
            if member.mobile not in mobiles:
                mobiles.append(member.mobile)
        else:
            raise Refused(f"member {w} has neither platform_user_id nor mobile in the Members tab: "
                          f"fill one in to mention them")
    if unknown:
        raise Refused(f"no member {', '.join(unknown)} in group {group.group_id} (Members tab: member_id or "
                      f"platform_user_id); use --mention all to notify everyone")
    if mobiles and group.platform not in ("wecom", "dingtalk"):
        warn(f"note: {group.platform} cannot @ a member by mobile number; {', '.join(mobiles)} will not be "
             f"notified (fill in platform_user_id)")
    return Mentions(all=everyone, user_ids=tuple(user_ids), mobiles=tuple(mobiles), names=tuple(names))


def resolve_hook(group: Any) -> tuple[str, str | None]:
    """(webhook, secret) of the group, resolved; Refused naming the reference that is not set."""
    resolver = SecretResolver.from_environment()
    try:
        return resolver.resolve(group.webhook), resolver.resolve(group.secret)
    except UnresolvedSecret as exc:
        which = "webhook" if exc.reference == (group.webhook or "").strip() else "secret"
        raise Refused(f"the {which} of group {group.group_id} is {exc.reference}, which is not set: {exc.where}")


def dead_target(group: Any, code: str, reason: str) -> str:
    """Why the webhook no longer takes messages, in plain words, and what to fix."""
    if code in SECURITY_CODES:
        return (f"{reason}. Check the signing secret of {group.group_id} in the Groups tab, and the robot's keyword "
                f"and IP allow-list settings")
    if code == "bad-url":
        return f"the webhook address is malformed: fix the webhook of {group.group_id} in the Groups tab ({reason})"
    if "supergroup" in reason:
        return reason
    return (f"the robot was removed or its key is invalid: fix the webhook of {group.group_id} in the Groups tab "
            f"({reason})")


def send_message(store: Any, group_id: str, kind: str, body: str, mention: str | None, *, session: Any,
                 clock: Callable[[], float], sleep: Callable[[float], None], today, wait: float,
                 log_handler: logging.Handler | None = None, warn: Callable[[str], None] = lambda _: None) -> Sent:
    """Send now; Refused (code 1) when the platform did not accept it, with the reason in plain words."""
    wb, group = load_group(store, group_id, today)
    if group.platform == "wecom-customer":
        raise Refused(f"group {group.group_id} is a WeCom customer group (wecom-customer): a post there is a group-send "
                      f"task its owner confirms in WeCom, which the tick creates from an SOP rule; `qunflow send` "
                      f"posts only through group robots")
    mentions = mentions_for(wb, group, mention, warn)
    webhook, secret = resolve_hook(group)
    masker = Masker([webhook, secret])
    logger = logging.Logger("qunflow.send")   # private: nothing global is configured
    if log_handler is not None:
        log_handler.addFilter(MaskingFilter(masker))
        logger.addHandler(log_handler)
        logger.setLevel(logging.DEBUG)
    else:
        logger.addHandler(logging.NullHandler())
    dispatcher = Dispatcher(session, clock, sleep, random.Random(), masker=masker, logger=logger,
                            max_attempts=4 if wait else 1, deadline=clock() + wait if wait else None)
    target = Target(group.platform, group.group_id, webhook, secret)
    report = dispatcher.dispatch([Delivery("manual-send", target, Message(kind, body, mentions=mentions))])
    result = report.results[0]
    sent = Sent(group, result.status, result.attempts, masker.mask(result.reason), result.parts)
    if result.status == "sent":
        return sent
    if group.group_id in report.disabled:
        why = dead_target(group, result.code, masker.mask(report.disabled[group.group_id]))
    elif result.status == "retry":
        why = (f"the platform did not take it within --wait ({wait:g} s) and its retries ({sent.reason}); try again "
               f"later (-v shows each reply)")
    elif result.status == "unknown":   # a read timeout or a gateway's 504 after the request left: never resent
        why = (f"{sent.reason}. Look in the group before sending it again: if it arrived, a second send would "
               f"post it twice")
    else:
        why = sent.reason
    raise NotSent(sent, f"not sent to {group.group_id} ({group.platform}): {why}")


class NotSent(Refused):
    """The platform did not accept the message (exit 1); `sent` has the attempt's details for --json."""

    def __init__(self, sent: Sent, message: str):
        super().__init__(message, code=1)
        self.sent = sent
