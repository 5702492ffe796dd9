"""`qunflow doctor` for a workbook whose image rows go to Feishu groups (#21): is the Feishu app that uploads them
for an image_key set (Settings `feishu_app_id`, `feishu_app_secret` as a reference), and does Feishu accept it?

One check, "Feishu images" (飞书图片), only when an enabled image row goes to a Feishu group:
- neither setting: a warning, the images go as links (what to write to send them natively);
- one of the two, or the secret written as itself: a failure naming the setting (the value never shown);
- the reference not set: a failure with where to set it;
- with a session: one tenant_access_token/internal call (the token kept in a scratch cache, nothing written);
  a refused app id or secret (10003, 10014) is a failure naming Settings. $QUNFLOW_FEISHU_API sets the base.
"""
from __future__ import annotations

import time
from typing import Any, Mapping

from ..delivery.feishu_images import FeishuError, FeishuImages, base_for
from ..delivery.secrets import UnresolvedSecret
from .feishu_images import REFERENCE, app_settings
from .wecom_doctor import Scratch


def _say(wb: Any, code: str, **params: Any) -> str:
    from ..sheet.i18n import message
    return message(code, wb.lang, **params)


def feishu_groups(wb: Any) -> list:
    """The Feishu groups an enabled image row goes to."""
    from ..engine.audience import target_groups
    found: dict[str, Any] = {}
    for rule in wb.sop:
        if rule.enabled and rule.msg_type == "image":
            found.update({g.group_id: g for g in target_groups(rule, wb.groups) if g.platform == "feishu"})
    return list(found.values())


def feishu_check(wb: Any, env: Mapping[str, str], resolver: Any, session: Any = None,
                 clock: Any = time.time) -> tuple[str, str, str, str] | None:
    """(name, status, detail, fix) of the check (doctor makes it a Check), or None without Feishu image rows."""
    groups = feishu_groups(wb)
    if not groups:
        return None
    name, ids = _say(wb, "feishu_doctor_name"), ", ".join(g.group_id for g in groups)
    app_id, secret_ref = app_settings(wb)
    if not app_id and not secret_ref:
        return name, "warn", _say(wb, "feishu_doctor_links", groups=ids), _say(wb, "feishu_doctor_fix_links")
    if not app_id or not secret_ref:
        present, missing = ("feishu_app_id", "feishu_app_secret") if app_id else ("feishu_app_secret", "feishu_app_id")
        return name, "fail", _say(wb, "feishu_doctor_half", present=present), _say(wb, "feishu_doctor_fix_half", missing=missing)
    if not secret_ref.startswith(REFERENCE):
        return name, "fail", _say(wb, "feishu_doctor_literal"), _say(wb, "feishu_doctor_fix_literal")
    try:
        secret = resolver.resolve(secret_ref)
    except UnresolvedSecret as exc:
        from ..sheet.vocabulary import say_reason
        return (name, "fail", _say(wb, "feishu_doctor_unset", reference=secret_ref),
                say_reason(exc.where, wb.lang))
    found = [_say(wb, "feishu_doctor_set", app_id=app_id, reference=secret_ref, groups=ids)]
    if session is None or not secret:
        return name, "ok", "; ".join(found), ""
    base = env.get("QUNFLOW_FEISHU_API") or base_for(_webhook(groups[0], resolver))
    try:
        FeishuImages(app_id, secret, session=session, state=Scratch(), base_url=base, clock=clock).token()
    except FeishuError as exc:
        fix = "feishu_doctor_fix_credentials" if exc.kind == "credentials" else "feishu_doctor_fix_reach"
        return name, "fail", "; ".join(found), _say(wb, fix, errcode=exc.code, base=base)
    found.append(_say(wb, "feishu_doctor_reach_ok"))
    return name, "ok", "; ".join(found), ""


def _webhook(group: Any, resolver: Any) -> str:
    """The group's webhook URL (Lark's host picks Lark's API), or "" when it does not resolve."""
    try:
        return resolver.resolve(group.webhook) or ""
    except UnresolvedSecret:
        return ""
