"""Must show (#19): the emulated platforms post real-shaped, signed or encrypted events over HTTP to the running
`events` function (functions-framework, 127.0.0.1); the tick makes members, welcomes and check-ins of them.

The emulator signs from EVENTS.md (qunflow/emulator/events_payloads.py), the receivers verify from it
(qunflow/events/): two readings of one page meet here. The function's clock is the real one, so the events are
dated now and the tick runs on a virtual clock set to now.
"""
from __future__ import annotations

import random
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import functions_framework
import pytest
import requests
from werkzeug.serving import make_server

from helpers import make_raw
from qunflow.clock import VirtualClock
from qunflow.delivery.secrets import SecretResolver
from qunflow.emulator import Bot, Emulator
from qunflow.emulator import events_out
from qunflow.emulator.events_out import EventSource
from qunflow.jobs.tick import TickDeps, run_tick
from qunflow.sheet.load import load_workbook
from qunflow.state.sqlite import SqliteState
from qunflow.stores.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[1]
# checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
SECRETS = {"feishu_encrypt_key": "feishu-encrypt-key-for-tests-01", "feishu_verification_token": "feishu-token-t01",
           # checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
           "slack_signing_secret": "slack-signing-secret-for-tests-01", "telegram_secret_token": "tg-secret-token_01",
           "dingtalk_token": "dingtalk-token-t01", "dingtalk_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
           "dingtalk_app_key": "dingappkeyfortests01"}
ENV = {f"QUNFLOW_{k.upper()}": v for k, v in SECRETS.items()}
CHATS = {"feishu": "oc_a0553eda9014c201e6969b478895c230", "slack": "C0EVENTS01", "telegram": "-1001234567890",
         "dingtalk": "cidEventsGroup01=="}
GROUPS = {"feishu": "G11", "slack": "G12", "telegram": "G13", "dingtalk": "G14"}
BOTS = {"feishu": Bot("feishu", "feishu-hook-events-0000000011"), "slack": Bot("slack", "T0EV/B0EV/events0000012"),
        "telegram": Bot("telegram", "271828:TGeventsToken0000013"), "dingtalk": Bot("dingtalk", "ding-events-0000000014")}
USERS = {"feishu": "ou_newcomer0000000001", "slack": "U0NEWCOMER", "telegram": "555000111", "dingtalk": "ding-newcomer-01"}
OLD = {"feishu": "ou_regular00000000001", "slack": "U0REGULAR", "telegram": "555000222", "dingtalk": "ding-regular-01"}


def rows():
    return {
        "settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"},
                     {"key": "catch_up", "value": "30m"}],
        "groups": [{"group_id": GROUPS[p], "name": f"{p} group", "platform": p, "webhook": f"env:QUNFLOW_HOOK_{p.upper()}",
                    "kind": "checkin", "chat_id": CHATS[p], "checkin_keyword": "打卡"} for p in GROUPS],
        "members": [{"member_id": f"R-{p}", "name": f"Regular {p}", "group_id": GROUPS[p], "platform_user_id": OLD[p],
                     "joined_at": "2026-11-01 10:00", "welcomed_at": "2026-11-01 10:05"} for p in GROUPS],
        "templates": [{"name": "welcome", "content": "Welcome {{ mentions }} to {{ group_name }}!"}],
        "sop": [{"rule_id": "W01", "groups": "*", "schedule": "on join", "content": "template:welcome", "mention": "new"}],
    }


@pytest.fixture
def world(tmp_path, monkeypatch):
    """The events function served over HTTP, its SQLite inbox, the workbook, the emulator (webhooks and events)."""
    state_path = tmp_path / "state.sqlite"
    monkeypatch.setenv("QUNFLOW_STATE", str(state_path))
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    app = functions_framework.create_app("events", str(ROOT / "functions" / "main.py"))
    sys.modules["main"]._CLIENTS.clear()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    clock = VirtualClock(datetime.now(timezone.utc))
    emulator = Emulator(list(BOTS.values()), clock=clock)
    emulator.start()
    env = {f"QUNFLOW_HOOK_{p.upper()}": emulator.webhook_url(b) + ("?chat_id=" + CHATS[p] if p == "telegram" else "")
           for p, b in BOTS.items()}
    w = type("World", (), {})()
    w.url, w.clock, w.emulator = url, clock, emulator
    w.source = EventSource(url, secrets=SECRETS, sleep=lambda s: None, seed=1)
    w.store = MemoryStore(make_raw(rows()))
    w.state = SqliteState(state_path)
    w.resolver = SecretResolver(env=env)
    w.main = sys.modules["main"]

    def tick():
        clock.set(datetime.now(timezone.utc) + timedelta(minutes=1))
        deps = TickDeps(session=requests.Session(), clock=clock, sleep=clock.sleep, rng=random.Random(1),
                        resolver=w.resolver, state=w.state)
        return run_tick(w.store, clock.now(), deps)
    w.tick = tick
    w.wb = lambda: load_workbook(w.store.raw)
    yield w
    server.shutdown()
    emulator.stop()
    w.state.close()
    sys.modules["main"]._CLIENTS.clear()


