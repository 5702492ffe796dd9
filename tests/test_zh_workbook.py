"""#17 item 1: a zh-CN workbook is written in zh-CN, everywhere qunflow writes, and reads either language.

The demo's workbook (a zh-CN shop) is scanned cell by cell against the schema's zh-CN vocabulary: a column with a
dropdown holds only what its dropdown offers, and text qunflow composed (statuses, SendLog 说明, Problems, 说明 of
Settings) holds no English word. Exempt: ids, codes, URLs, and free text the operator typed.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from qunflow.sheet.cells import fold
from qunflow.sheet.i18n import MESSAGES
from qunflow.sheet.schema import load_schemas
from qunflow.stores.xlsx import read_xlsx

# words that are names or codes in any language: platforms, units, formats, qunflow's own name
NAMES = {"qunflow", "slack", "discord", "telegram", "http", "https", "utc", "json", "sha256", "webhook_url"}
_CODE = re.compile(r"https?://\S+|`[^`]*`|\b[\w.-]+:[\w{}*.,-]+|\b[A-Za-z]+/[A-Za-z_]+\b|\{\{[^}]*\}\}|\b\w*\d\w*\b|\b\w+_\w+\b")
_WORD = re.compile(r"[A-Za-z][A-Za-z']{2,}")


_QUOTED = re.compile(r"原文：[^）]*")   # a platform's own words, quoted as such (sheet/i18n_reasons.py)


def english_words(text: str) -> list[str]:
    """The English words in text qunflow wrote, codes, names and a platform's quoted words aside."""
    text = _CODE.sub(" ", _QUOTED.sub(" ", text))
    return [w for w in _WORD.findall(text) if w.lower() not in NAMES and not w.isupper()]


def operator_typed(tab: str, column) -> bool:
    """Cells whose words are the operator's (or the shop's systems'): qunflow copies them, never composes them."""
    if column.id or column.type in ("reference", "template", "phone", "timezone", "list", "schedule"):
        return True
    if (tab, column.key) in {("problems", "value"), ("sendlog", "preview"), ("settings", "value")}:
        return True
    return column.type == "text" and not column.written and column.key != "key"


def scan(raw: dict[str, list[list]], written_only: bool = False) -> list[str]:
    """Every cell an operator reads that is not in the workbook's own zh-CN words: 'tab!A1 value (why)'.
    `written_only`: only the columns qunflow writes (the rest of the workbook was typed by the test)."""
    from qunflow.sheet.layout import layout_for_title
    from qunflow.sheet.vocabulary import words
    vocabulary = words("zh-CN")
    bad = []
    for title, rows in raw.items():
        found = layout_for_title(title)
        if found is None or not rows:
            continue
        layout, lang = found
        assert lang == "zh-CN", f"{title}: an English tab title in a zh-CN workbook"
        schema = load_schemas()[layout.key]
        by_header = {fold(c.header): c.column for c in layout.columns}
        header = [by_header.get(fold(h)) for h in rows[0]]
        for h, column in zip(rows[0], header):
            assert column is not None, f"{title}: header {h!r} is not the zh-CN header of a column"
        for r, row in enumerate(rows[1:], start=2):
            for c, value in enumerate(row):
                column = header[c] if c < len(header) else None
                if column is None or value in (None, "") or not isinstance(value, str):
                    continue
                if written_only and not (column.written or schema.written):
                    continue
                where = f"{title}!{column.key}{r} {value!r}"
                allowed = vocabulary.get(f"{schema.key}.{column.key}")
                if allowed is not None:
                    if value not in allowed and not (schema.key == "settings" and column.key == "key"):
                        bad.append(f"{where} (not one of {sorted(allowed)})")
                    elif schema.key == "settings" and column.key == "key" and value not in allowed:
                        bad.append(f"{where} (an unknown setting)")
                elif not operator_typed(schema.key, column) and english_words(value):
                    bad.append(f"{where} (English: {english_words(value)})")
    return bad


