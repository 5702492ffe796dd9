"""Every render has a budget: hostile templates end as a Problem at their cell, in bounded time and memory.

Each payload runs in a subprocess under a 400 MB address-space limit and a 20 s timeout (the cloud
instance has 512 MB): rendering it, and `qunflow validate` on a workbook holding all of them, must end
with the Problem, never with a MemoryError, a crash or a hang. A tick still sends the other rules.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from engine_harness import SHOP, Shop
from helpers import BASE, make_raw, write_xlsx
from qunflow.sheet.i18n import message
from qunflow.sheet.layout import workbook_layout
from qunflow.sheet.load import load_workbook
from qunflow.sheet.schema import load_schemas
from qunflow.sop import render
from qunflow.sop.render_budget import BUDGET

FUNCTIONS = Path(__file__).resolve().parents[1] / "functions"
MEMORY = 400 * 2**20
TIMEOUT = 20

LOOPS, LONG, BIG, WORK = "template_loops", "template_too_long", "template_big_value", "template_too_much_work"

HOSTILE = {  # name -> (template, the Problem's code)
    "three nested range(1000) loops": ("{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                                       "{% endfor %}{% endfor %}{% endfor %}", LOOPS),
    "four nested loops": ("{% for a in range(1000) %}" * 4 + "{% endfor %}" * 4, LOOPS),
    "nested **": ("{{ ((((9 ** 64) ** 64) ** 64) ** 64) ** 64 }}", BIG),
    "chained *": ("{% set a = 9 ** 64 %}" + "".join(f"{{% set {n} = {'*'.join(p * 8)} %}}" for p, n in zip("abcdefg", "bcdefgh"))
                  + "{{ h > 0 }}", BIG),
    "center(2000000000)": ("{{ group_name|center(2000000000) }}", BIG),
    "indent(2000000000)": ("{{ group_name|indent(2000000000, true) }}", BIG),
    "chained indent": ("{% set w = 'x' * 2000 %}{{ ('x\\n' * 1000)" + "|indent(w~w~w~w~w~w~w~w~w~w)" * 25 + " }}", BIG),
    "chained replace": ("{{ ('x' * 2000)|replace('x', 'x' * 2000)|replace('x', 'x' * 2000) }}", BIG),
    "join of a join": ("{{ range(1000)|join(range(1000)|join('x' * 2000)) }}", BIG),
    "format width": ("{{ '%2000000000s'|format('x') }}", BIG),
    "% width": ("{{ '%2000000000s' % 'x' }}", BIG),
    "wordwrap with a long wrapstring": ("{{ ('x' * 2000)|wordwrap(1, wrapstring='x' * 2000)"
                                        "|wordwrap(1, wrapstring='x' * 2000) }}", BIG),
    "~ of ~": ("{% set a = 'x' * 2000 %}" + "".join(f"{{% set {n} = {'~'.join(p * 10)} %}}" for p, n in zip("abcdef", "bcdefg"))
               + "{{ g|length }}", BIG),
    "+ of +": ("{% set a = 'x' * 2000 %}" + "".join(f"{{% set {n} = {'+'.join(p * 10)} %}}" for p, n in zip("abcde", "bcdef"))
               + "{{ f|length }}", BIG),
    "list of lists": ("{% set a = ['x' * 2000] * 2000 %}{% set b = [a] * 2000 %}{{ b }}", BIG),
    "{% set %} block of blocks": ("{% set a %}{% for i in range(1000) %}{{ 'x' * 2000 }}{% endfor %}{% endset %}"
                                  "{% set b %}{% for i in range(1000) %}{{ a }}{% endfor %}{% endset %}{{ b }}", WORK),
    "filter block": ("{% filter center(2000000000) %}x{% endfilter %}", BIG),
    "batch padding": ("{{ [1]|batch(2000000000, 'x')|list }}", BIG),
    "slice count": ("{{ [1]|slice(2000000000)|list }}", BIG),
    "round precision": ("{{ 1.5|round(2000000000, 'ceil') }}", BIG),
    "map center": ("{{ range(1000)|map('center', 2000000)|join }}", BIG),
    "a macro calling itself": ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", WORK),
    "a macro calling itself twice": ("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
                                     "{% endmacro %}{{ f(60) }}", WORK),
    "nested call blocks": ("{% macro f() %}{% for i in range(1000) %}{{ caller() }}{% endfor %}{% endmacro %}"
                           "{% call f() %}{% call f() %}{% call f() %}x{% endcall %}{% endcall %}{% endcall %}", LOOPS),
    "recursive loop": ("{% for x in range(30) recursive %}{{ loop(range(x)) }}{% endfor %}", LOOPS),
    "in over a long list, a million times": ("{% set s = range(1000)|list + range(1000)|list + range(1000)|list %}"
                                             "{% for i in range(1000) %}"
                                             "{% for j in range(1000) %}{% if -1 in s %}{% endif %}{% endfor %}{% endfor %}", WORK),
    "brackets in brackets": ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", WORK),
    "loops in loops in loops": ("{% for a in range(2) %}" * 25 + "x" + "{% endfor %}" * 25, WORK),
    "a template of 60,000 characters": ("x" * 60_000, LONG),
}

RENDER_ONE = """
import json, sys
from qunflow.sop import render
try:
    out = render.check_by_rendering(sys.stdin.read())
    print(json.dumps({"rendered": True}))
