"""The emulator's record of what reached each group: JSONL lines and a chat-like HTML page.

The HTML is self-contained (inline CSS, no scripts, no external assets).
Member text is always escaped; only a little markdown (headings, **bold**,
[label](https://…) links) is turned into markup, and @-mentions are wrapped
in <span class="mention">. Stable hooks for DOM tests:
`section.group[data-group]`, `div.msg[data-seq]`, `span.mention`, `div.day[data-day]`, `figure.image` (an image
the message carries: its thumbnail, a data: URI, or a box when there is none).

Times are shown in each group's own time zone (`zones`: group_id -> a zoneinfo or its name, passed in by
whoever knows the groups, as `qunflow demo` does), with the local date above each day's messages; a group
without a zone is shown in UTC and says so. The page speaks `lang` (en or zh-CN) and says it in `lang`.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone, tzinfo
from html import escape
from pathlib import Path
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

LABELS = {"wecom": "WeCom", "dingtalk": "DingTalk", "feishu": "Feishu", "slack": "Slack",
          "discord": "Discord", "telegram": "Telegram"}

INLINE = re.compile(
    r"(?P<link>\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^)\s\"'<>]+)\))"
    r"|(?P<bold>\*\*(?P<btext>[^*\n]+)\*\*)"
    r"|(?P<mention><@[!&]?[\w.-]+(?:\|[^>\n]*)?>|<!(?:channel|here|everyone)(?:\|[^>\n]*)?>"
    r"|(?<![\w/.@])@[\w\u4e00-\u9fff][\w\u4e00-\u9fff.-]*)"
)
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")

WORDS = {
    "en": {"summary": "{n} messages in {g} groups. Nothing here was posted to a real group.",
           "empty": "No messages were accepted.", "notifies": "notifies: ", "zone": "times in {zone}", "image_link": "a link to an image",
           "weekdays": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
           "months": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")},
    "zh-CN": {"summary": "共 {n} 条消息，{g} 个群。这里的消息都没有发到真实的群。", "empty": "没有收到任何消息。",
              "notifies": "提醒：", "zone": "时间为 {zone}", "image_link": "图片链接", "weekdays": "一二三四五六日", "months": ()},
}

CSS = """
body{margin:0;background:#eef0f3;font:14px/1.5 -apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;color:#1f2329}
header.top{padding:16px 24px;background:#1f2329;color:#fff}header.top h1{margin:0;font-size:18px}
header.top p{margin:4px 0 0;color:#aab}
main{display:flex;flex-wrap:wrap;gap:16px;padding:16px}
section.group{flex:1 1 380px;max-width:640px;background:#f7f8fa;border-radius:10px;box-shadow:0 1px 3px #0002;overflow:hidden}
section.group>h2{margin:0;padding:10px 14px;font-size:15px;background:#fff;border-bottom:1px solid #e5e6eb}
.platform{font-size:11px;font-weight:600;padding:1px 6px;border-radius:8px;margin-left:6px;color:#fff;background:#888}
.p-wecom{background:#2b7de9}.p-dingtalk{background:#1677ff}.p-feishu{background:#00b96b}
.p-slack{background:#611f69}.p-discord{background:#5865f2}.p-telegram{background:#27a7e7}
.msgs{padding:10px 14px}
div.msg{margin:10px 0}
.meta{font-size:12px;color:#86909c;margin-bottom:2px}.author{font-weight:600;color:#4e5969;margin-right:6px}
.bubble{display:inline-block;max-width:92%;background:#fff;border-radius:4px 12px 12px 12px;padding:8px 12px;
box-shadow:0 1px 1px #0001;white-space:normal;word-wrap:break-word;overflow-wrap:anywhere}
.bubble .h{display:block;font-weight:700;font-size:15px}
.bubble a{color:#1664ff}
figure.image{margin:0 0 6px}figure.image img{display:block;max-width:160px;max-height:160px;border-radius:6px}
figure.image .noimg{display:inline-block;width:120px;height:80px;line-height:80px;text-align:center;font-size:32px;background:#e5e6eb;border-radius:6px}
figure.image figcaption{font-size:11px;color:#86909c}
span.mention{color:#1664ff;background:#e8f0ff;border-radius:3px;padding:0 2px}
.notified,.warning,.kind{font-size:12px;margin-top:2px}
.notified{color:#4e5969}.warning{color:#b54708}.kind{color:#86909c}\n.zone{font-size:12px;font-weight:400;color:#86909c;margin-left:6px}\ndiv.day{margin:14px 0 4px;text-align:center;font-size:12px;color:#86909c}div.day span{background:#e5e6eb;border-radius:8px;padding:1px 8px}\n@media(max-width:520px){main{padding:8px;gap:10px}header.top{padding:12px 14px}section.group{flex-basis:100%}}
"""


def append_jsonl(path: str | Path, record: dict) -> None:
    """One JSON object per line, flushed as soon as it is written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        fh.flush()


def read_jsonl(path: str | Path) -> list[dict]:
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def render_inline(line: str) -> str:
    out, pos = [], 0
    for m in INLINE.finditer(line):
        out.append(escape(line[pos:m.start()]))
        if m.group("link"):
            out.append(f'<a href="{escape(m.group("url"))}" rel="noopener noreferrer">{escape(m.group("label"))}</a>')
        elif m.group("bold"):
            out.append(f"<b>{escape(m.group('btext'))}</b>")
        else:
            out.append(f'<span class="mention">{escape(m.group("mention"))}</span>')
        pos = m.end()
    out.append(escape(line[pos:]))
    return "".join(out)


def render_text(text: str) -> str:
    """Member text to safe HTML: escaped, line breaks kept, light markdown, mentions highlighted."""
    lines = []
    for line in str(text).split("\n"):
        m = HEADING.match(line)
        if m:
            lines.append(f'<span class="h h{len(m.group(1))}">{render_inline(m.group(2))}</span>')
        else:
            lines.append(render_inline(line))
    return "<br>\n".join(lines)


def _groups(messages: Iterable[dict]) -> list[tuple[tuple, list[dict]]]:
    groups: dict[tuple, list[dict]] = {}
    for msg in messages:
        groups.setdefault((msg.get("platform", ""), str(msg.get("group_id", ""))), []).append(msg)
    return [(key, sorted(items, key=lambda m: m.get("seq", 0))) for key, items in groups.items()]


def _zone(zones: Mapping | None, group_id: str) -> tzinfo | None:
    zone = (zones or {}).get(group_id)
    return ZoneInfo(zone) if isinstance(zone, str) else zone


def _local(at: str, zone: tzinfo | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone or timezone.utc)


def _day_words(moment: datetime, lang: str) -> str:
    w = WORDS[lang]
    if lang == "zh-CN":
        return f"{moment.year}年{moment.month}月{moment.day}日 周{w['weekdays'][moment.weekday()]}"
    return f"{w['weekdays'][moment.weekday()]} {w['months'][moment.month - 1]} {moment.day}, {moment.year}"


def _zone_name(zone: tzinfo | None, moment: datetime | None) -> str:
    if zone is None:
        return "UTC"
    offset = moment.astimezone(zone).strftime("%z") if moment else ""
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else ""
    key = getattr(zone, "key", None)
    return f"{key} ({offset})" if key and offset else (key or offset or str(zone))


def _render_msg(msg: dict, zone: tzinfo | None = None, lang: str = "en") -> str:
    at = str(msg.get("at", ""))
    local = _local(at, zone)
    shown_time = local.strftime("%H:%M") if local else at
    stamp = local.isoformat(timespec="seconds") if local else at
    author = msg.get("author") or msg.get("name") or f"{LABELS.get(msg.get('platform'), 'chat')} bot"
    parts = [
        f'<div class="msg" data-seq="{escape(str(msg.get("seq", "")))}">',
        f'<div class="meta"><span class="author">{escape(str(author))}</span>'
        f'<time datetime="{escape(stamp)}" title="{escape(stamp)}">{escape(shown_time)}</time></div>',
        f'<div class="bubble">{_render_image(msg.get("image"), lang)}{render_text(_text_beside(msg))}</div>',
        f'<div class="kind">{escape(str(msg.get("msgtype", "")))}</div>',
    ]
    mentions = msg.get("mentions") or []
    if mentions:
        parts.append(f'<div class="notified">{WORDS[lang]["notifies"]}{escape(", ".join("@" + str(m) for m in mentions))}</div>')
    for warning in msg.get("warnings") or []:
        parts.append(f'<div class="warning">⚠ {escape(str(warning))}</div>')
    parts.append("</div>")
    return "\n".join(parts)


MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\s]+\)\n*")


def _text_beside(msg: dict) -> str:
    """The text shown beside an image: a markdown image is the picture itself, so its syntax is not shown."""
    text = str(msg.get("text", ""))
    return MD_IMAGE.sub("", text).strip() if msg.get("image") and not msg["image"].get("link") else text


def _render_image(image, lang: str = "en") -> str:
    """An image a message carries: its thumbnail (a data: URI the emulator made), else a labelled box."""
    if not isinstance(image, dict):
        return ""
    facts = [str(image.get("format", "")).upper()]
    if image.get("width") and image.get("height"):
        facts.append(f"{image['width']}×{image['height']}")
    if image.get("bytes"):
        facts.append(f"{image['bytes'] / 1024:.0f} KB" if image["bytes"] < 1024 * 1024 else f"{image['bytes'] / 1048576:.1f} MB")
    label = " · ".join(f for f in facts if f and f != "UNKNOWN") or "image"
    thumb = str(image.get("thumb") or "")
    if image.get("link"):      # members see a link, not the picture
        return f'<figure class="image link"><figcaption>🔗 {escape(WORDS[lang]["image_link"])} · {escape(label)}</figcaption></figure>'
    inner = (f'<img src="{escape(thumb)}" alt="{escape(label)}">' if thumb.startswith("data:image/")
             else f'<span class="noimg">🖼</span>')
    return f'<figure class="image">{inner}<figcaption>{escape(label)}</figcaption></figure>'


def _render_group(items: list[dict], zone: tzinfo | None, lang: str) -> str:
    out, last_day = [], None
    for m in items:
        local = _local(str(m.get("at", "")), zone)
        day = local.date().isoformat() if local else ""
        if day != last_day and local is not None:
            out.append(f'<div class="day" data-day="{day}"><span>{escape(_day_words(local, lang))}</span></div>')
        last_day = day
        out.append(_render_msg(m, zone, lang))
    return "\n".join(out)


def render_html(messages: Iterable[dict], title: str = "qunflow emulator transcript", *,
                zones: Mapping | None = None, lang: str = "en") -> str:
    lang = "zh-CN" if lang == "zh-CN" else "en"
    w = WORDS[lang]
    messages = list(messages)
    sections = []
    for (platform, group_id), items in _groups(messages):
        name = next((m.get("name") for m in items if m.get("name")), None) or group_id
        label = LABELS.get(platform, platform)
        zone = _zone(zones, group_id)
        first = _local(str(items[0].get("at", "")), zone) if items else None
        zone_text = w["zone"].format(zone=_zone_name(zone, first))
        sections.append(
            f'<section class="group" data-group="{escape(group_id)}" data-platform="{escape(platform)}">\n'
            f'<h2>{escape(str(name))}<span class="platform p-{escape(platform)}">{escape(label)}</span>'
            f'<span class="zone">{escape(zone_text)}</span></h2>\n'
            f'<div class="msgs">\n' + _render_group(items, zone, lang) + "\n</div>\n</section>"
        )
    body = "\n".join(sections) or f'<p class="empty">{escape(w["empty"])}</p>'
    summary = w["summary"].format(n=len(messages), g=len(_groups(messages)))
    return (
        f"<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<header class="top"><h1>{escape(title)}</h1><p>{escape(summary)}</p></header>\n'
        f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def write_html(path: str | Path, messages: Iterable[dict], title: str = "qunflow emulator transcript", *,
               zones: Mapping | None = None, lang: str = "en") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(messages, title, zones=zones, lang=lang), encoding="utf-8")
    return path
