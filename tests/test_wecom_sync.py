"""WeCom customer-group members (jobs/wecom_sync.py) against the emulator's groupchat list/get over real HTTP
(emulator/wecom_groups.py, written from WECOM.md), a real SQLite state store, and the real `events` function
(functions-framework on 127.0.0.1) receiving the emulator's encrypted change_external_chat callbacks: a changed
groupchat/get becomes joins and leaves; lost and out-of-order callbacks still end in the right membership."""
from __future__ import annotations

import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import functions_framework
import pytest
import requests
from werkzeug.serving import make_server

from helpers import make_raw
from qunflow.delivery.secrets import SecretResolver
from qunflow.delivery.wecom_token import WeComApi, WeComApp
from qunflow.emulator.server import Emulator
from qunflow.jobs import wecom_sync
from qunflow.jobs.tick import TickDeps, run_tick
from qunflow.jobs.wecom_sync import MEMBERS, hinted, known, note_hints, run_job, run_sync
from qunflow.sheet.load import load_workbook
from qunflow.state.sqlite import SqliteState
from qunflow.stores.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[1]
# checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
CORP, SECRET = "ww1234567890abcdef", "app-secret-for-sync-0001"
TOKEN, AES = "QunflowToken1", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OWNER, STAFF, CHAT = "zhangsan", "lisi", "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"