except render.TemplateProblem as problem:
    print(json.dumps({"code": problem.code, "detail": problem.detail}))
"""


# The child sets its own address-space limit before anything else runs (no preexec_fn: forking a process
# that holds grpc's threads, as the Firestore tests leave it, can crash the child before it starts).
LIMITED = "import resource; resource.setrlimit(resource.RLIMIT_AS, ({m}, {m}))\n"


def _run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FUNCTIONS), os.environ.get("PYTHONPATH", "")])}
    limit = LIMITED.format(m=MEMORY)
    if args[1] == "-c":
        args = [args[0], "-c", limit + args[2]] + args[3:]
    elif args[1] == "-m":
        args = [args[0], "-c", limit + f"import runpy, sys; sys.argv = {[args[2]] + args[3:]!r}; "
                f"runpy.run_module({args[2]!r}, run_name='__main__', alter_sys=True)"]
    try:
        return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {TIMEOUT} s")


@pytest.mark.parametrize("name", list(HOSTILE))
def test_rendering_a_hostile_template_ends_with_its_problem_under_400_mb(name):
    text, code = HOSTILE[name]
    done = _run([sys.executable, "-c", RENDER_ONE], stdin=text)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["code"] == code


def _example(tab: str) -> str:
    return next(c.example for c in load_schemas()[tab].columns if c.key == "content")


def _expected(code: str, lang: str, tab: str) -> str:
    params = BUDGET[code][1] if code in BUDGET else {}
    return message(code, lang, example=_example(tab), **params)


def test_validate_finds_every_hostile_template_at_its_cell_in_the_sheets_language(tmp_path):
    rows = {k: list(v) for k, v in BASE.items()}
    rows["settings"] = [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "zh-CN"}]
    names = list(HOSTILE)
    rows["templates"] = rows["templates"] + [{"name": f"evil{i}", "content": HOSTILE[n][0]} for i, n in enumerate(names)]
    rows["sop"] = rows["sop"] + [{"rule_id": f"X{i:02d}", "groups": "G01", "schedule": "daily 20:00",
                                  "content": HOSTILE[n][0]} for i, n in enumerate(names)]
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(rows, lang="zh-CN"), path)
    started = time.monotonic()
    done = _run([sys.executable, "-m", "qunflow", "validate", str(path), "--json", "--no-write"])
    assert done.returncode == 1, done.stderr[-2000:]  # errors found, not a crash (exit 3)
    assert time.monotonic() - started < TIMEOUT
    problems = json.loads(done.stdout)["problems"]
    titles = {t.key: (t.title, next(c.header for c in t.columns if c.key == "content"))
              for t in workbook_layout("zh-CN") if t.key in ("templates", "sop")}
    at = {(p["tab"], p["row"], p["column"]): p["message"] for p in problems}
    for i, name in enumerate(names):
        code = HOSTILE[name][1]
        for tab, row in (("templates", len(BASE["templates"]) + 2 + i), ("sop", len(BASE["sop"]) + 2 + i)):
            title, column = titles[tab]
            assert at.get((title, row, column)) == _expected(code, "zh-CN", tab), (name, tab)
    good = [(titles["templates"][0], 2), (titles["sop"][0], 2), (titles["sop"][0], 3)]
    assert not [p for p in problems if (p["tab"], p["row"]) in good]


def test_the_messages_name_the_limits_in_both_languages():
    for code, (_, params) in BUDGET.items():
        for lang in ("en", "zh-CN"):
            text = message(code, lang, example="{{ group_name }}", **params)
            assert "{" + "{ group_name }" + "}" in text and "{limit}" not in text
            if code != WORK:
                assert params["limit"] in text


UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def test_a_hostile_rule_gets_its_problem_at_its_cell_and_the_other_rules_of_the_tick_still_send():
    rows = {k: list(v) for k, v in SHOP.items()}
    rows["settings"] = [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "zh-CN"},
                        {"key": "catch_up", "value": "30m"}]
    loops, center = HOSTILE["three nested range(1000) loops"][0], HOSTILE["center(2000000000)"][0]
    # passes the trial render (group_name "群" is one character) but not for "Spring deals": 12 x 1,000 iterations
    by_name = "{% for c in group_name %}{% for i in range(1000) %}{% endfor %}{% endfor %}Hello {{ group_name }}"
    rows["templates"] = rows["templates"] + [{"name": "evil", "content": center}]
    rows["sop"] = rows["sop"] + [
        {"rule_id": "X01", "groups": "G01", "schedule": "day 1-3 10:00", "content": loops},
        {"rule_id": "X02", "groups": "G01", "schedule": "day 1-3 10:00", "content": "template:evil"},
        {"rule_id": "X03", "groups": "G01", "schedule": "day 1-3 10:00", "content": by_name},
    ]
    shop = Shop(at("2026-12-01 09:55"), rows=rows)
    try:
        started = time.process_time()
        report = shop.tick(at("2026-12-01 10:00"))
        assert time.process_time() - started < 10
        assert [m["text"] for m in shop.emulator.messages] == ["Day 1 tip"]  # C01, the same minute and group
        assert report.sent == 1 and report.failed == 1                      # X03 failed at send time
        wb = load_workbook(shop.store.raw)
        sop_rows = {r.rule_id: r for r in wb.sop}
        assert {"C01", "X03"} <= set(sop_rows) and not {"X01", "X02"} & set(sop_rows)
        problems = {(p.tab, p.row, p.column): p.message for p in wb.previous_problems}
        first_x = len(SHOP["sop"]) + 2
        assert problems[("SOP", first_x, "content")] == _expected(LOOPS, "zh-CN", "sop")
        assert problems[("Templates", len(SHOP["templates"]) + 2, "content")] == _expected(BIG, "zh-CN", "templates")
        assert ("SOP", first_x + 1, "content") in problems                 # template:evil names no usable template
        shown = message(LOOPS, "zh-CN", example="{{ group_name }}", **BUDGET[LOOPS][1])
        assert problems[("SOP", first_x + 2, "content")] == shown
        assert {r.rule_id: r.status for r in wb.sendlog} == {"C01": "sent", "X03": "failed"}
    finally:
        shop.close()


REAL = [
    ("{% if coupon %}券 {{ coupon }}{% endif %} 第{{ campaign_day }}天，还剩 {{ days_left }} 天", "券 WEL-0001 第3天，还剩 2 天"),
    ("{{ member_names|replace('、', ' / ')|truncate(40) }} {{ '%s-%02d'|format(date, campaign_day) }}", "小林 2026-12-01-03"),
    ("{% for i in range(1, 8) %}{{ i }}·{% endfor %}", "1·2·3·4·5·6·7·"),
    ("{{ [group_name, phase, time]|join(' | ')|center(30)|trim }}", "群 | 铺垫期 | 20:00"),
    ("{{ leaderboard|indent(2, true) }}\n{{ (mentions ~ ' ') * 3 }}{{ 'x' * 10 }}", "  1. 小林 3\n@小林 @小林 @小林 xxxxxxxxxx"),
]


@pytest.mark.parametrize("text,expected", REAL)
def test_real_messages_render_far_inside_the_budget(text, expected):
    assert render.render(text, dict(render.SAMPLE)) == expected


def test_a_long_real_message_with_a_line_per_item_renders():
    names = "、".join(f"会员{i:03d}" for i in range(300))
    text = ("{% for i in range(300) %}{{ i }}. {{ group_name }} {{ coupon }}\n{% endfor %}"
            "{{ member_names|wordwrap(60) }}")
    out = render.render(text, {**render.SAMPLE, "member_names": names})
    assert out.count("\n") > 300 and len(out) < render.MAX_OUTPUT


def test_a_budget_is_per_render_and_ten_thousand_iterations_is_the_line():
    text = "{% for i in range(1000) %}{% for j in range(9) %}{% endfor %}{% endfor %}ok"  # 1,000 + 9,000
    for _ in range(5):
        assert render.render(text, {}) == "ok"
    with pytest.raises(render.TemplateProblem) as caught:
        render.render("{% for i in range(1000) %}{% endfor %}" + text, {})
    assert caught.value.code == LOOPS


def test_an_unknown_template_detail_is_a_plain_bad_template():
    assert render.problem_code("unknown variable x") == ("bad_template", {})
    assert render.problem_code(BUDGET[LOOPS][0]) == (LOOPS, BUDGET[LOOPS][1])
