"""The HTML calendar of `qunflow preview --html` (and the demo's preview.html): one section per group, one
box per day of that group's own calendar. Pure.

Each send is placed on its group's local day (`at` is the group's local time with its offset), and the
days listed are the group's local days that the window touches, so a 23:00 post in New York is on its
New York day, as the terminal lists it. On a phone the days stack; from 900 px they sit side by side.
The page is in the workbook's language (`lang`), with no script. An image send shows the poster as a thumbnail
(the browser loads it from the address in the SOP row, without a referrer; nothing else is fetched) and the form
each platform gets it in (IMAGE_FORMS).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from html import escape

from ..engine.planned import group_tz
from ..metrics.dates import day_words
from ..sheet.workbook import Workbook

WORDS = {
    "en": {"title": "qunflow preview", "window": "{start} · the next {days} days · {n} sends",
           "nothing": "nothing planned", "zone": "times in {zone}", "sends": "{n} sends"},
    "zh-CN": {"title": "qunflow 发送预览", "window": "{start} 起 {days} 天 · 共 {n} 条",
              "nothing": "没有安排", "zone": "时间为 {zone}", "sends": "{n} 条"},
}

IMAGE_FORMS = {   # how each platform's robot receives an image row (jobs/images.py, delivery/platforms)
    "en": {"wecom": "WeCom: the picture itself (fetched by qunflow, jpg or png of at most 2 MB)",
           "dingtalk": "DingTalk: a markdown image", "slack": "Slack: an image block",
           "discord": "Discord: an embed image", "telegram": "Telegram: a photo, the text as its caption",
           "feishu": "Feishu: a link in a post (no app to upload an image_key)",
           "feishu_app": "Feishu: the picture itself (uploaded by the Settings app), the text after it"},
    "zh-CN": {"wecom": "企业微信：图片本身（qunflow 获取，JPG 或 PNG，不超过 2 MB）",
              "dingtalk": "钉钉：markdown 图片", "slack": "Slack：图片块", "discord": "Discord：嵌入图片",
              "telegram": "Telegram：图片，文字作为图片说明", "feishu": "飞书：富文本消息中的图片链接（没有上传 image_key 的应用）",
              "feishu_app": "飞书：图片本身（由设置中的应用上传），文字随后发出"},
}

CSS = """*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}
body{font:14px/1.5 -apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",system-ui,sans-serif;margin:0 auto;
padding:12px;color:#1f2329;background:#f5f6f8;max-width:1400px;overflow-wrap:anywhere}
h1{font-size:19px;margin:4px 0}h2{font-size:16px;margin:0 0 8px}small,.muted{color:#737a87;font-weight:400}
section.group{background:#fff;border-radius:10px;padding:10px 12px;margin:12px 0;box-shadow:0 1px 2px #0001}
.days{display:grid;gap:8px}.day{border:1px solid #e5e6eb;border-radius:8px;padding:6px 8px;min-width:0}
.day h3{font-size:13px;margin:0 0 4px;color:#4e5969}.day.empty{color:#9aa0aa;font-size:12px;padding:4px 8px}
.day.empty h3{display:inline;margin-right:8px}
@media(min-width:900px){.days{grid-template-columns:repeat(var(--n),minmax(0,1fr))}.day.empty h3{display:block}}
.send{background:#eef6ee;border-radius:6px;margin:4px 0;padding:4px 6px;font-size:13px}
.send.skip,.send.template{background:#fbeaea}.send.deferred{background:#fff6dd}
.send img{display:block;max-width:120px;max-height:120px;border-radius:4px;margin:4px 0;background:#e5e6eb}
.form{font-size:12px;color:#4e5969}.t{font-weight:600;margin-right:4px}.ph{color:#4e5969}.p{font-size:12px;color:#4e5969;font-style:normal}"""


def _zone_name(zone, moment: datetime) -> str:
    offset = moment.astimezone(zone).strftime("%z")
    return f"{getattr(zone, 'key', '') or ''} (UTC{offset[:3]}:{offset[3:]})".strip()


def local_days(start: datetime, end: datetime, zone) -> list[date]:
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def calendar_page(wb: Workbook, items: list[dict], now: datetime, days: int, policy_words: dict) -> str:
    lang = "zh-CN" if wb.lang == "zh-CN" else "en"
    w = WORDS[lang]
    words = policy_words.get(lang, policy_words.get("en", {}))
    start = now if now.tzinfo else now.replace(tzinfo=wb.settings.timezone)
    local_now = start.astimezone(wb.settings.timezone)
    head = w["window"].format(start=f"{day_words(local_now.date(), lang, weekday=True)} {local_now:%H:%M}",
                              days=days, n=len(items))
    parts = [f"<!doctype html><html lang='{escape(wb.lang)}'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{escape(w['title'])}</title><style>{CSS}</style></head><body>",
             f"<h1>{escape(w['title'])}</h1><p class='muted'>{escape(head)}</p>"]
    from .feishu_images import configured
    forms = {"feishu": "feishu_app"} if configured(wb) else {}     # the Settings app uploads Feishu's images
    for group in wb.groups.values():
        zone = group_tz(group, wb)
        mine = [i for i in items if i["group_id"] == group.group_id]
        day_list = local_days(start, start + timedelta(days=days), zone)
        day_list = sorted(set(day_list) | {date.fromisoformat(i["at"][:10]) for i in mine})
        parts.append(f"<section class='group' data-group='{escape(group.group_id)}'><h2>{escape(group.name)} "
                     f"<small>{escape(group.group_id)} · {escape(group.platform)} · "
                     f"{escape(w['zone'].format(zone=_zone_name(zone, start)))} · "
                     f"{escape(w['sends'].format(n=len(mine)))}</small></h2>"
                     f"<div class='days' style='--n:{len(day_list)}'>")
        for d in day_list:
            cell = sorted((i for i in mine if i["at"][:10] == d.isoformat()), key=lambda i: i["at"])
            title = escape(day_words(d, lang, weekday=True))
            if not cell:
                parts.append(f"<div class='day empty' data-day='{d}'><h3>{title}</h3>{escape(w['nothing'])}</div>")
                continue
            parts.append(f"<div class='day' data-day='{d}'><h3>{title}</h3>")
            for i in cell:
                first = i["policy"].split()[0] if i["policy"] else ""
                kind = "skip" if "skip" in i["policy"] else first
                label = words.get(first, i["policy"])
                phase = f"<span class='ph'>{escape(i['phase'])}</span> " if i.get("phase") else ""
                parts.append(f"<div class='send {escape(kind)}' data-rule='{escape(i['rule_id'])}'>"
                             f"<span class='t'>{escape(i['at'][11:16])}</span>{phase}<span class='muted'>"
                             f"{escape(i['rule_id'])}</span>{_image(i, forms.get(group.platform, group.platform), lang)}"
                             f"<br>{escape(i['text'][:140])}<br><i class='p'>{escape(label)}</i></div>")
            parts.append("</div>")
        parts.append("</div></section>")
    parts.append("</body></html>")
    return "".join(parts)


def _image(item: dict, platform: str, lang: str) -> str:
    """An image send's thumbnail (only an http(s) address becomes an <img>) and the form its platform gets."""
    url = item.get("image") or ""
    if not url:
        return ""
    form = IMAGE_FORMS[lang].get(platform, "")
    thumb = (f"<img src='{escape(url, quote=True)}' alt='' loading='lazy' referrerpolicy='no-referrer'>"
             if url.lower().startswith(("https://", "http://")) else "")
    return f"{thumb}<span class='form'>🖼 {escape(form)}</span>"
