"""What the CLI says to an operator, in their language: `sheet.i18n`'s words for cli/ (which imports no sheet
module). The language is the workbook's own unless `qunflow --lang` or $QUNFLOW_LANG says otherwise
(`cli.app.speaking`)."""
from __future__ import annotations

from typing import Any

from ..sheet.i18n import MESSAGES, message
from ..sheet.schema import load_schemas
from ..sheet.vocabulary import label


def say(code: str, lang: str, **params: Any) -> str:
    return message(code, lang, **params)


def severity(value: str, lang: str) -> str:
    """error / warning as the Problems tab's dropdown says it (错误 / 警告)."""
    return str(label(load_schemas()["problems"].column("severity"), value, lang))


def policy(value: str, lang: str) -> str:
    """What the planner will do to a send (`due (after quiet hours)` → 免打扰后顺延)."""
    key = "cli_policy_quiet_shift" if value.startswith("due (") else f"cli_policy_{value}"
    return message(key, lang) if key in MESSAGES else value


def platform(value: str, lang: str) -> str:
    """A platform as the Groups tab's dropdown says it (wecom → 企业微信)."""
    return str(label(load_schemas()["groups"].column("platform"), value, lang))
