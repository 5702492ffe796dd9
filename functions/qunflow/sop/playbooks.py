"""Playbooks: ready-made SOP rows in workflows/playbooks/*.yaml, in zh-CN with an en variant. Pure."""
from __future__ import annotations

import functools
import os
from datetime import date
from importlib.resources.abc import Traversable
from typing import Any

import yaml

from .resources import override, shipped, yaml_files


def playbook_dir() -> Traversable:
    """workflows/playbooks/: $QUNFLOW_PLAYBOOKS (an explicit override), else what the package ships
    (`sop.resources.shipped`)."""
    env = os.environ.get("QUNFLOW_PLAYBOOKS")
    return override(env, "QUNFLOW_PLAYBOOKS", folder=True) if env else shipped("workflows", "playbooks")


@functools.cache
def load_playbooks() -> dict[str, dict[str, Any]]:
    books = {}
    for path in yaml_files(playbook_dir()):
        book = yaml.safe_load(path.read_text(encoding="utf-8"))
        books[book["name"]] = book
    return books


def _pick(value: Any, lang: str) -> Any:
    if isinstance(value, dict):
        return value.get(lang) or value.get("zh-CN") or value.get("en")
    return value


def sop_rows(name: str, groups: list[str], lang: str, existing_ids: set[str],
             campaign: str | None = None) -> list[dict[str, Any]]:
    """The playbook's rules as SOP rows for these groups, with rule ids no existing row uses; `campaign`: the
    Campaigns row whose start is their day 1 (None: the groups' campaign_start)."""
    book = load_playbooks()[name]
    taken = {i.casefold() for i in existing_ids}
    rows = []
    for index, rule in enumerate(book["rules"], start=1):
        base = f"{book['prefix']}-{index:02d}"
        rule_id, n = base, 1
        while rule_id.casefold() in taken:
            n += 1
            rule_id = f"{base}-{n}"
        taken.add(rule_id.casefold())
        rows.append({"rule_id": rule_id, "enabled": "yes" if lang == "en" else "是", "groups": ", ".join(groups),
                     "schedule": _pick(rule["schedule"], lang), "phase": _pick(rule.get("phase"), lang),
                     "campaign": campaign,
                     "msg_type": "text", "content": _pick(rule["content"], lang),
                     "mention": rule.get("mention", "none"), "coupon": rule.get("coupon")})
    return rows


def needs_campaign_start(name: str) -> bool:
    return any("天" in str(_pick(r["schedule"], "zh-CN")) and "第" in str(_pick(r["schedule"], "zh-CN"))
               for r in load_playbooks()[name]["rules"])
