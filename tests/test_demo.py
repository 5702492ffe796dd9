"""`qunflow demo`: reproducible, complete, and equal to ticking every 5 minutes."""
from collections import Counter
from pathlib import Path

import pytest

from qunflow.jobs.demo import run_demo
from qunflow.stores.xlsx import XlsxStore
from qunflow.sheet.load import load_workbook


def _sendlog(result):
    wb = load_workbook(XlsxStore(result.workbook).read().raw)
    return [(r.send_id, r.status, str(r.sent_at), r.preview) for r in wb.sendlog], wb


@pytest.fixture(scope="module")
def thirty_days(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo"), seed=7, days=30)


def test_the_demo_writes_its_files_and_sends_every_phase(thirty_days):
    result = thirty_days
    for path in (result.workbook, result.transcript, result.preview):
        assert path.exists() and path.stat().st_size > 1000
    rows, wb = _sendlog(result)
    assert wb.errors == []
    phases = {r.phase for r in wb.sop}
    sent_rules = {r.rule_id for r in wb.sendlog if r.status == "sent"}
    assert {"W01", "R01", "C01", "C02", "C03", "C04", "C05", "F01", "K01", "D01"} <= sent_rules
    assert {"铺垫期", "造势期", "高潮期", "收尾期"} <= phases
    assert result.totals["unknown"] == 0 and result.totals["failed"] == 0
    ids = [r[0] for r in rows if r[1] == "sent"]
    assert len(ids) == len(set(ids))  # nothing delivered twice
    # the newcomers: members the platforms' joins created (their member id is their platform user id, #19)
    welcomed = [m for m in wb.members.values() if not m.member_id.startswith("M")]
    assert welcomed and all(m.welcomed_at for m in welcomed)
    with_code = [m for m in welcomed if m.coupon_code]
    # one code per person and campaign: a person in two groups holds the same welcome code in both (#16)
    assert len({m.coupon_code for m in with_code}) == len({m.member_id for m in with_code}) >= 50
    if len(with_code) < len(welcomed):  # the welcome pool ran out: the welcome went on, and the sheet says so
        assert any(p.tab == "SOP日历" and "券池" in p.message for p in wb.previous_problems)


def test_the_same_seed_gives_the_same_result(tmp_path, thirty_days):
    again = run_demo(tmp_path / "again", seed=7, days=30)
    assert _sendlog(again)[0] == _sendlog(thirty_days)[0]
    assert again.summary == thirty_days.summary


def test_skipping_empty_ticks_equals_ticking_every_five_minutes(tmp_path):
    skipping = run_demo(tmp_path / "a", seed=3, days=2)
    every = run_demo(tmp_path / "b", seed=3, days=2, every_tick=True)
    assert every.ticks > 5 * skipping.ticks
    assert _sendlog(skipping)[0] == _sendlog(every)[0]


def test_each_welcome_names_its_newcomers_once(thirty_days):
    """Why (#15): every welcome showed the newcomer twice, the platform's own @ and the template's plain @name."""
    from qunflow.emulator.transcript import read_jsonl
    wb = _sendlog(thirty_days)[1]
    names = {m.platform_user_id: m.name for m in wb.members.values() if m.platform_user_id}
    welcomes = [r for r in read_jsonl(thirty_days.workbook.parent / "transcript.jsonl") if r["text"].startswith("欢迎")]
    assert len(welcomes) > 20
    for record in welcomes:
        assert record["mentions"], record["text"]
        for uid in record["mentions"]:
            shown = record["text"].count(uid) + (record["text"].count(names[uid]) if names[uid] != uid else 0)
            shown += record["mentions"].count(uid) if record["platform"] == "wecom" and record["msgtype"] == "text" else 0
            assert shown == 1, (record["platform"], uid, record["text"][:80])


def test_check_in_milestones_post_only_for_those_who_reached_them(thirty_days):
    """#16: the regulars of the check-in group post 打卡 messages; D02 names those at 3, 7, 14 or 21 days, with
    their own streak, and is skipped on the days nobody reached one."""
    import re
    from qunflow.emulator.transcript import read_jsonl
    wb = _sendlog(thirty_days)[1]
    posts = [r for r in read_jsonl(thirty_days.workbook.parent / "transcript.jsonl") if "已连续打卡" in r["text"]]
    assert posts and all(r["mentions"] and re.search(r"已连续打卡 (3|7|14|21) 天", r["text"]) for r in posts)
    statuses = Counter(r.status for r in wb.sendlog if r.rule_id == "D02")
    assert statuses["sent"] >= len({r["at"][:10] for r in posts}) and statuses["skipped"] > 0
    assert sum(g["skipped"] for g in thirty_days.summary) >= statuses["skipped"]


def test_the_demo_workbook_is_chinese_in_every_cell_an_operator_reads(thirty_days):
    """Must show (#17): the zh-CN demo workbook after its 30 days holds no English value an operator reads: each
    cell is scanned against the schema's zh-CN vocabulary (ids, codes, URLs and typed free text exempt)."""
    from test_zh_workbook import scan
    from qunflow.stores.xlsx import read_xlsx
    raw = read_xlsx(thirty_days.workbook)
    bad = scan(raw)
    assert not bad, "\n".join(bad[:40])
    flat = {str(v) for rows in raw.values() for row in rows[1:] for v in row}
    for word in ("钉钉", "飞书", "流量型", "快闪型", "是", "已发送", "已发放", "已核销", "可用", "外围层", "时区"):
        assert word in flat, word


def test_the_demo_has_a_person_in_two_groups_a_referral_and_a_lottery_drawn_twice(thirty_days, tmp_path):
    import json
    from datetime import date

    from click.testing import CliRunner

    from qunflow.cli import cli
    wb = load_workbook(XlsxStore(thirty_days.workbook).read().raw)
    by_person = {}
    for m in wb.members.values():
        by_person.setdefault(m.member_id, []).append(m)
    twice = [rows for rows in by_person.values() if len(rows) == 2]
    assert twice, "a member in two groups"
    rows = twice[0]
    assert {m.group_id for m in rows} == {"G01", "G02"} and all(m.welcomed_at for m in rows)
    assert rows[0].coupon_code and rows[0].coupon_code == rows[1].coupon_code    # one welcome code, shared
    assert len([c for c in wb.coupons.values() if c.member_id == rows[0].member_id and c.campaign == "welcome50"]) == 1
    last = max(r.date for r in wb.metrics)
    day = [r for r in wb.metrics if r.date == last]
    assert len({r.shop_people for r in day}) == 1
    assert sum(r.members for r in day) > day[0].shop_people       # memberships per group, people once per shop
    friend = next(m for m in wb.members.values() if m.platform_user_id == "u2001")   # joined through Feishu
    assert friend.referred_by == "M0001"
    k = [r.k_factor for r in wb.metrics if r.group_id == "G01" and r.date == date(2026, 12, 2)]
    assert k and k[0] and k[0] > 0
    lot = thirty_days.lottery
    assert lot["drawn_again"] and lot["winners"] == lot["again"]
    assert lot["issued_first"] == lot["issued_total"] == 3 and lot["verify"] == "OK"
    posted = [json.loads(line)["text"] for line in thirty_days.transcript.with_suffix(".jsonl").read_text("utf-8").splitlines()
              if "抽奖结果" in line]
    assert len(posted) == 1
    saved = tmp_path / "post.txt"
    saved.write_text(posted[0], encoding="utf-8")
    out = CliRunner().invoke(cli, ["lottery", "verify", "--text", str(saved)])
    assert out.exit_code == 0 and "OK" in out.output, out.output


def test_the_posters_reach_the_groups_as_images(thirty_days):
    """#21: the flash group's sale poster is a real image in its DingTalk markdown; the course group's Monday poster
    goes to Feishu as a native image (the demo's emulated Feishu app uploads it once for an image_key), its caption
    after it, and no Groups row warns about links."""
    from qunflow.emulator.transcript import read_jsonl
    records = read_jsonl(thirty_days.transcript.with_suffix(".jsonl"))
    sale = [m for m in records if m["group_id"] == "G02" and m.get("image")]
    assert len(sale) == 1 and sale[0]["image"]["format"] == "png" and sale[0]["image"]["thumb"].startswith("data:image/")
    course = [m for m in records if m["group_id"] == "G03" and m["msgtype"] == "image"]
    assert len(course) >= 4 and all(m["image"]["width"] == 600 and not m["image"].get("link") for m in course)  # each Monday
    assert len({m["payload"]["content"]["image_key"] for m in course}) == 1           # uploaded once, for the month
    after = [records[records.index(m) + 1] for m in course]
    assert all(m["group_id"] == "G03" and m["msgtype"] == "text" and "穿搭课预告" in m["text"] for m in after)
    html = thirty_days.transcript.read_text(encoding="utf-8")
    assert html.count('<figure class="image">') == 1 + len(course) and '<figure class="image link">' not in html
    wb = load_workbook(XlsxStore(thirty_days.workbook).read().raw)
    assert {r.status for r in wb.sendlog if r.rule_id in ("K01", "F02")} == {"sent"}
    assert not [p for p in wb.previous_problems if "image_key" in p.message]


def test_the_saved_calendar_shows_the_posters_saved_beside_it(thirty_days):
    """The poster host stops with the demo: the calendar's thumbnails are the PNG files written next to it."""
    import re
    page = thirty_days.preview.read_text(encoding="utf-8")
    sources = re.findall(r"<img src='([^']+)'", page)
    assert sources and all(not s.startswith("http") for s in sources), sources
    for source in sources:
        assert (thirty_days.preview.parent / source).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