def inbox(w):
    return w.state.pending_events()


@pytest.mark.parametrize("platform", list(GROUPS))
def test_a_join_becomes_a_member_and_a_welcome_and_打卡_a_check_in(world, platform):
    w = world
    if platform != "telegram":
        shake = w.source.handshake(platform)
        assert shake["ok"] and shake.get("challenge_ok", shake.get("acknowledged")), shake["attempts"]
        assert shake.get("in_time", True)
    joined = w.source.emit(platform, CHATS[platform], "join", {"id": USERS[platform], "name": "王小明"},
                           inviter={"id": OLD[platform]})
    assert joined["ok"] and len(joined["attempts"]) == 1, joined["attempts"]
    if platform == "dingtalk":
        assert joined["acknowledged"]                       # the encrypted, signed "success"
    assert [e["type"] for e in inbox(w)] == ["join"]
    report = w.tick()
    assert report.sent == 1 and report.failed == 0
    wb = w.wb()
    member = next(m for m in wb.members.values() if m.platform_user_id == USERS[platform])
    named = "王小明" if platform in ("feishu", "telegram") else USERS[platform]   # Slack, DingTalk give ids only
    assert (member.name, member.group_id) == (named, GROUPS[platform]) and member.welcomed_at
    welcome = [m for m in w.emulator.messages if m["text"].startswith("Welcome")]
    assert len(welcome) == 1 and welcome[0]["platform"] == platform
    assert member.referred_by == f"R-{platform}"           # the platform said who added them: the referral
    if platform == "dingtalk":
        with pytest.raises(ValueError, match="no message event"):
            w.source.emit(platform, CHATS[platform], "message", {"id": USERS[platform]}, text="打卡")
        return
    for text in ("早上好", "打卡 第一天 风衣 + 阔腿裤", "今天穿什么"):
        assert w.source.emit(platform, CHATS[platform], "message", {"id": USERS[platform], "name": "王小明"},
                             text=text)["ok"]
    w.tick()
    wb = w.wb()
    kinds = [(e.type, e.member_id) for e in wb.events]
    assert ("checkin", member.member_id) in kinds and all(t != "message" for t, _ in kinds)   # messages: no rows
    assert not any("早上好" in str(cell) for tab in w.store.raw.values() for row in tab for cell in row)
    days = w.state.activity()
    assert [(a.key, a.messages) for a in days] == [(f"{member.member_id}@{GROUPS[platform]}", 2)]
    again = next(m for m in wb.members.values() if m.platform_user_id == USERS[platform])
    assert again.last_active_at is not None and again.last_active_at >= member.joined_at
    assert (member.layer, again.layer) == ("periphery", "influence")   # 2 messages + 1 check-in: 3 in 30 days
    assert len([m for m in w.emulator.messages if m["text"].startswith("Welcome")]) == 1      # welcomed once


def _refused(record):
    return all(a["status"] in (401, 403) for a in record["attempts"])


@pytest.mark.parametrize("platform", list(GROUPS))
def test_a_wrong_secret_a_stale_timestamp_or_a_replay_writes_nothing(world, platform):
    w = world
    wrong = {**SECRETS, **{k: v[:-2] + "xx" for k, v in SECRETS.items() if k.startswith(platform) and "aes" not in k}}
    forged = EventSource(w.url, secrets=wrong, sleep=lambda s: None, seed=2)
    record = forged.emit(platform, CHATS[platform], "join", {"id": "intruder", "name": "Mallory"})
    assert _refused(record), record["attempts"]
    if platform == "slack":
        assert len(record["attempts"]) == 1           # X-Slack-No-Retry: a forged request is not resent
    if platform != "telegram":                        # Telegram's requests carry no timestamp (EVENTS.md)
        stale = EventSource(w.url, secrets=SECRETS, clock=lambda: time.time() - 3600, sleep=lambda s: None, seed=3)
        assert _refused(stale.emit(platform, CHATS[platform], "join", {"id": "late", "name": "Late"}))
    assert inbox(w) == [] and w.state.known_events(["x"]) == set()
    good = w.source.emit(platform, CHATS[platform], "join", {"id": USERS[platform], "name": "王小明"})
    assert good["ok"] and len(inbox(w)) == 1
    again = w.source.replay(good)
    assert again["attempts"][0]["status"] == 200 and len(inbox(w)) == 1      # the same event id: kept once
    w.tick()
    assert len([m for m in w.emulator.messages if m["text"].startswith("Welcome")]) == 1
    assert not any(m.name == "Mallory" for m in w.wb().members.values())


