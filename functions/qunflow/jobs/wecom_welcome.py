"""`qunflow wecom welcome`: the WeCom customer groups' welcome, the WeCom way (入群欢迎语素材, doc 92366).

qunflow cannot post into a customer group the moment someone joins; WeCom's own welcome does it, from a group
welcome template the owner applies to the group in the app. This creates that template from a Templates-tab
row, or updates the one it created before:
- text: the template's content with `{{ mentions }}` written as `%NICKNAME%` (WeCom puts the newcomer's name
  there), at most 3,000 bytes; no other variable (the template is the same for every group and member);
- one attachment: a link (`link`: title, url, desc?, picurl?) or a mini-program (`miniprogram`: title,
  pic_media_id, appid, page);
- never a coupon: a template that uses `coupon` is refused. A member's personal coupon reaches them through the
  link or mini-program page, which knows who opens it (it carries their member id), never as a code posted
  to the group;
- the template id is kept in the state store's cache (`wecom_welcome:<corp>:<name>`): the next run edits it
  (`group_welcome_template/edit`), and adds a new one if WeCom no longer has it;
- `notify: 1`, so WeCom tells the members that a template is there to apply; the answer tells the operator
  that each owner applies it in the app (群聊信息 → 入群欢迎语).
Returns (message code, params) in qunflow's i18n (sheet/i18n_wecom.py), and the template id.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_BYTES = 3000
CACHE = "wecom_welcome:"
FOREVER = 4102444800.0
MENTIONS = re.compile(r"\{\{\s*mentions\s*\}\}")
VARIABLE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
COUPON = re.compile(r"coupon|expiring_code", re.I)


@dataclass
class Welcome:
    code: str                                   # the message to say (sheet/i18n_wecom.py)
    params: dict = field(default_factory=dict)
    template_id: str = ""
    notes: list[tuple[str, dict]] = field(default_factory=list)

    def say(self, lang: str) -> str:
        """What to tell the operator, in `lang`."""
        from ..sheet.i18n import message
        return "\n".join([message(self.code, lang, **self.params)] +
                         [message(code, lang, **params) for code, params in self.notes])

    @property
    def ok(self) -> bool:
        return self.code in ("wecom_welcome_created", "wecom_welcome_updated")


def welcome_body(content: str, name: str, attachment: dict | None) -> tuple[dict | None, Welcome | None]:
    """The template's body for WeCom, or why not."""
    if COUPON.search(" ".join(VARIABLE.findall(content))) or COUPON.search(str(attachment or "")):
        return None, Welcome("wecom_welcome_coupon", {"template": name})
    text = MENTIONS.sub("%NICKNAME%", content).strip()
    if VARIABLE.search(text):
        return None, Welcome("wecom_welcome_refused", {"errcode": "-", "detail": "only {{ mentions }} can be used"})
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        return None, Welcome("wecom_welcome_too_long", {"template": name, "size": size})
    body: dict[str, Any] = {"text": {"content": text}, "notify": 1}
    if attachment:
        body.update(attachment)
    return body, None


def publish(api: Any, state: Any, wb: Any, name: str, attachment: dict | None, corp: str) -> Welcome:
    """Create or update the welcome template from the Templates row `name`."""
    from ..delivery.wecom_token import WeComError
    template = wb.templates.get(name)
    if template is None:
        return Welcome("wecom_welcome_no_template", {"template": name})
    body, refusal = welcome_body(str(template.content or ""), name, attachment)
    if refusal:
        return refusal
    notes = [] if "%NICKNAME%" in body["text"]["content"] else [("wecom_welcome_no_nickname", {})]
    key = f"{CACHE}{corp}:{name}"
    known = state.cached(key, 0.0)
    try:
        if known:
            try:
                api.post("/cgi-bin/externalcontact/group_welcome_template/edit", {"template_id": known, **body})
                return Welcome("wecom_welcome_updated", {"template": name}, known, notes)
            except WeComError as exc:
                if exc.errcode != 40051:           # anything but "no such template" (unverified code) is said
                    raise
        data = api.post("/cgi-bin/externalcontact/group_welcome_template/add", body)
    except WeComError as exc:
        return Welcome("wecom_welcome_refused", {"errcode": exc.errcode, "detail": exc.errmsg[:160]})
    template_id = str(data.get("template_id") or "")
    state.cache(key, template_id, FOREVER)
    return Welcome("wecom_welcome_created", {"template": name}, template_id, notes)


def run_welcome(store: Any, state: Any, session: Any, name: str, attachment: dict | None, env: dict,
                group_id: str | None = None, resolver: Any = None) -> tuple[Welcome, str]:
    """Read the workbook, pick the app (the group's, or the first wecom-customer group's), publish. Returns the
    outcome and the workbook's language."""
    from datetime import date

    from ..sheet.load import load_workbook
    from .wecom_sync import api_for, apps_of
    snapshot = store.read()
    wb = load_workbook(snapshot.raw, today=date.today(), grid_rows=snapshot.grid_rows)
    apps = apps_of(wb, env)
    if group_id:
        group = wb.groups.get(group_id)
        apps = {k: v for k, v in apps.items() if group is not None and k[1] == str(group.webhook or "").strip()}
    if not apps:
        return Welcome("wecom_welcome_no_app"), wb.lang
    corp, reference = next(iter(apps))
    api = api_for(corp, reference, state, session, env, resolver)
    return publish(api, state, wb, name, attachment, corp), wb.lang
