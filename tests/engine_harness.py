"""A shop on a virtual clock: MemoryStore workbook + the chat emulator over real HTTP + the tick."""
from __future__ import annotations

import copy
import random
from datetime import datetime, timezone

import requests

from helpers import make_raw
from qunflow.clock import VirtualClock
from qunflow.emulator import Bot, Emulator
from qunflow.jobs.journal import FileJournal, NullJournal
from qunflow.delivery.secrets import SecretResolver
from qunflow.stores.memory import MemoryStore
from qunflow.jobs.tick import TickDeps, run_tick


SHOP = {
    "settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"},
                 {"key": "catch_up", "value": "30m"}],
    "groups": [
        {"group_id": "G01", "name": "Spring deals", "platform": "wecom", "webhook": "env:QUNFLOW_HOOK_G01", "kind": "traffic",
         "campaign_start": "2026-12-01", "daily_cap": 5},
        {"group_id": "G02", "name": "Flash sale", "platform": "dingtalk", "webhook": "env:QUNFLOW_HOOK_G02",
         "secret": "env:QUNFLOW_SIGN_G02", "kind": "flash", "campaign_start": "2026-12-01"},
        {"group_id": "G03", "name": "Style lab", "platform": "feishu", "webhook": "env:QUNFLOW_HOOK_G03",
         "secret": "env:QUNFLOW_SIGN_G03", "kind": "content", "quiet_hours": "22:00-08:00"},
    ],
    "members": [
        {"member_id": "M0001", "name": "Lin", "group_id": "G01", "platform_user_id": "lin", "joined_at": "2026-11-01 10:00",
         "welcomed_at": "2026-11-01 10:05", "layer": "core"},
        {"member_id": "M0002", "name": "Chen", "group_id": "G02", "platform_user_id": "chen", "mobile": "13900139000",
         "joined_at": "2026-11-01 10:00", "welcomed_at": "2026-11-01 10:05"},
    ],
    "coupons": [{"code": f"WEL-{i:03d}", "campaign": "welcome50", "kind": "welcome", "value": 50} for i in range(1, 41)],
    "templates": [{"name": "welcome", "content": "Welcome {{ mentions }} to {{ group_name }}!{% if coupon %} Your coupon: {{ coupon }}{% endif %}"}],
    "sop": [
        {"rule_id": "R01", "groups": "G01, G02, G03", "schedule": "daily 23:00", "content": "Good night from {{ group_name }}"},
        {"rule_id": "C01", "groups": "kind:traffic", "schedule": "day 1-3 10:00", "content": "Day {{ campaign_day }} tip"},
        {"rule_id": "W01", "groups": "*", "schedule": "on join", "content": "template:welcome", "mention": "new",
         "coupon": "welcome50"},
    ],
}

BOTS = [Bot("wecom", "wecom-key-G01-0000000000000001"), Bot("dingtalk", "ding-token-G02-00000000000002", secret="SEC-ding-G02-0000000000000002"),
        Bot("feishu", "feishu-hook-G03-000000000003", secret="feishu-sign-G03-000000000003")]


class Shop:
    def __init__(self, start: datetime, rows: dict | None = None, emulator_options: dict | None = None,
                 journal_path=None, store=None, timeout: tuple[float, float] = (5.0, 15.0), state=None):
        self.clock = VirtualClock(start)
        self.timeout = timeout
        self.state = state             # a qunflow.state store, or None: the sheet is the only memory
        self.emulator = Emulator(BOTS, clock=self.clock, **(emulator_options or {}))
        self.emulator.start()
        hooks = {b.platform: self.emulator.webhook_url(b) for b in BOTS}
        env = {"QUNFLOW_HOOK_G01": hooks["wecom"], "QUNFLOW_HOOK_G02": hooks["dingtalk"], "QUNFLOW_SIGN_G02": "SEC-ding-G02-0000000000000002",
               "QUNFLOW_HOOK_G03": hooks["feishu"], "QUNFLOW_SIGN_G03": "feishu-sign-G03-000000000003"}
        self.resolver = SecretResolver(env=env)
        self.store = store or MemoryStore(make_raw(copy.deepcopy(rows or SHOP)))
        self.journal = FileJournal(journal_path) if journal_path else NullJournal()
        self.session = requests.Session()

    def tick(self, at: datetime | None = None, *, jump_to: datetime | None = None, **kw):
        """A tick at `at` (the virtual clock moves there). `jump_to`: the tick's `now` is that moment even if it is
        earlier than the clock, as when a machine's clock jumps back."""
        if jump_to is not None:
            deps = TickDeps(session=self.session, clock=self.clock, sleep=self.clock.sleep, rng=random.Random(1),
                            resolver=self.resolver, journal=self.journal, timeout=self.timeout,
                            state=self.state)
            return run_tick(self.store, jump_to, deps, **kw)
        if at is not None:
            self.clock.set(at)
        deps = TickDeps(session=self.session, clock=self.clock, sleep=self.clock.sleep, rng=random.Random(1),
                        resolver=self.resolver, journal=self.journal, timeout=self.timeout,
                            state=self.state)
        return run_tick(self.store, self.clock.now(), deps, **kw)

    def messages(self, group_token_prefix: str = ""):
        return [m for m in self.emulator.messages]

    def close(self):
        self.emulator.stop()
