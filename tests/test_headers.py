"""The same data with zh-CN headers, shuffled columns and an extra column parses identically."""
import random
from dataclasses import asdict
from datetime import date

from helpers import BASE, make_raw
from qunflow.sheet.schema import load_schemas
from qunflow.sheet.load import load_workbook

TODAY = date(2026, 11, 24)


def _model(wb):
    return {
        "groups": {k: asdict(v) for k, v in wb.groups.items()},
        "members": {k: asdict(v) for k, v in wb.members.items()},
        "coupons": {k: asdict(v) for k, v in wb.coupons.items()},
        "sop": [asdict(r) for r in wb.sop],
        "events": [asdict(e) for e in wb.events],
        "templates": {k: asdict(v) for k, v in wb.templates.items()},
        "settings": asdict(wb.settings),
    }


def test_zh_headers_shuffled_columns_and_an_extra_column_parse_identically():
    english = load_workbook(make_raw(BASE, "en"), today=TODAY)
    rng = random.Random(5)
    order = {}
    for key, schema in load_schemas().items():
        keys = [c.key for c in schema.columns]
        rng.shuffle(keys)
        order[key] = keys
    chinese = load_workbook(make_raw(BASE, "zh-CN", order=order, extra_column="备注"), today=TODAY)
    assert english.problems == [] and chinese.problems == []
    assert _model(english) == _model(chinese)


def test_headers_match_ignoring_case_spaces_and_full_width():
    raw = make_raw(BASE, "en")
    groups = raw["Groups"]
    groups[0] = [f"  {h.upper()} " if i % 2 else h.replace("_", "＿") for i, h in enumerate(groups[0])]
    # full-width underscore folds to "_" under NFKC; upper case and spaces are ignored
    wb = load_workbook(raw, today=TODAY)
    assert set(wb.groups) == {"G01", "G02"}
    assert not [p for p in wb.problems if p.tab == "Groups"]


def test_a_missing_required_column_is_one_problem_at_the_header():
    raw = make_raw(BASE, "en")
    header = raw["Members"][0]
    index = header.index("group_id")
    for row in raw["Members"]:
        del row[index]
    wb = load_workbook(raw, today=TODAY)
    problems = [p for p in wb.problems if p.tab == "Members"]
    assert [(p.row, p.column, p.code) for p in problems] == [(1, "group_id", "missing_column")]
    assert wb.members == {}
    assert set(wb.groups) == {"G01", "G02"}  # the rest of the workbook is still used