class Clock:
    def __init__(self):
        self.t = float(int(time.time()))     # the events function checks freshness on the real clock

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def world(tmp_path, monkeypatch):
    state_path = tmp_path / "state.sqlite"
    monkeypatch.setenv("QUNFLOW_STATE", str(state_path))
    for name, value in {"WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES, "WECOM_CORP_ID": CORP}.items():
        monkeypatch.setenv(f"QUNFLOW_{name}", value)
    app = functions_framework.create_app("events", str(ROOT / "functions" / "main.py"))
    sys.modules["main"]._CLIENTS.clear()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    clock = Clock()
    emu = Emulator(clock=clock)
    emu.start()
    emu.wecom_api.add_app(CORP, SECRET)
    groups = emu.wecom_groups
    groups.callback = {"url": f"http://127.0.0.1:{server.server_port}/wecom", "token": TOKEN, "aes_key": AES,
                       "corp_id": CORP}
    groups.add_chat(CHAT, OWNER, "衣橱小馆 VIP", [
        {"userid": "wmAnn", "type": 2, "join_time": int(clock.t) - 86400, "join_scene": 3},
        {"userid": "wmBob", "type": 2, "join_time": int(clock.t) - 3600, "join_scene": 1, "invitor": STAFF},
        {"userid": STAFF, "type": 1, "join_time": int(clock.t) - 90000, "join_scene": 1}])
    state = SqliteState(state_path)
    api = WeComApi(WeComApp(CORP, "env:SECRET"), session=requests.Session(), state=state, base_url=emu.base_url,
                   clock=clock, resolve=lambda ref: SECRET, sleep=lambda s: None)
    w = type("World", (), {})()
    w.url = f"http://127.0.0.1:{server.server_port}"
    w.emu, w.groups, w.state, w.api, w.clock = emu, groups, state, api, clock
    w.now = lambda: datetime.fromtimestamp(clock.t, timezone.utc)
    yield w
    state.close()
    emu.stop()
    server.shutdown()
    sys.modules["main"]._CLIENTS.clear()


def members(w) -> set[str]:
    return set((known(w.state, CHAT, w.clock.t) or {}).get("members", {}))


def inbox(w) -> list[dict]:
    return w.state.pending_events()


def sync(w, **kw):
    return run_sync(w.api, w.state, w.now(), owners=[OWNER], **kw)


def test_a_first_sync_takes_the_members_with_their_real_join_time_scene_and_invitor(world):
    w = world
    report = sync(w)
    assert report.chats == 1 and report.joins == 2 and report.leaves == 0 and not report.errors
    assert members(w) == {"wmAnn", "wmBob"}                        # external members only, not the staff
    rows = {e["user_id"]: e for e in inbox(w)}
    assert rows["wmBob"]["inviter_id"] == STAFF and rows["wmBob"]["platform"] == "wecom-customer"
    assert rows["wmBob"]["chat_id"] == CHAT and rows["wmBob"]["type"] == "join"
    bob_joined = datetime.fromtimestamp(int(w.clock.t) - 3600, timezone.utc)
    assert rows["wmBob"]["at"].startswith(bob_joined.strftime("%Y-%m-%dT%H:%M:%S"))
    assert rows["wmAnn"]["detail"] == "join_scene=qr" and "inviter_id" not in rows["wmAnn"]
    again = sync(w)                                                # nothing changed: nothing new
    assert again.joins == again.leaves == again.kept == 0


def test_a_changed_groupchat_get_gives_the_joins_and_leaves(world):
    w = world
    sync(w)
    w.groups.mode = "lose"                                          # no callbacks at all: only the walk
    w.clock.t += 60
    w.groups.join(CHAT, {"userid": "wmCat", "type": 2, "join_scene": 2})
    w.groups.leave(CHAT, "wmAnn")
    w.clock.t += 60
    report = sync(w)
    assert (report.joins, report.leaves) == (1, 1)
    assert members(w) == {"wmBob", "wmCat"}
    kinds = {(e["type"], e["user_id"]) for e in inbox(w)}
    assert {("join", "wmCat"), ("leave", "wmAnn")} <= kinds


def test_lost_callbacks_end_in_the_right_membership_at_the_hourly_walk(world):
    w = world
    sync(w)
    w.groups.mode = "lose"
    w.clock.t += 10
    w.groups.leave(CHAT, "wmBob")
    w.clock.t += 10
    w.groups.join(CHAT, {"userid": "wmBob", "type": 2, "join_scene": 3})     # came back: a new join_time
    w.clock.t += 10
    assert run_sync(w.api, w.state, w.now(), hinted_only=True).chats == 0     # no hint ever came
    report = sync(w)
    assert (report.joins, report.leaves) == (1, 1)
    ids = [e["event_id"] for e in inbox(w) if e["user_id"] == "wmBob"]
    assert ids[-2].endswith(f":leave:{int(w.clock.t) - 30 - 3600}") and ":join:" in ids[-1]
    assert members(w) == {"wmAnn", "wmBob"}


def test_out_of_order_callbacks_are_hints_and_the_sync_ends_where_wecom_is(world):
    w = world
    sync(w)
    w.groups.mode = "hold"
    w.clock.t += 5
    w.groups.join(CHAT, {"userid": "wmDan", "type": 2})
    w.clock.t += 5
    w.groups.leave(CHAT, "wmDan")
    w.clock.t += 5
    w.groups.join(CHAT, {"userid": "wmEve", "type": 2})
    delivered = w.groups.release()                                  # newest first, through the events function
    assert [d["acknowledged"] for d in delivered] == [True, True, True]
    assert list(hinted(w.state, w.clock.t, due_only=False)) == [CHAT]           # one hint for the chat
    w.clock.t = time.time()                                         # the events function's clock is the real one
    assert run_sync(w.api, w.state, w.now(), hinted_only=True).chats == 0       # not due yet (the ~2 s lag)
    w.clock.t = time.time() + 30
    report = run_sync(w.api, w.state, w.now(), hinted_only=True)
    assert report.chats == 1 and (report.joins, report.leaves) == (1, 0)
    assert members(w) == {"wmAnn", "wmBob", "wmEve"}
    assert hinted(w.state, w.clock.t, due_only=False) == {}                     # the hint is done


def test_the_emulator_retries_an_unanswered_callback_and_retries_make_one_hint(world):
    w = world
    answers = iter([500, 500, 200])
    seen = []

    def app(environ, start_response):
        seen.append(environ["QUERY_STRING"])
        status = next(answers)
        start_response(f"{status} X", [("Content-Type", "text/plain")])
        return [b""]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        w.groups.callback = {**w.groups.callback, "url": f"http://127.0.0.1:{server.server_port}/wecom"}
        record = w.groups.join(CHAT, {"userid": "wmFay", "type": 2})
    finally:
        server.shutdown()
    assert [a["status"] for a in record["attempts"]] == [500, 500, 200] and record["acknowledged"]
    assert len(seen) == 3 and all("msg_signature=" in q for q in seen)
    assert note_hints(w.state, [CHAT], w.clock.t) == 1
    assert note_hints(w.state, [CHAT, CHAT], w.clock.t + 1) == 0                # WeCom's retries: one hint


def test_lag_a_read_right_after_a_change_is_stale_and_the_next_walk_catches_it(world):
    w = world
    sync(w)
    w.groups.mode, w.groups.lag = "lose", 2.0
    w.groups.join(CHAT, {"userid": "wmGus", "type": 2})
    assert sync(w).joins == 0                                       # WeCom has not caught up yet
    w.clock.t += 3
    assert sync(w).joins == 1 and "wmGus" in members(w)


def test_list_pages_with_the_cursor_and_an_unknown_chat_is_reported(world, monkeypatch):
    w = world
    for n in range(4):
        w.groups.add_chat(f"wrExtra{n}", OWNER, members=[{"userid": f"wmX{n}", "type": 2}])
    w.groups.add_chat("wrOther", "wangwu", members=[{"userid": "wmY", "type": 2}])
    monkeypatch.setattr(wecom_sync, "PAGE", 2)
    report = run_sync(w.api, w.state, w.now(), owners=[OWNER], chat_ids=["wrGone"])
    assert report.chats == 5 and "wrGone" in report.errors and "wrOther" not in str(report.as_json())
    assert w.emu.wecom_api.calls["/cgi-bin/externalcontact/groupchat/list"] == 3
    assert w.state.cached(MEMBERS + "wrOther", w.clock.t) is None


def test_the_job_reads_the_workbook_and_the_tick_makes_members_with_their_referral(world):
    """Groups (wecom-customer, owner, chat_id) → the sync job → the inbox → the tick's fold → the Members tab."""
    w = world
    store = MemoryStore(make_raw({
        "settings": [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "en"},
                     {"key": "wecom_corp_id", "value": CORP}],
        "groups": [{"group_id": "G01", "name": "VIP", "platform": "wecom-customer", "kind": "traffic",
                    "webhook": "env:QUNFLOW_WECOM_APP", "owner": OWNER, "chat_id": CHAT}],
        "members": [{"member_id": "S-lisi", "name": "Li Si (staff)", "group_id": "G01", "platform_user_id": STAFF,
                     "joined_at": "2026-11-01 10:00"}]}))
    resolver = SecretResolver(env={"QUNFLOW_WECOM_APP": SECRET})
    env = {"QUNFLOW_WECOM_API": w.emu.base_url}

    def tick():
        deps = TickDeps(session=requests.Session(), clock=w.clock, sleep=lambda s: None, resolver=resolver,
                        state=w.state, wecom_base=w.emu.base_url)
        return run_tick(store, w.now(), deps)
    w.groups.add_chat("wrNotInGroups", OWNER, members=[{"userid": "wmZed", "type": 2}])
    report = run_job(store, w.state, requests.Session(), w.now(), env=env, resolver=resolver)
    assert (report.chats, report.joins) == (1, 2) and not report.errors
    assert report.unclaimed == ["wrNotInGroups"] and known(w.state, "wrNotInGroups", w.clock.t) is None
    tick()
    wb = load_workbook(store.raw)
    by_user = {m.platform_user_id: m for m in wb.members.values()}
    assert {"wmAnn", "wmBob"} <= set(by_user) and by_user["wmBob"].group_id == "G01"
    local = datetime.fromtimestamp(int(w.clock.t) - 3600, timezone.utc).astimezone(wb.settings.timezone)
    assert by_user["wmBob"].joined_at == local.replace(tzinfo=None)
    assert by_user["wmBob"].referred_by == "S-lisi"                 # the invitor, a member: the referral
    w.groups.mode = "lose"
    w.clock.t += 120
    w.groups.leave(CHAT, "wmAnn")
    w.clock.t += 60
    assert run_job(store, w.state, requests.Session(), w.now(), env=env, resolver=resolver).leaves == 1
    assert run_job(store, w.state, requests.Session(), w.now(), env=env, resolver=resolver, hinted_only=True).chats == 0
    tick()
    ann = next(m for m in load_workbook(store.raw).members.values() if m.platform_user_id == "wmAnn")
    assert ann.status == "left" and ann.left_at is not None


def test_the_events_function_answers_the_url_check_with_the_plain_echostr_within_a_second(world):
    query = {"msg_signature": "904fda282e6374492810214b5bc9738cd4ceaaaa", "timestamp": "1764590400",
             "nonce": "1372623149",
             # checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
             "echostr": "Q3stYC6hdFzMh9T8HCvyDAONkKNN/4m6yqKdl3PuX2Q8jIgyWGAmEU4EE32tVqtB5xeiTMhJAluLvv/UBfC5xg=="}
    started = time.monotonic()
    reply = requests.get(world.url + "/wecom", params=query, timeout=5)
    elapsed = time.monotonic() - started
    assert reply.status_code == 200 and reply.content == b"echo-4242" and elapsed < 1.0
    bad = requests.get(world.url + "/wecom", params={**query, "msg_signature": "0" * 40}, timeout=5)
    assert bad.status_code == 401 and b"echo-4242" not in bad.content
