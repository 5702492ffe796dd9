"""A workbook planted with operator mistakes: exactly one Problem each, at the right cell, no traceback."""
from __future__ import annotations

import copy
from collections import Counter
from datetime import date

import pytest

from helpers import BASE, make_raw, write_xlsx
from qunflow.stores.xlsx import XlsxStore
from qunflow.sheet.load import load_workbook

TODAY = date(2026, 11, 24)

# (tab key, row dict to add, column key with the mistake, the problem code expected)
MISTAKES = [
    ("groups", {"group_id": "G10", "name": "x", "platform": "wechat", "webhook": "env:QUNFLOW_H", "kind": "traffic"}, "platform", "bad_enum"),
    ("groups", {"group_id": "", "name": "no id", "platform": "wecom", "webhook": "env:QUNFLOW_H", "kind": "traffic"}, "group_id", "required"),
    ("groups", {"group_id": "G01", "name": "dup", "platform": "wecom", "webhook": "env:QUNFLOW_H", "kind": "traffic"}, "group_id", "duplicate"),
    ("groups", {"group_id": "G11", "name": "x", "platform": "wecom", "webhook": "my robot", "kind": "traffic"}, "webhook", "bad_webhook"),
    ("groups", {"group_id": "G12", "name": "x", "platform": "wecom", "webhook": "env:QUNFLOW_H", "kind": "traffic", "timezone": "Beijing"}, "timezone", "bad_timezone"),
    ("groups", {"group_id": "G13", "name": "x", "platform": "wecom", "webhook": "env:QUNFLOW_H", "kind": "traffic", "campaign_start": "2026-02-30"}, "campaign_start", "impossible_date"),
    ("groups", {"group_id": "G14", "name": "x", "platform": "wecom", "webhook": "env:QUNFLOW_H", "kind": "traffic", "quiet_hours": "late night"}, "quiet_hours", "bad_time_range"),
    ("groups", {"group_id": "G15", "name": "x", "platform": "wecom", "webhook": "env:QUNFLOW_H", "kind": "traffic", "daily_cap": "ten"}, "daily_cap", "bad_int"),
    ("groups", {"group_id": "G16", "name": "x", "platform": "wecom", "webhook": "env:QUNFLOW_H", "kind": "traffic", "enabled": "maybe"}, "enabled", "bad_bool"),
    ("groups", {"group_id": "G17", "name": "x", "platform": "wecom", "webhook": "env:QUNFLOW_H", "kind": "vip"}, "kind", "bad_enum"),
    ("members", {"member_id": "M0100", "name": "a", "group_id": "G99"}, "group_id", "unknown_ref"),
    ("members", {"member_id": "M0101", "name": "b", "group_id": "G01", "mobile": "1.38E+10"}, "mobile", "lost_digits"),
    ("members", {"member_id": "M0102", "name": "c", "group_id": "G01", "mobile": "call me"}, "mobile", "bad_phone"),
    ("members", {"member_id": "M0103", "name": "d", "group_id": "G01", "joined_at": "yesterday"}, "joined_at", "bad_datetime"),
    ("members", {"member_id": "M0104", "name": "e", "group_id": "G01", "status": "vip"}, "status", "bad_enum"),
    ("members", {"member_id": "M0001", "name": "dup", "group_id": "G01"}, "member_id", "duplicate_membership"),
    ("members", {"member_id": "M0105", "name": "", "group_id": "G01"}, "name", "required"),
    ("members", {"member_id": "M0106", "name": "f", "group_id": "G01", "referred_by": "M9999"}, "referred_by", "unknown_ref"),
    ("coupons", {"code": "C1", "campaign": "x", "kind": "welcome", "value": "fifty"}, "value", "bad_decimal"),
    ("coupons", {"code": "C2", "campaign": "x", "kind": "gift"}, "kind", "bad_enum"),
    ("coupons", {"code": "C3", "campaign": "x", "kind": "welcome", "expires_at": "2026-13-01 10:00"}, "expires_at", "impossible_date"),
    ("coupons", {"code": "C4", "campaign": "x", "kind": "welcome", "issued_at": "2026-12-01 25:00"}, "issued_at", "bad_datetime"),
    ("templates", {"name": "t1", "content": "Hi {{ group_name"}, "content", "bad_template"),
    ("templates", {"name": "t2", "content": "{{ ''.__class__.__mro__ }}"}, "content", "unsafe_template"),
    ("templates", {"name": "t3", "content": "Hi {{ customer }}"}, "content", "bad_template"),
    ("sop", {"rule_id": "S1", "groups": "G01", "schedule": "whenever you like", "content": "x"}, "schedule", "bad_schedule"),
    ("sop", {"rule_id": "S2", "groups": "G01", "schedule": "2026-04-31 10:00", "content": "x"}, "schedule", "impossible_date"),
    ("sop", {"rule_id": "S3", "groups": "G77", "schedule": "daily 20:00", "content": "x"}, "groups", "bad_group_target"),
    ("sop", {"rule_id": "S4", "groups": "G01", "schedule": "daily 20:00", "content": "x", "mention": "everyone!"}, "mention", "bad_mention"),
    ("sop", {"rule_id": "S5", "groups": "G01", "schedule": "daily 20:00", "content": "template:nosuch"}, "content", "unknown_template"),
    ("sop", {"rule_id": "S6", "groups": "G01", "schedule": "daily 20:00", "content": "x", "catch_up": "soon"}, "catch_up", "bad_duration"),
    ("sop", {"rule_id": "S7", "groups": "G01", "schedule": "daily 20:00", "content": "x", "until": "next month"}, "until", "bad_date"),
    ("sop", {"rule_id": "S8", "groups": "G01", "schedule": "daily 20:00", "content": "x", "msg_type": "video"}, "msg_type", "impossible_media"),
    ("sop", {"rule_id": "S11", "groups": "G01", "schedule": "daily 20:00", "content": "x", "msg_type": "红包"}, "msg_type", "impossible_red_packet"),
    ("sop", {"rule_id": "S12", "groups": "G01", "schedule": "daily 20:00", "content": "card:nosuch"}, "content", "unknown_card"),
    ("cards", {"name": "c1", "title": "Sale", "url": "shop.example.com/sale"}, "url", "card_bad_url"),
    ("cards", {"name": "c2", "title": "", "url": "https://shop.example.com/"}, "title", "required"),
    ("cards", {"name": "c1", "title": "again", "url": "https://shop.example.com/"}, "name", "duplicate"),
    ("sop", {"rule_id": "S9", "groups": "G01", "schedule": "daily 25:00", "content": "x"}, "schedule", "bad_schedule"),
    ("sop", {"rule_id": "S10", "groups": "G01", "schedule": "daily 20:00", "content": "x", "coupon": "nopool"}, "coupon", "unknown_coupon_campaign"),
    ("events", {"event_id": "E10", "type": "purchase", "member_id": "M0001", "at": "2026-11-22 10:00"}, "type", "bad_enum"),
    ("events", {"event_id": "E11", "type": "order", "member_id": "M0001", "at": ""}, "at", "required"),
    ("events", {"event_id": "E12", "type": "order", "member_id": "M0001", "at": "2026-11-22 10:00", "amount": "¥abc"}, "amount", "bad_decimal"),
    ("settings", {"key": "timezone", "value": "Mars/Base"}, "value", "bad_timezone"),
    ("settings", {"key": "colour", "value": "blue"}, "key", "unknown_setting"),
    ("settings", {"key": "catch_up", "value": "quick"}, "value", "bad_duration"),
]


