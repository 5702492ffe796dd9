"""One module per chat platform, and the explicit registry of them (no directory scanning)."""
from __future__ import annotations

from .base import (DISABLE_TARGET, OK, REJECT_MESSAGE, RETRY, UNKNOWN, HttpRequest, MessageRejected, Outcome,
                   OutcomeKind, Platform)
from .dingtalk import DingTalk, sign_dingtalk
from .discord import Discord
from .feishu import Feishu, sign_feishu
from .slack import Slack
from .telegram import Telegram
from .wecom import WeCom

PLATFORMS: dict[str, type[Platform]] = {
    "wecom": WeCom,
    "dingtalk": DingTalk,
    "feishu": Feishu,
    "slack": Slack,
    "discord": Discord,
    "telegram": Telegram,
}

__all__ = ["PLATFORMS", "Platform", "HttpRequest", "MessageRejected", "Outcome", "OutcomeKind", "OK", "RETRY",
           "REJECT_MESSAGE", "DISABLE_TARGET", "UNKNOWN", "WeCom", "DingTalk", "Feishu", "Slack", "Discord", "Telegram",
           "sign_dingtalk", "sign_feishu"]
