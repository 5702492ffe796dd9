"""Customer-group send tasks (delivery/wecom_customer.py) through the emulator's strict customer-contact API over
real HTTP, the task records in a real SQLite state store, time moved by an injected clock: the owner confirms,
ignores (reminders, then cancelled), confirms late, or confirms after the cancel; quota; limits; paging."""
from __future__ import annotations

import pytest
import requests

from qunflow.delivery.wecom_customer import (AWAITING, FAILED, NOT_SENT, QUOTA, SENT, CustomerSend, TaskSender,
                                             plan_tasks)
from qunflow.delivery.wecom_token import WeComApi, WeComApp
from qunflow.emulator.server import Emulator
from qunflow.state.sqlite import SqliteState

# checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
CORP, SECRET = "ww1234567890abcdef", "customer-app-secret-0001"
T0 = 1_764_590_400.0            # 2025-12-01 20:00 Beijing
HOUR = 3600.0


class Clock:
    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def world(tmp_path):
    clock = Clock()
    with Emulator(clock=clock) as emu:
        emu.wecom_api.add_app(CORP, SECRET)
        groups = [{"chat_id": f"wrOwnerA{i:04d}", "owner": "alice"} for i in range(5)]
        groups += [{"chat_id": "wrOwnerB0001", "owner": "bob"}]
        requests.post(f"{emu.base_url}/_emulator/wecom/customer_groups", json=groups).raise_for_status()
        state = SqliteState(tmp_path / "state.sqlite")
        api = WeComApi(WeComApp(CORP, "secret:APP"), session=requests.Session(), state=state, base_url=emu.base_url,
                       clock=clock, resolve=lambda ref: SECRET, sleep=lambda s: None)
        sender = TaskSender(api, state, clock, remind_after=2 * HOUR, page=2)
        yield emu, state, clock, sender
        state.close()


def owner(emu, msgid, action="confirm"):
    return requests.post(f"{emu.base_url}/_emulator/wecom/owner", json={"msgid": msgid, "action": action})


def sends(chats, slot=T0, text="今晚 8 点新品上架", window=24 * HOUR, who="alice"):
    return [CustomerSend(f"R01:{c}:{int(slot)}", c, who, text, slot, window, group_id=c) for c in chats]


def one_task(sender, chats, **kw):
    tasks, refused = plan_tasks(sends(chats, **kw))
    assert not refused and len(tasks) == 1
    results = sender.create(tasks[0])
    assert {r.status for r in results} == {AWAITING}
    return results[0].msgid


def test_a_confirmed_task_is_sent_with_wecom_s_time_and_each_send_keeps_its_msgid(world):
    emu, state, clock, sender = world
    chats = [f"wrOwnerA{i:04d}" for i in range(5)]
    msgid = one_task(sender, chats)
    record = sender.records()[0]
    assert record["msgid"] == msgid and set(record["chats"]) == set(chats)        # msgid kept for every send
    assert {r.status for r in sender.poll()} == {AWAITING}
    clock.t += 30 * 60
    assert owner(emu, msgid).status_code == 200
    clock.t += 5 * 60
    done = sender.poll()
    assert {r.status for r in done} == {SENT} and {r.at for r in done} == {T0 + 30 * 60}
    assert sender.open_tasks() == [] and sender.poll() == []                    # closed: never asked again
    assert sender.calls.count("get_groupmsg_send_result") == 3                   # 5 chats, pages of 2
    assert len(emu.wecom_tasks.messages) == 5


def test_an_ignored_task_is_reminded_at_most_three_times_a_day_then_cancelled(world):
    emu, state, clock, sender = world
    msgid = one_task(sender, ["wrOwnerA0000"], window=30 * HOUR)
    owner(emu, msgid, "ignore")
    for _ in range(30):                       # hourly ticks for 30 hours
        clock.t += HOUR
        results = sender.poll()
        if results and results[0].status != AWAITING:
            break
    task = emu.wecom_tasks.tasks[msgid]
    assert [int((t - T0) / HOUR) for t in task["reminds"]] == [2, 4, 6, 26, 28]   # 3 in 24 h, then again
    assert results[0].status == NOT_SENT and "cancelled" in results[0].reason
    assert task["cancelled"] and clock.t == T0 + 30 * HOUR
    late = owner(emu, msgid)                  # the owner confirms after the cancel: nothing goes
    assert late.status_code == 409 and emu.wecom_tasks.messages == []
    assert sender.poll() == []


