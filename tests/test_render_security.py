"""Templates render in a sandbox: escapes and resource bombs are refused, quickly, as Problems."""
import time
from datetime import date

import pytest

from helpers import BASE, make_raw
from qunflow.sop import render
from qunflow.sheet.load import load_workbook

ATTACKS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ group_name.__class__.__init__.__globals__ }}",
    "{{ group_name['__class__'] }}",
    "{% for c in ''.__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ 'x' * 100000000 }}",
    "{{ 'ab' * 5000 }}",
    "{% for i in range(100000000) %}x{% endfor %}",
    "{% for i in range(999) %}{% for j in range(999) %}{{ group_name }}{% endfor %}{% endfor %}",
    "{{ 10 ** 100000 }}",
    "{{ lipsum() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ config }}",
    "{% set x = range %}{{ x(10**9) | list }}",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_sandbox_escapes_and_bombs_are_refused_in_bounded_time(text):
    started = time.process_time()
    with pytest.raises(render.TemplateProblem):
        render.render(text, {"group_name": "G", "mentions": "", "coupon": ""})
    assert time.process_time() - started < 2.0


@pytest.mark.parametrize("text", ATTACKS)
def test_each_attack_in_the_sheet_is_one_problem_at_its_cell(text):
    rows = {k: list(v) for k, v in BASE.items()}
    rows["templates"] = rows["templates"] + [{"name": "evil", "content": text}]
    wb = load_workbook(make_raw(rows), today=date(2026, 11, 24))
    problems = [p for p in wb.problems if p.tab == "Templates"]
    assert len(problems) == 1 and problems[0].row == 3 and problems[0].column == "content"
    assert "evil" not in wb.templates


def test_plain_templates_render():
    assert render.render("{% if coupon %}券 {{ coupon }}{% endif %} 第{{ campaign_day }}天",
                         {"coupon": "A1", "campaign_day": 3}) == "券 A1 第3天"
