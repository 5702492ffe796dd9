"""The tick's part for WeCom customer groups (platform `wecom-customer`): create the group-send tasks for the due
sends, and poll the open tasks, settling their sends in the state store (the SendLog is its projection).

Where the app comes from: the Settings `wecom_corp_id` (the corp) and each group's `webhook` cell, which for
these groups holds the self-built app's secret reference (`secret:NAME` / `env:QUNFLOW_NAME`); groups that
share one reference share one app, one token and one set of task records. Each group also needs `owner` (the
owner's userid, the task's sender) and `chat_id`. The window the owner has to confirm is the rule's `catch_up`
when it sets one, else the Setting `wecom_confirm_window` (default 24h); then the task is cancelled, its sends
`not_sent`. Settings: `wecom_remind_after` (default 2h), `wecom_quota` (engine/quota.py).

A send is claimed before its task is created and settled `awaiting_confirmation` with the msgid's record kept
(delivery/wecom_customer.py); each later tick polls and settles it `sent` (WeCom's send time), `not_sent` or
`quota`. Customer-group posts cannot @ anyone: mentions are left out of the text, and a member's code reaches them
as a link (engine/customer.py); the codes it leads to are bound with the claim, before the task exists.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from ..delivery.message import place_mentions
from ..delivery.secrets import UnresolvedSecret
from ..delivery.wecom_customer import AWAITING, CustomerSend, TaskSender, plan_tasks
from ..delivery.wecom_token import UntrustedIP, WeComApi, WeComApp
from ..engine.compose import compose, preview_of
from ..engine.outcomes import SendOutcome
from ..engine.planned import PlannedSend
from ..sop.render import TemplateProblem
from ..state.base import Binding, Conflict

PLATFORM = "wecom-customer"
WINDOW, REMIND = timedelta(hours=24), timedelta(hours=2)


def _setting(wb: Any, key: str, default: Any) -> Any:
    value = wb.settings.extra.get(key)
    return default if value in (None, "") else value


def _sender(wb: Any, deps: Any, reference: str, sink: Any = None) -> TaskSender | str:
    """The task sender for one app (one secret reference); or why there is none."""
    corp = str(_setting(wb, "wecom_corp_id", "")).strip()
    if not corp:
        return "no wecom_corp_id in Settings: write the corp id (企业ID) of the self-built app"
    try:
        secret = deps.resolver.resolve(reference)
    except UnresolvedSecret as exc:
        return f"{exc.reference} is not set"
    if deps.masker is not None and secret:
        deps.masker.add(secret)
    api = WeComApi(WeComApp(corp, reference), session=deps.session, state=deps.state,
                   resolve=lambda ref: secret, base_url=deps.wecom_base, clock=deps.clock, sleep=deps.sleep,
                   holder=f"tick-{uuid.uuid4().hex[:8]}")
    groups = {g.chat_id: g.group_id for g in wb.groups.values() if g.platform == PLATFORM and g.chat_id}
    remind = _setting(wb, "wecom_remind_after", REMIND)
    return TaskSender(api, deps.state, deps.clock, remind_after=remind.total_seconds(), groups=groups,
                      app=f"{corp}:{reference}")


def _attachments(message: Any) -> tuple:
    out = []
    if message.card is not None:
        out.append({"msgtype": "link", "link": {"title": message.card.title, "desc": message.card.description,
                                                "url": message.card.url, "picurl": message.card.picture_url}})
    if message.image_url:
        out.append({"msgtype": "image", "image": {"pic_url": message.image_url}})
    return tuple(out)


def deliver(planned: list[PlannedSend], wb: Any, deps: Any, sink: Any) -> dict[str, SendOutcome]:
    """Tasks for the due sends of customer groups; their outcomes (awaiting_confirmation, failed, quota)."""
    due = [p for p in planned if p.policy == "due" and p.group.platform == PLATFORM]
    outcomes: dict[str, SendOutcome] = {}
    if not due:
        return outcomes
    if deps.state is None:
        for p in due:
            outcomes[p.send_id] = SendOutcome("failed", reason="wecom-customer groups need qunflow's state store")
        return outcomes
    window = _setting(wb, "wecom_confirm_window", WINDOW).total_seconds()
    by_app: dict[str, list[tuple[PlannedSend, CustomerSend, str]]] = {}
    for p in due:
        try:
            message = compose(p, wb)
        except TemplateProblem as problem:
            outcomes[p.send_id] = SendOutcome("failed", reason=f"template:{problem.detail}")
            continue
        text = place_mentions(message.text, "").strip()
        own = p.rule.catch_up.total_seconds() if p.rule.catch_up else window    # the rule's window, if it sets one
        send = CustomerSend(p.send_id, p.group.chat_id or "", p.group.owner or "", text, p.at.timestamp(), own,
                            _attachments(message), p.group.group_id, tuple(p.sends))
        by_app.setdefault(p.group.webhook, []).append((p, send, preview_of(message)))
    now = datetime.fromtimestamp(deps.clock(), timezone.utc)
    for reference, items in by_app.items():
        sender = _sender(wb, deps, reference)
        if isinstance(sender, str):
            for p, _, preview in items:
                outcomes[p.send_id] = SendOutcome("failed", reason=sender, preview=preview)
            continue
        by_id = {s.send_id: (p, preview) for p, s, preview in items}
        tasks, refused = plan_tasks([s for _, s, _ in items])
        for r in refused:
            p, preview = by_id[r.send_id]
            outcomes[p.send_id] = SendOutcome("failed", reason=r.reason, preview=preview)
        for task in tasks:
            for chat, sid in list(task.chats.items()):
                p, _ = by_id[sid]
                coupons = [Binding("coupon", code, member_id, p.send_id, now) for member_id, code in p.coupons.items()]
                try:        # the codes its link leads to are bound with the claim (engine/customer.py)
                    deps.state.claim(p.sends, rule_id=p.rule.rule_id, group_id=p.group.group_id,
                                     scheduled_for=p.occurrence, holder="tick", at=now, bindings=coupons)
                except Conflict:
                    outcomes[sid] = SendOutcome("failed", reason="not sent: the run could not claim it (another run "
                                                                 "holds it, or it is already done)")
                    del task.chats[chat]
            if not task.chats:
                continue
            for r in sender.create(task):
                p, preview = by_id[r.send_id]
                deps.state.settle(r.ids, r.status, at=now, attempts=1, reason=r.reason, preview=preview)
                outcomes[r.send_id] = SendOutcome(r.status, attempts=1, reason=r.reason, preview=preview)
                if r.reason.startswith("WeCom refused the call from"):
                    _untrusted(wb, sink, p.group, r.reason)
    return outcomes


def poll(wb: Any, deps: Any, sink: Any, now: datetime) -> int:
    """Ask WeCom about every open task of this workbook's apps; settle what changed. Returns sends settled."""
    if deps.state is None:
        return 0
    references = {g.webhook for g in wb.groups.values() if g.platform == PLATFORM}
    settled = 0
    for reference in sorted(references):
        sender = _sender(wb, deps, reference)
        if isinstance(sender, str) or not sender.open_tasks():
            continue
        results = sender.poll()
        known = deps.state.get_sends([i for r in results for i in r.ids])
        for r in results:
            if all(i in known and (known[i].status, known[i].reason) == (r.status, r.reason) for i in r.ids):
                continue      # still waiting, nothing new to say: no write (the SendLog stays as it is)
            sent_at = datetime.fromtimestamp(r.at, timezone.utc) if r.status == "sent" and r.at else None
            try:
                deps.state.settle(r.ids, r.status, at=now, attempts=1, sent_at=sent_at, reason=r.reason)
            except Conflict:
                continue
            settled += r.status != AWAITING
            if r.reason.startswith("could not ask WeCom: WeCom refused the call from"):
                group = next((g for g in wb.groups.values() if g.group_id == r.group_id), None)
                if group is not None:
                    _untrusted(wb, sink, group, r.reason[len("could not ask WeCom: "):])
    return settled


def _untrusted(wb: Any, sink: Any, group: Any, reason: str) -> None:
    if any(x.code == "wecom_untrusted_ip" for x in sink.items):
        return
    table = wb.tables["groups"]
    sink.add("wecom_untrusted_ip", tab=table.title, row=group.row, column=table.header_of("webhook", wb.lang),
             value=group.webhook, reason=reason)


__all__ = ["deliver", "poll", "PLATFORM", "UntrustedIP"]
