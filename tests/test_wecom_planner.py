"""The planner's side of WeCom customer groups (#20 item 4; engine/customer.py): the `入群时` rule becomes ONE group-send
task per slot that names nobody (never a per-member copy: each copy would be a task to the whole group), personal
coupons as a link carrying the member id (Settings coupon_link_base; empty: the rule is skipped with a Problem at its
SOP cell), and the lottery and daily report refusing a customer group in plain words. Through run_tick, the emulator's
customer-contact API over real HTTP, a real SQLite state store, an injected clock."""
from __future__ import annotations

import random
import re
from datetime import date, datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from qunflow.clock import VirtualClock
from qunflow.delivery.secrets import SecretResolver
from qunflow.emulator.server import Emulator
from qunflow.jobs.demo_wecom import CORP, GROUPS, SECRET_NAME
from qunflow.jobs.tick import TickDeps, run_tick
from qunflow.sheet.load import load_workbook
from qunflow.state.sqlite import SqliteState
from qunflow.stores.memory import MemoryStore

# checkov:skip=CKV_SECRET_6: a made-up test key or a published test vector for the emulator, not a real secret
SECRET = "customer-app-secret-0002"
START = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)          # 20:00 in Beijing
LINK = "https://shop.example.cn/coupon?src=wecom"
MEMBERS = [  # K01's joiners of 19:50: one with a WeCom id (from the sync), two without
    {"member_id": "M101", "name": "小林", "group_id": "K01", "joined_at": "2026-12-01 19:50", "platform_user_id": "wmAAA01"},
    {"member_id": "M102", "name": "阿青", "group_id": "K01", "joined_at": "2026-12-01 19:51"},
    {"member_id": "M103", "name": "大雄", "group_id": "K01", "joined_at": "2026-12-01 19:52"},
]
COUPONS = [{"code": f"WEL-000{i}", "campaign": "welcome", "kind": "welcome", "status": "available"} for i in (1, 2, 3)]
WELCOME = {"rule_id": "Q10", "groups": "K01", "schedule": "入群时", "mention": "new", "coupon": "welcome",
           "coupon_display": "full", "content": "欢迎 {{ mentions }} 加入！{{ member_names }} 新人券：{{ coupon }}"}


def _store(sop: list, settings: list | None = None, members=MEMBERS, coupons=COUPONS, lang: str = "zh-CN") -> MemoryStore:
    from qunflow.jobs.demo_wecom import _rows
    from qunflow.jobs.initbook import settings_in
    from qunflow.sheet.layout import workbook_layout
    rows = _rows(3, sop)
    rows["settings"] = settings_in(lang, [r for r in rows["settings"] if r["key"] != "language"] + (settings or []))
    rows["members"], rows["coupons"] = members, coupons
    raw = {}
    for layout in workbook_layout(lang):
        raw[layout.title] = [layout.header] + [[c.value(r.get(c.key), lang) for c in layout.columns]
                                               for r in rows.get(layout.key, [])]
    return MemoryStore(raw)


@pytest.fixture
def world(tmp_path):
    clock = VirtualClock(START)
    with Emulator(clock=clock) as emu:
        emu.wecom_api.add_app(CORP, SECRET)
        requests.post(f"{emu.base_url}/_emulator/wecom/customer_groups",
                      json=[{"chat_id": g["chat_id"], "owner": g["owner"]} for g in GROUPS]).raise_for_status()
        state = SqliteState(tmp_path / "state.sqlite")
        deps = TickDeps(session=requests.Session(), clock=clock, sleep=clock.sleep, rng=random.Random(1),
                        resolver=SecretResolver(env={SECRET_NAME: SECRET}), state=state, wecom_base=emu.base_url)
        yield emu, state, deps
        state.close()


def _cells(store: MemoryStore, key: str) -> list[list[str]]:
    wb = load_workbook(store.raw)
    return [[str(c) for c in row] for row in store.raw[wb.tables[key].title]]


