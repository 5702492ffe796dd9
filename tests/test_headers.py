"""The same data with zh-CN headers, shuffled columns and an extra column parses identically."""
import copy
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
    assert [(p.row, p.column, p.code, p.severity) for p in problems] == [(1, "group_id", "missing_column", "error")]
    # the members stay (a blacklisted one stays blacklisted), in no group until the column is back
    assert set(wb.members) == {"M0001", "M0002"} and {m.group_id for m in wb.members.values()} == {""}
    assert set(wb.groups) == {"G01", "G02"}  # the rest of the workbook is still used


def test_a_missing_required_column_of_a_tab_that_posts_holds_its_rows_back():
    rows = copy.deepcopy(BASE)
    rows["settings"][1]["value"] = "zh-CN"
    raw = make_raw(rows, "zh-CN")
    header = raw["社群"][0]
    index = header.index("群类型")
    for row in raw["社群"]:
        del row[index]
    wb = load_workbook(raw, today=TODAY)
    assert [(p.tab, p.row, p.column, p.code, p.severity) for p in wb.problems] == \
        [("社群", 1, "群类型", "missing_column", "error")]
    assert "第1行" in wb.problems[0].message
    assert wb.groups == {} and set(wb.members) == {"M0001", "M0002"}


def test_the_header_may_be_any_of_the_first_five_rows_and_rows_keep_their_sheet_numbers():
    raw = make_raw(BASE, "en")
    raw["Settings"] = [["Shop settings"], ["(ask Lin before changing)"]] + raw["Settings"] + [["colour", "blue"]]
    raw["Members"] = [["Members", None, None, "updated weekly"], []] + raw["Members"]
    wb = load_workbook(raw, today=TODAY, merged={"Members": [(0, 0, 0, 2)]})   # a merged title is no header
    assert wb.tables["members"].header_row == 3 and [m.row for m in wb.members.values()] == [4, 5]
    assert wb.settings.language == "en"
    assert [(p.tab, p.row, p.code) for p in wb.problems] == [("Settings", 6, "unknown_setting")]


def test_an_archive_tab_is_never_taken_for_the_tab_it_archives():
    raw = make_raw(BASE, "en")
    raw["Events archive"] = raw.pop("Events")
    wb = load_workbook(raw, today=TODAY)
    assert wb.tables["events"].missing and not wb.tables["events"].unreadable and wb.events == []
    assert [(p.tab, p.code) for p in wb.problems] == [("Events", "missing_tab")]


def test_writes_land_below_a_title_row_and_never_in_an_unreadable_tab():
    from qunflow.sheet.changes import Changes
    from qunflow.stores.memory import MemoryStore
    raw = make_raw(BASE, "en")
    raw["SendLog"] = [["Send log"], []] + [[h for h in raw["SendLog"][0] if h != "outcome"]]
    raw["Tags"] = [["tag list", "kept by hand"], ["vip"]]                 # no header qunflow can find
    store = MemoryStore(raw)
    changes = Changes()
    changes.replace["sendlog"] = [{"send_id": "S1", "status": "sent", "outcome": "ok"}]
    changes.append("tags", [{"tag": "lurker"}])
    store.write(changes, store.read(), "en")
    sendlog = store.raw["SendLog"]
    assert sendlog[:2] == [["Send log"], []] and sendlog[2][-1] == "outcome"   # the removed column, in row 3
    assert sendlog[3][0] == "S1" and sendlog[3][-1] == "ok"
    assert store.raw["Tags"] == [["tag list", "kept by hand"], ["vip"]]
