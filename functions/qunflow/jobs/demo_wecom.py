"""`qunflow demo --wecom-customer`: 30 days of SOP posts to three WeCom customer groups (客户群), on a virtual
clock, against the emulator's customer-contact API, where the demo plays the owners through its control endpoint.

The owners confirm most tasks an hour after they arrive, ignore some (the tick reminds them every
`wecom_remind_after`, at most 3 in 24 h, then cancels the task when `wecom_confirm_window` has passed: not
sent), confirm one late (after the reminders, inside the window: sent, at that time) and confirm one after the
cancel (WeCom sends nothing: it stays not sent). The quota rule is `week` (7 a week), and one rule more than
the daily post ask for an 8th and a 9th: the planner defers them (or skips them) before any task exists. The tick
runs every two hours. At the end the state store's sends are checked against what the emulated groups received.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from ..clock import VirtualClock
from ..delivery.secrets import SecretResolver
from ..stores.memory import MemoryStore

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = date(2026, 12, 1)
# checkov:skip=CKV_SECRET_6: a made-up demo corp id and the name of an environment variable, not secrets
CORP, SECRET_NAME = "wwdemo0000000001", "QUNFLOW_WECOM_APP_SECRET"
GROUPS = [
    {"group_id": "K01", "name": "衣橱小馆·老客福利群", "owner": "zhangsan", "chat_id": "wrDemoChat0001"},
    {"group_id": "K02", "name": "衣橱小馆·新品体验群", "owner": "zhangsan", "chat_id": "wrDemoChat0002"},
    {"group_id": "K03", "name": "衣橱小馆·门店会员群", "owner": "lisi", "chat_id": "wrDemoChat0003"},
]
SOP = [
    {"rule_id": "Q01", "groups": "K01, K02, K03", "schedule": "每天 20:00", "phase": "留存",
     "content": "今晚 8 点上新：冬季大衣老客价 399，{{ group_name }} 的姐妹先看 👀"},
    {"rule_id": "Q02", "groups": "K01, K03", "schedule": "每周六 10:00", "phase": "活动",
     "content": "周末福利：到店出示会员码再减 30 元，本周日截止。"},
    {"rule_id": "Q03", "groups": "K01, K03", "schedule": "每周日 10:00", "phase": "活动",
     "content": "周日穿搭课：叠穿三步法，今晚 8 点群里见。"},
]
TICK = timedelta(hours=2)


@dataclass
class WeComDemoResult:
    workbook: Path
    ticks: int
    states: Counter = field(default_factory=Counter)        # the SendLog's final states
    per_group: dict = field(default_factory=dict)            # group -> Counter of states
    reminders: int = 0
    cancelled: int = 0
    owner: Counter = field(default_factory=Counter)          # confirm / ignore / late / after_cancel
    max_per_week: dict = field(default_factory=dict)         # group -> most sends received in one week
    mismatches: list = field(default_factory=list)           # sends whose stored state is not the groups' truth
    deferred: int = 0                                        # sends the quota (or the cap) moved, over all ticks
    tasks: list = field(default_factory=list)                # the emulator's tasks at the end
    plans: dict = field(default_factory=dict)                # msgid -> what its owner did


def _rows(days: int, sop: list | None = None) -> dict:
    from .initbook import settings_in
    settings = [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "wecom_corp_id", "value": CORP},
                {"key": "wecom_quota", "value": "week"}, {"key": "wecom_remind_after", "value": "2h"},
                {"key": "wecom_confirm_window", "value": "24h"}, {"key": "sendlog_days", "value": str(days + 2)},
                {"key": "daily_cap", "value": "10"}]
    groups = [{**g, "platform": "wecom-customer", "kind": "traffic", "webhook": f"env:{SECRET_NAME}",
               "enabled": "yes"} for g in GROUPS]
    return {"settings": settings_in("zh-CN", settings), "groups": groups, "sop": SOP if sop is None else sop}


def _store(days: int, sop: list | None = None) -> MemoryStore:
    from ..sheet.layout import workbook_layout
    rows = _rows(days, sop)
    raw = {}
    for layout in workbook_layout("zh-CN"):
        raw[layout.title] = [layout.header] + [[c.value(r.get(c.key), "zh-CN") for c in layout.columns]
                                               for r in rows.get(layout.key, [])]
    return MemoryStore(raw)


def _owner_plan(index: int, created: float) -> tuple[str, float | None]:
    """What the emulated owner does with the index-th task (deterministic): (kind, when to confirm)."""
    if index == 9:
        return "late", created + 20 * 3600            # after three reminders, inside the 24 h window
    if index == 16:
        return "after_cancel", created + 30 * 3600    # the tick cancelled it at 24 h: WeCom sends nothing
    if index % 6 == 4:
        return "ignore", None
    return "confirm", created + 3600


def run_wecom_demo(out_dir: Path, days: int = 30, seed: int = 7) -> WeComDemoResult:
    import requests

    from ..emulator import Emulator
    from .initbook import export_xlsx
    from .tick import TickDeps, run_tick
    from ..state.sqlite import SqliteState
    out_dir.mkdir(parents=True, exist_ok=True)
    start = datetime.combine(START, time(), SHANGHAI).astimezone(timezone.utc)
    end = start + timedelta(days=days)
    clock = VirtualClock(start)
    secret = f"demo-app-secret-{seed:04d}-" + "x" * 12
    emulator = Emulator(clock=clock)
    base = emulator.start()
    result = WeComDemoResult(out_dir / "qunflow-wecom-demo.xlsx", 0)
    try:
        emulator.wecom_api.add_app(CORP, secret)
        http = requests.Session()
        http.post(f"{base}/_emulator/wecom/customer_groups",
                  json=[{"chat_id": g["chat_id"], "owner": g["owner"]} for g in GROUPS]).raise_for_status()
        http.post(f"{base}/_emulator/wecom/quota", json={"rule": "week"}).raise_for_status()
        store = _store(days)
        state = SqliteState(":memory:")
        deps = TickDeps(session=requests.Session(), clock=clock, sleep=clock.sleep, rng=random.Random(seed),
                        resolver=SecretResolver(env={SECRET_NAME: secret}), state=state, wecom_base=base)
        planned: dict[str, tuple[str, float | None]] = {}
        moment = start
        while moment <= end:
            clock.set(moment)
            for msgid, (kind, when) in sorted(planned.items()):      # the owners act first
                if when is not None and when <= clock():
                    http.post(f"{base}/_emulator/wecom/owner", json={"msgid": msgid, "action": "confirm"})
                    planned[msgid] = (kind, None)
            report = run_tick(store, moment, deps)
            result.ticks += 1
            result.deferred += report.deferred
            for task in http.get(f"{base}/_emulator/wecom/tasks").json():
                if task["msgid"] not in planned:
                    plan = _owner_plan(len(planned), task["created"])
                    planned[task["msgid"]] = plan
                    result.owner[plan[0]] += 1
                    if plan[0] == "ignore":
                        http.post(f"{base}/_emulator/wecom/owner", json={"msgid": task["msgid"], "action": "ignore"})
            moment += TICK
        _judge(result, state, emulator, start)
        result.plans = {msgid: kind for msgid, (kind, _) in planned.items()}
        result.tasks = http.get(f"{base}/_emulator/wecom/tasks").json()
        export_xlsx(store.raw, result.workbook, "zh-CN")
        state.close()
        return result
    finally:
        emulator.stop()


def _judge(result: WeComDemoResult, state, emulator, start: datetime) -> None:
    """The SendLog's final states, checked against what the emulated groups received."""
    tasks = emulator.wecom_tasks
    received = {}
    for m in tasks.messages:
        received[(m["chat_id"], m["msgid"])] = m["at"]
    chat_of = {g["group_id"]: g["chat_id"] for g in GROUPS}
    msgid_of = {}
    for t in tasks.tasks.values():
        result.reminders += len(t["reminds"])
        result.cancelled += bool(t["cancelled"])
    import json
    for value in state.cached_under("wecom_task:", emulator.clock()).values():
        record = json.loads(value)
        for chat, sid in record["chats"].items():
            for ledger_id in record.get("covers", {}).get(sid, [sid]):
                msgid_of[ledger_id] = record["msgid"]
    weekly: dict[str, Counter] = {}
    for s in state.sends():
        result.states[s.status] += 1
        result.per_group.setdefault(s.group_id, Counter())[s.status] += 1
        msgid = msgid_of.get(s.send_id)
        got = received.get((chat_of.get(s.group_id), msgid)) if msgid else None
        if (s.status == "sent") != (got is not None) or (got is not None and int(s.sent_at.timestamp()) != got):
            result.mismatches.append((s.send_id, s.status, got))
        if got is not None:
            weekly.setdefault(s.group_id, Counter())[datetime.fromtimestamp(got, SHANGHAI).isocalendar()[:2]] += 1
    result.max_per_week = {g: max(c.values()) for g, c in weekly.items()}
