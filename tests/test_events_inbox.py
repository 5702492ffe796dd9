"""The inbox side of #19 without HTTP: what the events function keeps, and how the tick makes sense of it
(jobs/events_inbox.py); and the emulator's DingTalk crypto against the WECOM.md vector."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from helpers import make_raw
from qunflow.emulator import events_payloads as P
from qunflow.events.base import PlatformEvent
from qunflow.jobs.events_inbox import FORGOTTEN, INBOX_DAYS, TEXT_CAP, fold_platform, forget_old, keep
from qunflow.sheet.load import load_workbook
from qunflow.state.sqlite import SqliteState

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)       # 10:00 in Shanghai


def workbook():
    return load_workbook(make_raw({
        "settings": [{"key": "timezone", "value": "Asia/Shanghai"}],
        "groups": [
            {"group_id": "G01", "name": "A", "platform": "slack", "webhook": "env:QUNFLOW_X", "kind": "checkin",
             "chat_id": "C01"},
            {"group_id": "G02", "name": "B", "platform": "telegram", "webhook": "env:QUNFLOW_Y", "kind": "traffic",
             "chat_id": "C01"},
        ],
        "members": [{"member_id": "U9", "name": "Taken", "group_id": "G01", "platform_user_id": "someone-else"},
                    {"member_id": "M1", "name": "Lin", "group_id": "G01", "platform_user_id": "U1"}],
    }))


def ev(n, kind, user, chat="C01", platform="slack", text="", name=""):
    return PlatformEvent(platform, f"{platform}:{n}", kind, chat, user, user_name=name, at=NOW, text=text)


def test_the_request_path_keeps_plain_values_once_and_a_message_text_only_cut(tmp_path):
    state = SqliteState(tmp_path / "s.sqlite")
    long = "打卡 " + "很长的消息" * 100
    assert keep(state, [ev(1, "join", "U2", name="Ann"), ev(2, "message", "U1", text=long)], NOW.timestamp()) == 2
    assert keep(state, [ev(1, "join", "U2", name="Ann")], NOW.timestamp()) == 0          # a retry: kept once
    kept = state.pending_events()
    assert kept[0] == {"event_id": "slack:1", "platform": "slack", "type": "join", "chat_id": "C01", "user_id": "U2",
                       "user_name": "Ann", "at": "2026-12-01T02:00:00.000000Z"}
    assert kept[1]["text"] == long[:TEXT_CAP] and "text" not in kept[0]


def test_the_fold_makes_rows_of_joins_leaves_check_ins_and_activity_of_messages(tmp_path):
    state, wb = SqliteState(tmp_path / "s.sqlite"), workbook()
    events = [ev(1, "join", "U9", name="New"), ev(2, "leave", "stranger"), ev(3, "message", "stranger", text="hi"),
              ev(4, "message", "U1", text="早上好"), ev(5, "message", "U1", text="今天打卡啦"),
              ev(6, "join", "U7", chat="C01", platform="telegram", name="Tg"), ev(7, "leave", "U1")]
    keep(state, events, NOW.timestamp())
    rows, dropped = fold_platform(state, wb, state.pending_events(), NOW)
    assert [(r["type"], r["member_id"], r["group_id"]) for r in rows] == [
        ("join", "slack:U9", "G01"),          # U9 is already someone's member id: the platform's prefix keeps them apart
        ("checkin", "M1", "G01"),             # 打卡 in a checkin group: a row, with no text
        ("join", "U7", "G02"),                # the same chat id on another platform: that platform's group
        ("leave", "M1", "G01")]
    assert rows[0]["detail"] == "name=New; user=U9" and rows[0]["at"] == "2026-12-01 10:00:00+08:00"
    assert not any("打卡" in str(v) for r in rows for v in r.values())
    assert dropped == ["slack:2", "slack:3"]                              # people qunflow does not know
    assert [(a.key, a.day, a.messages) for a in state.activity()] == [("M1@G01", "2026-12-01", 1)]
    assert {e["event_id"] for e in state.pending_events()} == {"slack:1", "slack:2", "slack:3", "slack:5",
                                                               "telegram:6", "slack:7"}   # the counted one folded


def test_the_inbox_forgets_old_folded_events_once_a_day(tmp_path):
    state = SqliteState(tmp_path / "s.sqlite")
    keep(state, [ev(1, "join", "U2"), ev(2, "message", "U1", text="hi")], NOW.timestamp())
    state.mark_folded(["slack:1", "slack:2"])
    later = NOW + timedelta(days=INBOX_DAYS, minutes=1)
    keep(state, [ev(3, "message", "U1", text="new")], later.timestamp())
    assert forget_old(state, NOW) == 0 and state.cursor(FORGOTTEN) == "2026-12-01"     # nothing old enough yet
    assert forget_old(state, later) == 2                                                 # a new day: the old ones go
    assert state.known_events(["slack:1", "slack:2", "slack:3"]) == {"slack:3"}
    keep(state, [ev(4, "join", "U4")], NOW.timestamp())                                  # dated long ago, folded
    state.mark_folded(["slack:4"])
    assert forget_old(state, later + timedelta(hours=1)) == 0                            # the same day: not again
    assert forget_old(state, later + timedelta(days=1)) == 1


def test_the_emulators_dingtalk_crypto_meets_the_wecom_vector():
    key, corp = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "ww1234567890abcdef"
    encrypted = P.wx_encrypt(key, corp, b"echo-4242", b"0123456789abcdef")
    # checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
    assert encrypted == "Q3stYC6hdFzMh9T8HCvyDAONkKNN/4m6yqKdl3PuX2Q8jIgyWGAmEU4EE32tVqtB5xeiTMhJAluLvv/UBfC5xg=="
    assert P.wx_signature("QunflowToken1", "1764590400", "1372623149", encrypted) == \
        "904fda282e6374492810214b5bc9738cd4ceaaaa"
    assert P.wx_decrypt(key, encrypted) == (b"echo-4242", corp)