def test_the_scan_finds_the_english_machine_values_old_main_wrote():
    """The scanner is not blind: the values the issue quotes are each reported."""
    raw = {"优惠券": [["券码", "券状态"], ["WEL-0001", "redeemed"]],
           "成员": [["成员ID", "分层"], ["M0001", "core"]],
           "社群": [["群ID", "平台", "群类型", "启用", "状态"],
                  ["G01", "wecom", "traffic", "yes", "dead since 2026-12-01 20:00: invalid webhook url"]],
           "SOP日历": [["规则ID", "状态"], ["C01", "next 2026-12-02 10:00 · last sent 12-01 10:00"]],
           "设置": [["设置项", "值"], ["timezone", "Asia/Shanghai"]]}
    bad = "\n".join(scan(raw))
    for value in ("redeemed", "core", "wecom", "traffic", "'yes'", "dead since", "next 2026", "timezone"):
        assert value in bad, value


def test_written_values_take_the_dropdown_form_and_read_back_as_the_machine_value():
    from qunflow.sheet.vocabulary import cell_value
    from qunflow.sheet.load import load_workbook
    from qunflow.sheet.vocabulary import canonical
    coupons = load_schemas()["coupons"]
    assert cell_value(coupons.column("status"), "redeemed", "zh-CN") == "已核销"
    assert cell_value(coupons.column("status"), "redeemed", "en") == "redeemed"
    assert cell_value(coupons.column("status"), "已核销", "en") == "redeemed"   # either form in, the workbook's out
    assert cell_value(load_schemas()["members"].column("layer"), "periphery", "zh-CN") == "外围层"
    assert cell_value(load_schemas()["groups"].column("platform"), "wecom", "zh-CN") == "企业微信"
    assert cell_value(load_schemas()["groups"].column("kind"), "traffic", "zh-CN") == "流量型"
    assert cell_value(load_schemas()["groups"].column("enabled"), True, "zh-CN") == "是"
    assert cell_value(load_schemas()["groups"].column("enabled"), "no", "zh-CN") == "否"
    assert cell_value(load_schemas()["sendlog"].column("status"), "sent", "zh-CN") == "已发送"
    assert cell_value(load_schemas()["settings"].column("key"), "timezone", "zh-CN") == "时区"
    assert canonical(load_schemas()["sendlog"].column("status"), "已发送") == "sent"
    raw = {"设置": [["设置项", "值"], ["语言", "中文"], ["时区", "Asia/Tokyo"], ["每日上限", "3"]],
           "优惠券": [["券码", "券活动", "券类型", "券状态"], ["A-1", "w", "新人券", "已核销"], ["A-2", "w", "welcome", "issued"]]}
    wb = load_workbook(raw)
    assert wb.lang == "zh-CN" and str(wb.settings.timezone) == "Asia/Tokyo" and wb.settings.daily_cap == 3
    assert [c.status for c in wb.coupons.values()] == ["redeemed", "issued"]


def test_a_platform_refusal_is_said_in_chinese_and_a_platform_own_words_stay():
    from qunflow.sheet.vocabulary import say_reason
    reason = ("gave up in this run after 4 failed attempt(s) in a row: HTTP 503 (code 500): the platform is busy; "
              "the next run tries again")
    assert say_reason(reason, "zh-CN") == "本次运行在连续失败 4 次后放弃：HTTP 503（错误码 500）：平台繁忙；下次运行会再试"
    dead = "the webhook key is invalid or the robot was removed (code 93000): invalid webhook url"
    assert say_reason(dead, "zh-CN") == "机器人地址的密钥无效，或机器人已被移除（错误码 93000，原文：invalid webhook url）"
    assert say_reason(dead, "en") == dead
    assert say_reason("part 2 of 3: the message is too large (code 45002) (1 part(s) already delivered)",
                      "zh-CN") == "第 2/3 段：消息太长（错误码 45002）（已送达 1 段）"
    assert say_reason("HTTP 503: Feishu is busy", "zh-CN") == "HTTP 503：飞书 繁忙"