def planted_workbook():
    rows = copy.deepcopy(BASE)
    expected = []
    for tab, row, column, code in MISTAKES:
        rows.setdefault(tab, []).append(row)
        expected.append((tab, len(rows[tab]) + 1, column, code))
    return rows, expected


def test_there_are_at_least_25_kinds_of_mistake():
    assert len({(tab, code) for tab, _, _, code in MISTAKES}) >= 25


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_each_mistake_gives_exactly_one_problem_at_its_cell(tmp_path, lang):
    rows, expected = planted_workbook()
    rows["settings"][1]["value"] = lang
    path = tmp_path / "planted.xlsx"
    write_xlsx(make_raw(rows, lang), path)
    snapshot = XlsxStore(path).read()
    wb = load_workbook(snapshot.raw, today=TODAY)
    got = Counter()
    from qunflow.sheet.schema import load_schemas
    schemas = load_schemas()
    for p in wb.problems:
        got[(p.tab, p.row, p.column, p.code)] += 1
    want = Counter()
    for tab, row, column, code in expected:
        schema = schemas[tab]
        header = schema.column(column).header(lang)
        want[(schema.title(lang), row, header, code)] += 1
    assert got == want
    for p in wb.problems:  # plain words, in the workbook's language, with the value
        assert p.message and "Traceback" not in p.message
        if lang == "zh-CN":
            assert any("\u4e00" <= ch <= "\u9fff" for ch in p.message), p.message
    # the good rows are all still used
    assert {"G01", "G02"} <= set(wb.groups)
    assert {"M0001", "M0002"} <= set(wb.members)
    assert {"R01", "W01"} <= {r.rule_id for r in wb.sop}


def test_the_clean_base_has_no_problems():
    wb = load_workbook(make_raw(BASE), today=TODAY)
    assert wb.problems == []
    assert wb.members["M0001"].mobile == "013800138000"
    assert wb.coupons["0042"].code == "0042"


def test_rows_that_post_are_held_back_and_other_rows_stay_with_the_bad_cell_empty():
    rows, _ = planted_workbook()
    wb = load_workbook(make_raw(rows), today=TODAY)
    by_row = {(p.tab, p.row): p for p in wb.problems}
    # Groups and SOP rows with a bad cell are not used: an error at the cell
    assert not {"G10", "G12", "G14", "G15", "G16"} & set(wb.groups)
    assert not {"S6", "S7", "S8"} & {r.rule_id for r in wb.sop}
    # a member or a coupon with a bad cell stays, that cell empty: a warning that says so
    assert {"M0100", "M0101", "M0102", "M0103", "M0104", "M0105", "M0106"} <= set(wb.members)
    assert wb.members["M0103"].joined_at is None and wb.members["M0102"].mobile is None
    assert wb.members["M0105"].name == "" and wb.members["M0100"].group_id == "G99"   # matches no group
    assert {"C1", "C2", "C3", "C4"} <= set(wb.coupons) and wb.coupons["C1"].value is None
    member = by_row[("Members", wb.members["M0103"].row)]
    assert member.severity == "warning" and "yesterday" in member.message and "treats this cell as empty" in member.message
    # an event with a bad amount stays; one with a bad type (required) does not
    assert "E12" in {e.event_id for e in wb.events} and "E10" not in {e.event_id for e in wb.events}
    # a duplicate key is never kept twice
    assert [m.name for m in wb.members.values() if m.member_id == "M0001"] == ["Lin"]