def test_on_join_in_a_customer_group_is_one_task_for_the_slot_s_joiners_naming_nobody_with_coupon_links(world):
    emu, state, deps = world
    store = _store([WELCOME], [{"key": "coupon_link_base", "value": LINK}])
    report = run_tick(store, START, deps)
    tasks = list(emu.wecom_tasks.tasks.values())
    assert len(tasks) == 1 and report.awaiting_confirmation == 1          # one task, never one per member
    (task,) = tasks
    assert task["chats"] == ["wrDemoChat0001"] and task["sender"] == "zhangsan"
    text = task["text"]
    for name in ("小林", "阿青", "大雄", "@"):                              # names nobody
        assert name not in text, text
    assert "WEL-000" not in text                                          # no code in the group
    (url,) = re.findall(r"https://\S+", text)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://shop.example.cn/coupon?") and query["src"] == ["wecom"]
    assert sorted(query["member"]) == ["M101", "M102", "M103"]           # each member finds their own
    sends = {s.send_id: s.status for s in state.sends()}
    assert len(sends) == 3 and set(sends.values()) == {"awaiting_confirmation"}      # the task covers each joiner
    (record,) = [r for r in state.cached_under("wecom_task:", deps.clock()).values()]
    assert all(sid in record for sid in sends)
    wb = load_workbook(store.raw)                     # the codes are bound now: the page can show them once confirmed
    assert {c.code: c.member_id for c in wb.coupons.values()} == {"WEL-0001": "M101", "WEL-0002": "M102",
                                                                  "WEL-0003": "M103"}
    assert {c.status for c in wb.coupons.values()} == {"issued"}


def test_on_join_without_a_coupon_names_nobody_even_members_without_a_wecom_id(world):
    emu, state, deps = world
    rule = {"rule_id": "Q11", "groups": "K01", "schedule": "入群时", "mention": "new",
            "content": "欢迎 {{ mentions }} {{ member_names }} 新朋友！群公告里有本周活动。"}
    run_tick(store := _store([rule]), START, deps)
    (task,) = emu.wecom_tasks.tasks.values()
    assert "@" not in task["text"] and "阿青" not in task["text"] and "群公告里有本周活动" in task["text"]
    assert len(state.sends()) == 3
    later = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)             # the next tick: nothing again
    deps.clock.set(later)
    run_tick(store, later, deps)
    assert len(emu.wecom_tasks.tasks) == 1


def test_an_on_join_batch_the_quota_deferred_comes_back_as_one_task_naming_nobody(world):
    emu, state, deps = world
    daily = {"rule_id": "Q01", "groups": "K01", "schedule": "每天 19:00", "content": "今晚 8 点上新", "until": "2026-12-01"}
    store = _store([daily, WELCOME], [{"key": "coupon_link_base", "value": LINK}, {"key": "wecom_quota", "value": "day"}])
    seven = datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc)            # 19:00 in Beijing: Q01 uses the day's one
    deps.clock.set(seven)
    assert run_tick(store, seven, deps).awaiting_confirmation == 1
    deps.clock.set(START)
    report = run_tick(store, START, deps)                                 # 20:00: the joins of 19:50 wait a day
    assert report.awaiting_confirmation == 0 and report.deferred == 1
    assert {s.status for s in state.sends() if s.rule_id == "Q10"} == {"deferred"}
    day2 = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    deps.clock.set(day2)
    run_tick(store, day2, deps)
    texts = [t["text"] for t in emu.wecom_tasks.tasks.values()]
    assert len(texts) == 2 and "member=M101&member=M102&member=M103" in texts[1] and "小林" not in texts[1]
    assert {s.status for s in state.sends() if s.rule_id == "Q10"} == {"awaiting_confirmation"}


