"""The emulator's record of what reached each group: JSONL lines and a chat-like HTML page.

The HTML is self-contained (inline CSS, no scripts, no external assets).
Member text is always escaped; only a little markdown (headings, **bold**,
[label](https://…) links) is turned into markup, and @-mentions are wrapped
in <span class="mention">. Stable hooks for DOM tests:
`section.group[data-group]`, `div.msg[data-seq]`, `span.mention`.
"""
from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path
from typing import Iterable

LABELS = {"wecom": "WeCom", "dingtalk": "DingTalk", "feishu": "Feishu", "slack": "Slack",
          "discord": "Discord", "telegram": "Telegram"}

INLINE = re.compile(
    r"(?P<link>\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^)\s\"'<>]+)\))"
    r"|(?P<bold>\*\*(?P<btext>[^*\n]+)\*\*)"
    r"|(?P<mention><@[!&]?[\w.-]+(?:\|[^>\n]*)?>|<!(?:channel|here|everyone)(?:\|[^>\n]*)?>"
    r"|(?<![\w/.@])@[\w\u4e00-\u9fff][\w\u4e00-\u9fff.-]*)"
)
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")

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
span.mention{color:#1664ff;background:#e8f0ff;border-radius:3px;padding:0 2px}
.notified,.warning,.kind{font-size:12px;margin-top:2px}
.notified{color:#4e5969}.warning{color:#b54708}.kind{color:#86909c}
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


def _render_msg(msg: dict) -> str:
    at = str(msg.get("at", ""))
    shown_time = at[11:19] if len(at) >= 19 else at
    author = msg.get("author") or msg.get("name") or f"{LABELS.get(msg.get('platform'), 'chat')} bot"
    parts = [
        f'<div class="msg" data-seq="{escape(str(msg.get("seq", "")))}">',
        f'<div class="meta"><span class="author">{escape(str(author))}</span>'
        f'<time datetime="{escape(at)}" title="{escape(at)}">{escape(shown_time)}</time></div>',
        f'<div class="bubble">{render_text(msg.get("text", ""))}</div>',
        f'<div class="kind">{escape(str(msg.get("msgtype", "")))}</div>',
    ]
    mentions = msg.get("mentions") or []
    if mentions:
        parts.append(f'<div class="notified">notifies: {escape(", ".join("@" + str(m) for m in mentions))}</div>')
    for warning in msg.get("warnings") or []:
        parts.append(f'<div class="warning">⚠ {escape(str(warning))}</div>')
    parts.append("</div>")
    return "\n".join(parts)


def render_html(messages: Iterable[dict], title: str = "qunflow emulator transcript") -> str:
    messages = list(messages)
    sections = []
    for (platform, group_id), items in _groups(messages):
        name = next((m.get("name") for m in items if m.get("name")), None) or group_id
        label = LABELS.get(platform, platform)
        sections.append(
            f'<section class="group" data-group="{escape(group_id)}" data-platform="{escape(platform)}">\n'
            f'<h2>{escape(str(name))}<span class="platform p-{escape(platform)}">{escape(label)}</span></h2>\n'
            f'<div class="msgs">\n' + "\n".join(_render_msg(m) for m in items) + "\n</div>\n</section>"
        )
    body = "\n".join(sections) or '<p class="empty">No messages were accepted.</p>'
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<header class="top"><h1>{escape(title)}</h1><p>{len(messages)} messages in {len(_groups(messages))} groups. '
        "Nothing here was posted to a real group.</p></header>\n"
        f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def write_html(path: str | Path, messages: Iterable[dict], title: str = "qunflow emulator transcript") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(messages, title), encoding="utf-8")
    return path