def test_confirming_late_before_the_cancel_is_sent(world):
    emu, state, clock, sender = world
    msgid = one_task(sender, ["wrOwnerA0001"], window=3 * HOUR)
    clock.t += 2.5 * HOUR
    assert sender.poll()[0].status == AWAITING
    clock.t += HOUR                           # the window has passed, but the owner confirms before the next poll
    owner(emu, msgid)
    result = sender.poll()[0]
    assert result.status == SENT and result.at == T0 + 3.5 * HOUR
    assert not emu.wecom_tasks.tasks[msgid]["cancelled"]


def test_the_emulator_refuses_a_sender_who_is_not_the_owner_and_the_limits(world):
    emu, state, clock, sender = world
    tasks, _ = plan_tasks(sends(["wrOwnerB0001"], who="alice"))
    result = sender.create(tasks[0])[0]
    assert result.status == FAILED and "not the owner" in result.reason and sender.records() == []
    api = sender.api
    from qunflow.delivery.wecom_token import WeComError
    for body, code in (({"chat_type": "group", "sender": "alice", "chat_id_list": ["wrOwnerA0000"],
                         "text": {"content": "字" * 1334}}, 45002),
                       ({"chat_type": "group", "sender": "alice", "chat_id_list": ["x"] * 2001,
                         "text": {"content": "hi"}}, 40058),
                       ({"chat_type": "single", "sender": "alice", "chat_id_list": ["wrOwnerA0000"],
                         "text": {"content": "hi"}}, 40058),
                       ({"chat_type": "group", "sender": "alice", "chat_id_list": ["wrOwnerA0000"],
                         "attachments": [{"msgtype": "link", "link": {"title": "t", "url": "https://x"}}] * 10}, 40058)):
        with pytest.raises(WeComError) as refused:
            api.post("/cgi-bin/externalcontact/add_msg_template", body)
        assert refused.value.errcode == code


def test_plan_tasks_one_per_owner_and_slot_chunks_of_2000_and_refuses_what_wecom_would():
    many = sends([f"wr{i:05d}" for i in range(4500)])
    tasks, refused = plan_tasks(many + sends(["wrB"], who="bob") + sends(["wrA2"], slot=T0 + HOUR))
    assert [len(t.chats) for t in tasks] == [2000, 2000, 500, 1, 1] and not refused
    assert tasks[0].body()["sender"] == "alice" and tasks[0].body()["chat_type"] == "group"
    tasks, refused = plan_tasks(sends(["wr1"], text="字" * 1334) + [CustomerSend("x", "wr2", "", "hi", T0, 60)])
    assert not tasks and [r.status for r in refused] == [FAILED, FAILED]
    assert "4002 bytes" in refused[0].reason and "owner" in refused[1].reason


def test_a_group_over_its_quota_when_the_owner_confirms_is_quota(world):
    emu, state, clock, sender = world
    requests.post(f"{emu.base_url}/_emulator/wecom/quota", json={"rule": "day"}).raise_for_status()
    first = one_task(sender, ["wrOwnerA0002"])
    second = one_task(sender, ["wrOwnerA0002", "wrOwnerA0003"], slot=T0 + 60)
    owner(emu, first)
    owner(emu, second)
    clock.t += 60
    by_send = {r.send_id: r.status for r in sender.poll()}
    assert by_send == {f"R01:wrOwnerA0002:{int(T0)}": SENT, f"R01:wrOwnerA0002:{int(T0) + 60}": QUOTA,
                       f"R01:wrOwnerA0003:{int(T0) + 60}": SENT}
    third = sender.create(plan_tasks(sends(["wrOwnerA0002"], slot=T0 + 120))[0][0])   # all at quota: 41048
    assert third[0].status == QUOTA


