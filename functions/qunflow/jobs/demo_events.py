"""How the demo's simulated people reach qunflow: as a real shop's would, none typed into the Events tab.

- Joins, leaves, messages and check-ins come from the **emulated platforms' event sources**
  (qunflow/emulator/events_out.py): each group's platform posts them, signed or encrypted as it does, to the
  `events` function running in-process on 127.0.0.1 (jobs/events_serve.py), which keeps them in the state
  store's inbox; the tick makes members, check-ins and activity of them (jobs/events_inbox.py). A referral is
  the platform saying who added the newcomer (the inviter); a check-in is a message with the group's keyword.
- Orders and redemptions are the shop's: signed `ingest` requests (jobs/ingest.py), into the same inbox.

Decision (#19): WeCom's internal group robots have no event source (EVENTS.md), so the demo's two WeCom groups
moved to Feishu (demo_data.GROUPS: the traffic group G01 and the check-in group G04, whose 打卡 messages need a
platform that reports messages). WeCom customer groups have callbacks (WECOM.md); when the `/wecom` path lands, a
WeCom customer group can come back. DingTalk's HTTP callback reports member changes only, so the flash group
G02 (DingTalk) has joins and no chat: its members' messages are not sent (`skipped` counts them). Slack and
DingTalk give no names with a join, so a newcomer there is named by their id until an operator names them.
"""
from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
# checkov:skip=CKV_SECRET_6: the demo's made-up keys for its own emulator on 127.0.0.1, not real ones
SECRETS = {"feishu_encrypt_key": "demo-feishu-encrypt-key", "feishu_verification_token": "demo-feishu-token",
           # checkov:skip=CKV_SECRET_6: the demo's made-up keys for its own emulator on 127.0.0.1, not real ones
           "slack_signing_secret": "demo-slack-signing-secret", "telegram_secret_token": "demo-telegram-secret",
           # checkov:skip=CKV_SECRET_6: the demo's made-up keys for its own emulator on 127.0.0.1, not real ones
           "dingtalk_token": "demo-dingtalk-token", "dingtalk_aes_key": "qunflowDemoDingTalkAesKey0123456789abcdefgh",
           "dingtalk_app_key": "dingdemoappkey"}
# checkov:skip=CKV_SECRET_6: the demo's made-up keys for its own emulator on 127.0.0.1, not real ones
INGEST_SECRET = "demo-ingest-secret"
CHAT = ["今天的穿搭分享来啦", "这件大衣有小码吗？", "求推荐通勤搭配", "已下单，期待！", "收到，谢谢～", "周末去门店试穿"]


def keys(name: str) -> str | None:
    """What the events function reads as QUNFLOW_<NAME>: the demo's own platform secrets."""
    return SECRETS.get(name.lower())


class Arrivals:
    """Deliver the demo's events at their times: the platforms' through the events function, the shop's through
    ingest. `people`: member id -> (platform user id, name)."""

    def __init__(self, store: Any, state: Any, clock: Any, groups: list[dict], people: dict[str, tuple[str, str]],
                 seed: int = 0):
        self.store, self.state, self.clock = store, state, clock
        self.groups = {g["group_id"]: g for g in groups}
        self.people = dict(people)
        self.rng = random.Random(seed)
        self.skipped = 0
        self.counts: dict[str, int] = {}

    def __enter__(self) -> "Arrivals":
        from ..emulator.events_out import EventSource
        from .events_serve import EventsServer
        self.server = EventsServer(self.state, keys, self.clock)
        url = self.server.__enter__()
        self.source = EventSource(url, secrets=SECRETS, clock=self.clock, sleep=self.clock.sleep, seed=7)
        for platform in sorted({g["platform"] for g in self.groups.values()} & {"feishu", "slack", "dingtalk"}):
            record = self.source.handshake(platform)    # the URL check a platform makes when it is configured
            if not record["ok"]:
                raise RuntimeError(f"the events function did not answer {platform}'s URL check")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.__exit__(*exc)

    def deliver(self, events: list[dict], inviters: dict[str, str]) -> None:
        """`inviters`: invitee member id -> inviter member id (the platform names who added them)."""
        shop = []
        for e in events:
            at = e["at"] if e["at"].tzinfo else e["at"].replace(tzinfo=SHANGHAI)
            self.clock.t = max(self.clock.t, at.timestamp())
            kind = e["type"]
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if kind in ("order", "redeem"):
                shop.append(dict(e, at=at))
                continue
            if kind == "invite":
                continue                                # the platform tells it with the join (its inviter)
            self._flush(shop)
            shop = []
            group = self.groups[e["group_id"]]
            uid, name = self.people[e["member_id"]]
            platform, chat = group["platform"], group["chat_id"]
            if kind in ("join", "leave"):
                inviter = inviters.get(e["member_id"]) if kind == "join" else None
                by = {"id": self.people[inviter][0]} if inviter in self.people else None
                record = self.source.emit(platform, chat, kind, {"id": uid, "name": name}, inviter=by)
            elif platform == "dingtalk":                # DingTalk's callback has no message events
                self.skipped += 1
                continue
            else:
                text = e.get("detail") or ("打卡" if kind == "checkin" else self.rng.choice(CHAT))
                record = self.source.emit(platform, chat, "message", {"id": uid, "name": name}, text=text)
            if not record["ok"]:
                raise RuntimeError(f"the events function refused the demo's {platform} {kind}: "
                                   f"{self.server.reasons[-1:] or record['attempts']}")
        self._flush(shop)

    def _flush(self, shop: list[dict]) -> None:
        """The shop's orders and redemptions: one signed ingest request."""
        if not shop:
            return
        from .ingest import SIGNATURE_HEADER, TIMESTAMP_HEADER, ingest_into, sign
        rows = [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in e.items() if v is not None}
                for e in shop]
        body = json.dumps({"events": rows}, ensure_ascii=False, default=str).encode("utf-8")
        stamp = int(self.clock())
        headers = {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(body, INGEST_SECRET, stamp)}
        result = ingest_into(self.store, headers, body, INGEST_SECRET, self.clock(), state=self.state)
        if not result.ok:
            raise RuntimeError(f"ingest refused the demo's orders: {result.body()}")
