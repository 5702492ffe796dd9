"""`qunflow doctor` for a workbook with wecom-customer groups: each missing prerequisite by name, en + zh-CN.

One check, "WeCom customer groups" (企业微信客户群), whose detail lists what is there and whose fix lists what to
do, in the workbook's language:
- the corp id (Settings `wecom_corp_id`, else $QUNFLOW_WECOM_CORP_ID);
- the app secret: each group's `webhook` cell is the self-built app's secret reference, and it must resolve;
- the callback's token and EncodingAESKey (QUNFLOW_WECOM_TOKEN, QUNFLOW_WECOM_AES_KEY: 43 characters), which
  the `events` function needs for /wecom (its receiveid is the corp id);
- each group's owner userid and chat_id;
- reachability from a trusted IP: with a corp id and a secret, one gettoken and one groupchat/list of the
  owners (limit 1). 60020 names the IP WeCom saw, to add to the app's 企业可信IP; 40001 is a wrong secret.
  Nothing is written: the token lives in a scratch cache, not the state store. A chat_id the owners' list does
  not hold is a warning (the owner may have changed, or the id has a typo).
No value is shown: references are named, secrets only said to be set.
"""
from __future__ import annotations

from typing import Any, Mapping

PLATFORM = "wecom-customer"
ENV_TOKEN, ENV_AES = "QUNFLOW_WECOM_TOKEN", "QUNFLOW_WECOM_AES_KEY"


class Scratch:
    """The little of a state store WeComApi needs (cache, lease), in memory: doctor writes nothing."""

    def __init__(self):
        self.values: dict[str, tuple[str, float]] = {}

    def cache(self, name: str, value: str, expires_at: float) -> None:
        self.values[name] = (value, expires_at)

    def cached(self, name: str, now: float) -> str | None:
        found = self.values.get(name)
        return found[0] if found and found[1] > now else None

    def acquire(self, name: str, holder: str, ttl: float, now: float) -> bool:
        return True

    def release(self, name: str, holder: str) -> None:
        pass


def _say(wb: Any, code: str, **params: Any) -> str:
    from ..sheet.i18n import message
    return message(code, wb.lang, **params)


def wecom_check(wb: Any, env: Mapping[str, str], resolver: Any, session: Any = None, base_url: str | None = None,
                clock: Any = None) -> tuple[str, str, str, str] | None:
    """(name, status, detail, fix) of the check (doctor makes it a Check), or None without wecom-customer groups."""
    FAIL, OK, WARN = "fail", "ok", "warn"      # jobs/doctor.py's statuses
    groups = [g for g in wb.groups.values() if g.platform == PLATFORM]
    if not groups:
        return None
    found: list[str] = []
    fixes: list[str] = []
    corp = str((wb.settings.extra or {}).get("wecom_corp_id") or env.get("QUNFLOW_WECOM_CORP_ID") or "").strip()
    if corp:
        found.append(_say(wb, "wecom_doctor_corp_ok"))
    else:
        fixes.append(_say(wb, "wecom_doctor_fix_corp"))
    secrets: dict[str, str] = {}
    for ref in dict.fromkeys(str(g.webhook).strip() for g in groups if g.webhook):
        try:
            value = resolver.resolve(ref)
        except Exception:   # noqa: BLE001 - UnresolvedSecret: named, never shown
            value = None
        if value:
            secrets[ref] = value
            found.append(_say(wb, "wecom_doctor_secret_ok", reference=ref))
        else:
            fixes.append(_say(wb, "wecom_doctor_fix_secret", reference=ref))
    no_secret = [g.group_id for g in groups if not g.webhook]
    if no_secret:
        fixes.append(_say(wb, "wecom_doctor_fix_no_secret", groups=", ".join(no_secret)))
    token, aes = (env.get(ENV_TOKEN) or "").strip(), (env.get(ENV_AES) or "").strip()
    if token and len(aes) == 43:
        found.append(_say(wb, "wecom_doctor_callback_ok"))
    else:
        missing = ([ENV_TOKEN] if not token else []) + ([ENV_AES] if len(aes) != 43 else [])
        fixes.append(_say(wb, "wecom_doctor_fix_callback", names=", ".join(missing)))
    no_owner = [g.group_id for g in groups if not str(getattr(g, "owner", "") or "").strip()]
    no_chat = [g.group_id for g in groups if not str(getattr(g, "chat_id", "") or "").strip()]
    if no_owner:
        fixes.append(_say(wb, "wecom_doctor_fix_owner", groups=", ".join(no_owner)))
    if no_chat:
        fixes.append(_say(wb, "wecom_doctor_fix_chat", groups=", ".join(no_chat)))
    soft: list[str] = []
    if corp and secrets:
        reach, unknown = _reach(wb, corp, secrets, groups, session, base_url or env.get("QUNFLOW_WECOM_API"), clock)
        if reach is None:
            found.append(_say(wb, "wecom_doctor_reach_ok"))
            if unknown:
                soft.append(_say(wb, "wecom_doctor_fix_unknown_chat", chats=", ".join(unknown)))
        else:
            fixes.append(reach)
    else:
        found.append(_say(wb, "wecom_doctor_reach_skipped"))
    status = FAIL if fixes else WARN if soft else OK
    sep = "，" if wb.lang == "zh-CN" else ", "
    return _say(wb, "wecom_doctor_name"), status, sep.join(found), ("；" if wb.lang == "zh-CN" else "; ").join(fixes + soft)


def _reach(wb: Any, corp: str, secrets: dict[str, str], groups: list, session: Any, base_url: str | None,
           clock: Any) -> tuple[str | None, list[str]]:
    """(None, chat ids the owners' lists do not hold) when WeCom answers; else (the fix, [])."""
    import time
    from ..delivery.wecom_token import DEFAULT_BASE, UntrustedIP, WeComApi, WeComApp, WeComError
    if session is None:
        import requests
        session = requests.Session()
    unknown: list[str] = []
    for ref, secret in secrets.items():
        mine = [g for g in groups if str(g.webhook).strip() == ref]
        owners = sorted({str(g.owner).strip() for g in mine if str(getattr(g, "owner", "") or "").strip()})
        api = WeComApi(WeComApp(corp, ref), session=session, state=Scratch(), resolve=lambda r, s=secret: s,
                       base_url=base_url or DEFAULT_BASE, clock=clock or time.time, sleep=lambda s: None)
        try:
            api.token()
            if owners:
                from .wecom_sync import list_chats
                listed = set(list_chats(api, owners))
                unknown += [str(g.chat_id).strip() for g in mine if str(getattr(g, "chat_id", "") or "").strip()
                            and str(g.chat_id).strip() not in listed]
        except UntrustedIP as exc:
            return (_say(wb, "wecom_doctor_fix_ip", ip=exc.ip) if exc.ip else _say(wb, "wecom_doctor_fix_ip_unknown")), []
        except WeComError as exc:
            if exc.errcode == 40001:
                return _say(wb, "wecom_doctor_fix_bad_secret", reference=ref), []
            return _say(wb, "wecom_doctor_fix_api", errcode=exc.errcode, detail=exc.errmsg[:120]), []
    return None, unknown
