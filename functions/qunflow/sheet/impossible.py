"""msg_type values an operator will try that no robot can send (#21 "say what is impossible"): red packets,
mini-programs, voice, video and files. `recognise` lets sheet.parse read them as their own value instead of an
unknown word, so validate can answer with the reason and the alternative (`check_impossible`). Pure."""
from __future__ import annotations

from typing import Any, Callable

from .cells import fold

IMPOSSIBLE: dict[str, tuple[str, ...]] = {
    "red_packet": ("red_packet", "red packet", "redpacket", "red envelope", "hongbao", "红包", "群红包", "拼手气红包"),
    "miniprogram": ("miniprogram", "mini_program", "mini-program", "mini program", "小程序", "小程序卡片"),
    "voice": ("voice", "audio", "语音", "音频"),
    "video": ("video", "视频"),
    "file": ("file", "document", "attachment", "文件", "附件"),
}
_WORDS = {fold(word): kind for kind, words in IMPOSSIBLE.items() for word in words}


def recognise(column_key: str, raw: Any) -> str | None:
    """The impossible kind a msg_type cell names (red_packet, miniprogram, voice, video, file), else None."""
    return _WORDS.get(fold(raw)) if column_key == "msg_type" else None


def check_impossible(wb: Any, rule: Any, add: Callable[..., None], groups: list[Any]) -> bool:
    """An error at the rule's msg_type cell when it names something no robot can send, saying what to send
    instead; True when it did (the rule is dropped by the caller's `add`)."""
    from .i18n_cards import CARD_WORDS
    kind = rule.msg_type
    if kind not in IMPOSSIBLE:
        return False
    where = ", ".join(f"{g.group_id} ({g.platform})" for g in groups) or "-"
    cards_tab = wb.tables["cards"].title
    if kind == "red_packet":
        add("impossible_red_packet", rule, "msg_type", kind)
    elif kind == "miniprogram":
        add("impossible_miniprogram", rule, "msg_type", kind, groups=where, cards_tab=cards_tab)
    else:
        add("impossible_media", rule, "msg_type", kind, groups=where, cards_tab=cards_tab,
            kind=CARD_WORDS.get(wb.lang, CARD_WORDS["en"])[kind])
    return True