def test_the_tick_turns_60020_into_a_problem_naming_the_ip_and_creates_tasks_once_trusted(tmp_path):
    """run_tick on the customer-group demo workbook: with the trusted-IP switch on, the 20:00 sends fail and the
    Problems tab (zh-CN) names the IP to add; the next day, trusted, the tasks are created and awaiting the owner."""
    import random
    from datetime import datetime, timezone

    from qunflow.clock import VirtualClock
    from qunflow.delivery.secrets import SecretResolver
    from qunflow.jobs.demo_wecom import CORP, GROUPS, SECRET_NAME, _store
    from qunflow.jobs.tick import TickDeps, run_tick
    from qunflow.sheet.load import load_workbook
    start = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)           # 20:00 in Beijing
    clock = VirtualClock(start)
    with Emulator(clock=clock) as emu:
        emu.wecom_api.add_app(CORP, SECRET)
        emu.wecom_api.trusted_ip_only, emu.wecom_api.caller_ip = True, "198.51.100.77"
        requests.post(f"{emu.base_url}/_emulator/wecom/customer_groups",
                      json=[{"chat_id": g["chat_id"], "owner": g["owner"]} for g in GROUPS]).raise_for_status()
        store, state = _store(3), SqliteState(tmp_path / "s.sqlite")
        deps = TickDeps(session=requests.Session(), clock=clock, sleep=clock.sleep, rng=random.Random(1),
                        resolver=SecretResolver(env={SECRET_NAME: SECRET}), state=state, wecom_base=emu.base_url)
        report = run_tick(store, start, deps)
        assert report.failed == 3 and report.awaiting_confirmation == 0
        wb = load_workbook(store.raw)
        text = " ".join(str(c) for row in store.raw[wb.tables["problems"].title] for c in row)
        assert "198.51.100.77" in text and "企业可信IP" in text
        assert SECRET not in text and all(SECRET not in " ".join(map(str, row)) for t in store.raw.values() for row in t)
        emu.wecom_api.trusted_ip_only = False
        clock.set(start + timedelta_days(1))
        report = run_tick(store, start + timedelta_days(1), deps)
        assert report.awaiting_confirmation == 3       # the text names each group: one task per owner, slot and text
        assert sorted(t["sender"] for t in emu.wecom_tasks.tasks.values()) == ["lisi", "zhangsan", "zhangsan"]
        wb = load_workbook(store.raw)
        assert {r.status for r in wb.sendlog if r.scheduled_for and r.scheduled_for.day == 2} == {"awaiting_confirmation"}
        state.close()


def timedelta_days(n):
    from datetime import timedelta
    return timedelta(days=n)


def test_qunflow_demo_wecom_customer_prints_each_group_and_the_owners(tmp_path):
    from click.testing import CliRunner

    from qunflow.cli.app import cli
    result = CliRunner().invoke(cli, ["--lang", "en", "demo", "--wecom-customer", "--days", "3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "K01: sent" in result.output and "owners: confirmed" in result.output
    assert "differ from what the groups received: 0" in result.output
    assert (tmp_path / "qunflow-wecom-demo.xlsx").is_file()


def test_a_rule_s_catch_up_is_its_confirmation_window(tmp_path):
    import random
    from datetime import datetime, timedelta, timezone

    from qunflow.clock import VirtualClock
    from qunflow.delivery.secrets import SecretResolver
    from qunflow.jobs.demo_wecom import CORP, GROUPS, SECRET_NAME, _store
    from qunflow.jobs.tick import TickDeps, run_tick
    start = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)           # 20:00 in Beijing
    clock = VirtualClock(start)
    sop = [{"rule_id": "Q09", "groups": "K03", "schedule": "每天 20:00", "content": "今晚上新", "catch_up": "3h"}]
    with Emulator(clock=clock) as emu:
        emu.wecom_api.add_app(CORP, SECRET)
        requests.post(f"{emu.base_url}/_emulator/wecom/customer_groups",
                      json=[{"chat_id": g["chat_id"], "owner": g["owner"]} for g in GROUPS]).raise_for_status()
        store, state = _store(2, sop), SqliteState(tmp_path / "s.sqlite")
        deps = TickDeps(session=requests.Session(), clock=clock, sleep=clock.sleep, rng=random.Random(1),
                        resolver=SecretResolver(env={SECRET_NAME: SECRET}), state=state, wecom_base=emu.base_url)
        assert run_tick(store, start, deps).awaiting_confirmation == 1
        for hours in (1, 2, 3):
            clock.set(start + timedelta(hours=hours))
            run_tick(store, start + timedelta(hours=hours), deps)
        (task,) = emu.wecom_tasks.tasks.values()
        assert task["cancelled_at"] == start.timestamp() + 3 * 3600 and len(task["reminds"]) == 1   # at 2 h
        assert [s.status for s in state.sends()] == ["not_sent"]
        state.close()