def test_a_streak_that_differs_is_still_one_task_in_a_customer_group():
    """engine/permember.py splits a post whose members' own values differ; for a customer group it never does."""
    from qunflow.engine.audience import Audience
    from qunflow.engine.ledger import Ledger
    from qunflow.engine.permember import per_member
    from qunflow.engine.planned import PlannedSend
    store = _store([{**WELCOME, "content": "连续打卡 {{ streak }} 天", "coupon": "", "coupon_display": ""}])
    wb = load_workbook(store.raw)
    rule, group = wb.sop[0], wb.groups["K01"]
    members = [m for m in wb.members.values() if m.group_id == "K01"]
    p = PlannedSend("Q10:K01:20261201T1200Z:batch", rule, group, START, START, members=members,
                    member_send_ids={m.member_id: f"Q10:K01:x:{m.member_id}" for m in members},
                    audience=Audience(members=members, streaks={"M101": 1, "M102": 5, "M103": 9}))
    out = per_member([p], wb, Ledger(), False, lambda at, g: None)
    assert [q.send_id for q in out] == [p.send_id]


@pytest.mark.parametrize("lang, words", [("zh-CN", ("coupon_link_base", "领券页地址")), ("en", ("coupon_link_base", "link"))])
def test_without_coupon_link_base_the_rule_is_skipped_with_a_problem_at_its_sop_cell(world, lang, words):
    emu, state, deps = world
    store = _store([{**WELCOME, "coupon_display": ""}], lang=lang)
    report = run_tick(store, START, deps)
    assert emu.wecom_tasks.tasks == {} and report.awaiting_confirmation == 0     # no task, no code anywhere
    wb = load_workbook(store.raw)
    sop = wb.tables["sop"]
    problems = [p for p in wb.previous_problems if p.tab == sop.title]
    assert len(problems) == 1, problems
    assert problems[0].row == wb.sop[0].row and problems[0].column == sop.header_of("content", lang)
    assert all(w in problems[0].message for w in words), problems[0].message
    assert {s.status for s in state.sends()} == {"skipped"}
    assert all(c.member_id is None for c in wb.coupons.values())
    log = " ".join(" ".join(r) for r in _cells(store, "sendlog"))
    assert "coupon_link_base" in log and ("领券页" in log if lang == "zh-CN" else "coupon page" in log)
    if lang == "zh-CN":                                # everything qunflow wrote is in zh-CN
        from test_zh_workbook import scan
        mine = {wb.tables[k].title for k in ("sop", "sendlog", "problems", "coupons", "members")}
        assert scan({t: rows for t, rows in store.raw.items() if t in mine}, written_only=True) == []


def test_the_lottery_refuses_to_post_to_a_customer_group_in_plain_words():
    from qunflow.jobs.errors import Refused
    from qunflow.jobs.lottery_draw import run_draw
    store = _store([], members=[{**m, "joined_at": "2026-11-01 10:00"} for m in MEMBERS])
    with pytest.raises(Refused) as refused:
        run_draw(store, "K01", START, prize=None, winners=1, among=None, seed="s", post=True, dry_run=False)
    assert "企业微信客户群" in str(refused.value) and "K01" in str(refused.value) and "--post" in str(refused.value)
    drawn = run_draw(store, "K01", START, prize=None, winners=1, among=None, seed="s", post=False, dry_run=True)
    from qunflow.jobs.lottery_draw import post_result
    with pytest.raises(Refused) as refused:                         # a Drawn for a customer group, posted anyway
        post_result(drawn, session=requests.Session(), clock=lambda: 0.0, sleep=lambda s: None)
    assert "企业微信客户群" in str(refused.value)


def test_the_daily_report_refuses_a_customer_ops_group_in_plain_words():
    from qunflow.jobs.report_post import post_daily_report
    store = _store([], [{"key": "ops_group", "value": "K01"}])
    wb = load_workbook(store.raw)
    posted = post_daily_report(wb, date(2026, 12, 1), "**日报**", session=requests.Session(), clock=lambda: 0.0,
                               sleep=lambda s: None, resolver=SecretResolver(env={SECRET_NAME: SECRET}))
    assert posted.status == "skipped" and "K01" in posted.reason and "wecom-customer" in posted.reason
    assert SECRET not in posted.reason
    from qunflow.sheet.vocabulary import say_reason
    assert "企业微信客户群" in say_reason(posted.reason, "zh-CN")         # the SendLog says it in the operator's words