def test_the_function_answers_in_time_while_the_store_is_slow(world, monkeypatch):
    """The inbox write is the only work on the request path: a store that takes 0.4 s a call and a sheet that
    would take 5 s still give Slack its answer within 1 s, once, with no retry."""
    w = world
    real = w.state

    class Slow:
        calls: list[str] = []

        def __getattr__(self, name):
            def call(*args, **kwargs):
                self.calls.append(name)
                time.sleep(0.4 if name == "put_events" else 5)
                return getattr(real, name)(*args, **kwargs)
            return call
    slow = Slow()
    w.main._CLIENTS["state"] = slow
    w.main._CLIENTS["store"] = Slow()                   # a sheet read on the request path would take 5 s
    started = time.monotonic()
    record = w.source.emit("slack", CHATS["slack"], "join", {"id": USERS["slack"], "name": "Ann"})
    assert time.monotonic() - started < 1.0 and record["attempts"][0]["elapsed"] < 1.0
    assert record["ok"] and len(record["attempts"]) == 1 and slow.calls == ["put_events"]
    assert [e["user_id"] for e in real.pending_events()] == [USERS["slack"]]


def test_slack_retries_a_late_or_failed_answer_and_the_retry_is_deduplicated(world, monkeypatch):
    w = world
    monkeypatch.setattr(events_out, "SLACK_DEADLINE", 0.3)
    real, paused = w.state, []
    w.source.sleep = paused.append

    class LateOnce:
        late = True

        def __getattr__(self, name):
            def call(*args, **kwargs):
                if self.late:
                    self.late = False
                    time.sleep(0.6)                    # the first answer comes after Slack gave up
                return getattr(real, name)(*args, **kwargs)
            return call
    w.main._CLIENTS["state"] = LateOnce()
    record = w.source.emit("slack", CHATS["slack"], "join", {"id": USERS["slack"], "name": "Ann"})
    assert [(a["retry"], a["status"], a["reason"]) for a in record["attempts"]] == [
        (0, None, "http_timeout"), (1, 200, "")]
    assert paused == [0.0] and len(real.pending_events()) == 1      # the late write and the retry: one event

    class Broken:
        def __getattr__(self, name):
            raise RuntimeError("Firestore unavailable")
    w.main._CLIENTS["state"] = Broken()
    record = w.source.emit("slack", CHATS["slack"], "leave", {"id": USERS["slack"]})
    assert [a["status"] for a in record["attempts"]] == [503] * 4 and paused[1:] == [0.0, 60.0, 300.0]
    assert not record["ok"]


def test_telegram_retries_a_non_2xx_answer_with_the_same_update(world):
    w = world
    real, failures = w.state, [2]

    class Flaky:
        def __getattr__(self, name):
            def call(*args, **kwargs):
                if failures[0]:
                    failures[0] -= 1
                    raise RuntimeError("store down")
                return getattr(real, name)(*args, **kwargs)
            return call
    w.main._CLIENTS["state"] = Flaky()
    record = w.source.emit("telegram", CHATS["telegram"], "message", {"id": OLD["telegram"]}, text="hi")
    assert [a["status"] for a in record["attempts"]] == [503, 503, 200] and record["ok"]
    assert [e["event_id"] for e in real.pending_events()] == [f"telegram:{record['event_id']}:0"]


def test_a_chat_no_group_claims_is_dropped_counted_and_reported_once(world):
    w = world
    for n in range(3):
        w.source.emit("slack", "C0STRANGER", "message", {"id": f"U0X{n}"}, text="hello")
    w.source.emit("slack", "C0STRANGER", "join", {"id": "U0X9", "name": "Zed"})
    w.tick()
    wb = w.wb()
    assert not any(m.platform_user_id == "U0X9" for m in wb.members.values()) and inbox(w) == []
    problems = [p for p in wb.previous_problems if "C0STRANGER" in p.message]
    assert len(problems) == 1 and "add its chat_id to Groups" in problems[0].message and "4 events" in problems[0].message
    w.tick()                                                     # still unclaimed: still one Problem, not one a tick
    assert len([p for p in w.wb().previous_problems if "C0STRANGER" in p.message]) == 1
    header = w.store.raw["Groups"][0]
    w.store.raw["Groups"][1][header.index("chat_id")] = "C0STRANGER"   # an operator claims it for G11
    w.tick()
    assert not [p for p in w.wb().previous_problems if "C0STRANGER" in p.message]


def test_telegram_reports_one_join_twice_and_it_is_one_member_and_one_welcome(world):
    """A bot that is an admin gets both the chat_member update and the new_chat_members service message."""
    w = world
    person = {"id": USERS["telegram"], "name": "Tg 新人", "username": "tgnew"}
    assert w.source.emit("telegram", CHATS["telegram"], "join", person)["ok"]
    assert w.source.emit("telegram", CHATS["telegram"], "join", person, service=True)["ok"]
    assert len(inbox(w)) == 2                                          # two updates, two ids
    w.tick()
    wb = w.wb()
    assert [m.name for m in wb.members.values() if m.platform_user_id == USERS["telegram"]] == ["Tg 新人"]
    assert len([m for m in w.emulator.messages if m["text"].startswith("Welcome")]) == 1