def test_every_platform_code_has_its_meaning_in_chinese():
    """A code table's meaning (wecom, dingtalk, feishu) is said in zh-CN: a new code needs a reason_* key."""
    from qunflow.delivery.platforms import dingtalk, feishu, wecom
    from qunflow.sheet.vocabulary import say_reason
    for module in (wecom, dingtalk, feishu):
        for code, (_kind, _wait, meaning) in module.CODES.items():
            said = say_reason(f"{meaning} (code {code})", "zh-CN")
            assert english_words(said) == [], f"{module.__name__} {code}: {said}"


def test_every_message_has_both_languages_with_the_same_placeholders():
    """Each key of i18n.MESSAGES says its sentence in en and zh-CN, with the same {placeholders}."""
    field = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")
    for key, texts in MESSAGES.items():
        assert set(texts) == {"en", "zh-CN"}, f"{key}: has {sorted(texts)}"
        assert texts["en"].strip() and texts["zh-CN"].strip(), key
        assert set(field.findall(texts["en"])) == set(field.findall(texts["zh-CN"])), key
        if key.startswith("reason_") or key.startswith("sop_status") or key.startswith("group_status"):
            assert not english_words(texts["zh-CN"].replace("{", " {").replace("}", "} ")
                                     .format(**{k: "" for k in field.findall(texts["zh-CN"])})), key


def test_a_tick_in_a_zh_workbook_writes_statuses_outcomes_and_problems_in_chinese():
    """Groups 状态 was "dead since … invalid webhook url", SOP 状态 "next … · last sent …", SendLog English and the
    platform's reason inside a zh Problem English: each is now said in zh-CN (the platform's own errmsg aside)."""
    import copy

    from engine_harness import SHOP, Shop
    from helpers import make_raw
    from qunflow.delivery.secrets import SecretResolver
    from qunflow.sheet.load import load_workbook
    from qunflow.stores.memory import MemoryStore

    rows = copy.deepcopy(SHOP)
    rows["settings"] = [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "zh-CN"}]
    shop = Shop(datetime(2026, 12, 1, 1, 55, tzinfo=timezone.utc), store=MemoryStore(make_raw(rows, lang="zh-CN")))
    try:
        good = shop.resolver.env
        dead_url = good["QUNFLOW_HOOK_G01"].split("/cgi-bin")[0] + "/cgi-bin/webhook/send?key=nope"
        shop.resolver = SecretResolver(env=dict(good, QUNFLOW_HOOK_G01=dead_url))
        shop.tick(datetime(2026, 12, 1, 2, 1, tzinfo=timezone.utc))        # C01 for G01 at 10:00 Shanghai
    finally:
        shop.close()
    raw = shop.store.raw
    [g01] = [r for r in raw["社群"][1:] if r[0] == "G01"]
    status = g01[raw["社群"][0].index("状态")]
    assert status.startswith("自 2026-12-01 10:0") and "停发：机器人地址的密钥无效，或机器人已被移除（错误码 93000，原文：" in status
    problems = [r[raw["待处理问题"][0].index("说明")] for r in raw["待处理问题"][1:]]
    [dead] = [p for p in problems if "群机器人拒绝了消息" in p]
    assert "机器人地址的密钥无效" in dead and "code" not in dead and "dead since" not in dead
    log = raw["发送记录"]
    outcome = {r[log[0].index("规则ID")]: (r[log[0].index("结果")], r[log[0].index("说明")]) for r in log[1:]}
    assert outcome["C01"][0] == "失败" and outcome["C01"][1].startswith("机器人地址的密钥无效")
    sop = {r[0]: r[raw["SOP日历"][0].index("状态")] for r in raw["SOP日历"][1:]}
    assert sop["C01"].startswith("下次 2026-12-02 10:00 · 上次失败 12-01 10:00"), sop["C01"]
    assert sop["W01"] == "随成员事件发送"
    assert not scan(raw, written_only=True), scan(raw, written_only=True)
    wb = load_workbook(raw)                                  # and it reads back as the machine values
    assert {r.status for r in wb.sendlog} <= {"failed", "sent", "skipped", "deferred", "missed"}
    assert {m.layer for m in wb.members.values()} <= {"core", "influence", "periphery", None}
