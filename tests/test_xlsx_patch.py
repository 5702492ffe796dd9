"""The surgical local writer (qunflow.stores.xlsx_patch): only the changed cells of the changed tabs are written.

Real .xlsx files throughout: made by openpyxl, by `qunflow init`, and one saved by LibreOffice
(tests/data/libreoffice-formulas.xlsx, regenerated with `python tests/test_xlsx_patch.py --regenerate`; one test
makes it again live when `soffice` is on PATH).
"""
from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import date, datetime, timezone
from pathlib import Path

import openpyxl
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from engine_harness import SHOP, Shop  # noqa: E402
from helpers import BASE, make_raw, write_xlsx  # noqa: E402
from qunflow.sheet.changes import Changes  # noqa: E402
from qunflow.sheet.load import load_workbook  # noqa: E402
from qunflow.stores import xlsx as xlsx_module  # noqa: E402
from qunflow.stores.writeplan import Append, RangeWrite, WritePlan  # noqa: E402
from qunflow.stores.xlsx import XlsxStore, read_xlsx  # noqa: E402
from qunflow.stores.xlsx_parts import Package, PatchUnsupported  # noqa: E402
from qunflow.stores.xlsx_patch import patch_xlsx, place  # noqa: E402

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "libreoffice-formulas.xlsx"
TODAY = date(2026, 11, 24)
CONCAT = '=_xlfn.CONCAT("Good night from ","{{ group_name }}")'   # CONCAT, as a file stores it (Excel 2019+)


def at(text: str) -> datetime:  # Asia/Shanghai wall time -> UTC
    return datetime.fromisoformat(text + "+08:00").astimezone(timezone.utc)


# --- the LibreOffice workbook: operators' formulas with their cached values ------------------------------------

def formula_source(path: Path) -> None:
    """The engine harness's shop with operators' formulas (no cached values yet: LibreOffice computes them):
    a Settings daily cap, an SOP content, a member's name, a rule status qunflow will overwrite, and an operator
    tab qunflow never reads. Plus a note and a dropdown."""
    raw = make_raw(copy.deepcopy(SHOP))
    raw["Settings"].append(["daily_cap", "=3+4"])
    sop = raw["SOP"]
    sop[1][sop[0].index("content")] = CONCAT
    sop[1][sop[0].index("status")] = '=_xlfn.CONCAT("old ","status")'
    members = raw["Members"]
    members[2][members[0].index("name")] = '=_xlfn.CONCAT("Ch","en")'
    raw["Notes"] = [["item", "amount"], ["rent", 1200], ["ads", 300], ["total", "=SUM(B2:B3)"]]
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, lines in raw.items():
        sheet = book.create_sheet(title)
        for r, line in enumerate(lines, start=1):
            for c, value in enumerate(line, start=1):
                if value not in ("", None):
                    cell = sheet.cell(row=r, column=c, value=value)
                    if isinstance(value, str) and not value.startswith("="):
                        cell.data_type = "s"
    book["Settings"]["A1"].comment = openpyxl.comments.Comment("the operator's note", "operator")
    rule = openpyxl.worksheet.datavalidation.DataValidation(type="list", formula1='"yes,no"', allow_blank=True)
    book["Groups"].add_data_validation(rule)
    rule.add("K2:K100")
    book["Groups"]["A1"].font = openpyxl.styles.Font(bold=True)
    book.save(path)


def libreoffice_save(office: str, source: Path, out_dir: Path) -> Path:
    """`source` opened and saved as .xlsx by LibreOffice (which stores each formula's computed value)."""
    profile = out_dir / "lo-profile"
    done = subprocess.run([office, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
                           "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out_dir), str(source)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    shutil.rmtree(profile, ignore_errors=True)
    return out_dir / (source.stem + ".xlsx")


def formulas(path: Path) -> dict[str, tuple[str, object]]:
    """Every formula cell: sheet!cell -> (formula, cached value as openpyxl's data_only reads it)."""
    text, data = openpyxl.load_workbook(path), openpyxl.load_workbook(path, data_only=True)
    return {f"{s.title}!{c.coordinate}": (c.value, data[s.title][c.coordinate].value)
            for s in text.worksheets for row in s.iter_rows() for c in row if c.data_type == "f"}


def _settings(raw) -> dict:
    return {row[0]: row[1] for row in raw["Settings"][1:] if row}


def _formula_book(tmp_path: Path, live: bool = False) -> Path:
    path = tmp_path / "shop.xlsx"
    if live:
        office = shutil.which("soffice") or shutil.which("libreoffice")
        if not office:
            pytest.skip("LibreOffice is not installed here (apt-get install libreoffice-calc-nogui to run this check)")
        source = tmp_path / "src" / "shop.xlsx"
        source.parent.mkdir()
        formula_source(source)
        shutil.copy(libreoffice_save(office, source, tmp_path / "lo"), path)
    else:
        shutil.copy(FIXTURE, path)
    return path


@pytest.mark.parametrize("live", [False, True], ids=["fixture", "libreoffice-live"])
def test_formulas_and_their_cached_values_survive_ticks(tmp_path, live):
    path = _formula_book(tmp_path, live)
    before = formulas(path)
    assert before["Settings!B5"] == ("=3+4", 7) and before["Notes!B4"] == ("=SUM(B2:B3)", 1500)
    assert before["SOP!G2"][1] == "Good night from {{ group_name }}"
    shop = Shop(at("2026-12-01 09:55"), store=XlsxStore(path))
    # the fixture (saved by LibreOffice) names its webhooks env:HOOK_G01..., from before env: needed QUNFLOW_
    # names: the engineer's allow-list lets them through
    legacy = {name.removeprefix("QUNFLOW_"): value for name, value in shop.resolver.env.items()}
    shop.resolver = type(shop.resolver)(env={**shop.resolver.env, **legacy, "QUNFLOW_ENV_ALLOW": ",".join(legacy)})
    try:
        first = shop.tick(at("2026-12-01 10:00"))          # the day-1 tip; SendLog, statuses, last_tick written
        assert first.sent == 1 and not first.note
        after = formulas(path)
        status = next(k for k in before if k.startswith("SOP!") and before[k][1] == "old status")
        assert status not in after                          # qunflow's own status cell: now a value
        assert after == {k: v for k, v in before.items() if k != status}
        raw = read_xlsx(path, every_tab=True)               # python-calamine reads the cached values
        assert _settings(raw)["daily_cap"] == 7 and raw["Notes"][3][1] == 1500
        wb = load_workbook(XlsxStore(path).read().raw, today=date(2026, 12, 1))
        assert wb.settings.daily_cap == 7                   # not blank: the default (10) does not apply
        assert next(r for r in wb.sop if r.rule_id == "R01").content == "Good night from {{ group_name }}"
        assert wb.members["M0002"].name == "Chen" and wb.settings.extra["last_tick"] is not None
        shop.tick(at("2026-12-01 23:00"))                   # the rule whose content is a formula still runs
        texts = [m["text"] for m in shop.emulator.messages]
        assert texts.count("Good night from Spring deals") == 1 and texts.count("Good night from Flash sale") == 1
        assert formulas(path)["Settings!B5"] == ("=3+4", 7)
    finally:
        shop.close()


def test_the_openpyxl_writer_loses_the_cached_values_the_patcher_keeps(tmp_path):
    """Why the patcher exists: the whole-workbook rewrite keeps the formula text but not its value, so the
    daily cap reads blank and the SOP content empty until someone opens and saves the workbook."""
    path = _formula_book(tmp_path)
    store = XlsxStore(path, writer="openpyxl")
    changes = Changes()
    changes.set("groups", "G01", "status", "ok")
    assert not store.write(changes, store.read(), "en").deferred
    raw = read_xlsx(path, every_tab=True)
    assert _settings(raw)["daily_cap"] is None and raw["Notes"][3][1] is None


def test_libreoffice_opens_a_patched_workbook_and_reads_the_same(tmp_path):
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if not office:
        pytest.skip("LibreOffice is not installed here (apt-get install libreoffice-calc-nogui to run this check)")
    path = _demo(tmp_path)
    store = XlsxStore(path)
    wb = load_workbook(store.read().raw, today=TODAY)
    changes = Changes()
    for member in list(wb.members)[::3]:
        changes.set("members", member, "welcomed_at", "2026-11-24 20:00:00")
    changes.set("groups", next(iter(wb.groups)), "status", "<b>&\x01 _x0041_ 中文")
    changes.append("sendlog", [{"send_id": f"S{i}", "status": "sent", "attempts": i} for i in range(5)])
    assert not store.write(changes, store.read(), "en").deferred
    (tmp_path / "in").mkdir()
    shutil.copy(path, tmp_path / "in" / "patched.xlsx")
    again = libreoffice_save(office, tmp_path / "in" / "patched.xlsx", tmp_path / "lo")
    assert read_xlsx(again) == read_xlsx(path)


def test_the_fixture_is_what_libreoffice_saved():
    with zipfile.ZipFile(FIXTURE) as z:
        assert "LibreOffice" in z.read("docProps/app.xml").decode()
        assert b"<f aca=\"false\">3+4</f><v>7</v>" in z.read("xl/worksheets/sheet1.xml")
    assert FIXTURE.stat().st_size < 40_000


# --- byte for byte --------------------------------------------------------------------------------------------

def _members(path: Path) -> dict[str, tuple[int, int, bytes]]:
    """member -> (CRC, compressed size, compressed bytes as stored)."""
    out = {}
    with zipfile.ZipFile(path) as z, open(path, "rb") as f:
        for info in z.infolist():
            f.seek(info.header_offset)
            head = f.read(30)
            f.seek(info.header_offset + 30 + int.from_bytes(head[26:28], "little") + int.from_bytes(head[28:30], "little"))
            out[info.filename] = (info.CRC, info.compress_size, f.read(info.compress_size))
    return out


def _demo(tmp_path: Path) -> Path:
    from qunflow.jobs.demo_data import demo_rows
    from qunflow.jobs.initbook import init_xlsx
    path = tmp_path / "demo.xlsx"
    init_xlsx(path, "en", demo_rows(TODAY))
    book = openpyxl.load_workbook(path)                      # an operator's own tab with a chart
    sheet = book.create_sheet("Dashboard")
    for r in range(1, 6):
        sheet.append([f"day {r}", r * 10])
    chart = openpyxl.chart.BarChart()
    chart.add_data(openpyxl.chart.Reference(sheet, min_col=2, min_row=1, max_row=5))
    sheet.add_chart(chart, "D2")
    book.save(path)
    return path


def test_every_part_but_the_changed_sheets_is_copied_byte_for_byte(tmp_path):
    path = _demo(tmp_path)
    before = _members(path)
    store = XlsxStore(path)
    wb = load_workbook(store.read().raw, today=TODAY)
    changes = Changes()
    changes.set("groups", next(iter(wb.groups)), "status", "webhook dead since 2026-11-24")
    changes.set("members", next(iter(wb.members)), "welcomed_at", "2026-11-24 20:00:00")
    assert not store.write(changes, store.read(), "en").deferred
    after = _members(path)
    with open(path, "rb") as f:
        names = Package(f).sheet_parts()
    changed = {names[wb.tables["groups"].title], names[wb.tables["members"].title]}
    assert list(after) == list(before)                       # the same members, in the same order
    assert {n for n in before if before[n] != after[n]} == changed
    assert {"docProps/app.xml", "docProps/core.xml", "xl/styles.xml", "[Content_Types].xml"} <= set(before)
    assert any("comment" in n for n in before) and any("charts/" in n for n in before)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
    book = openpyxl.load_workbook(path)                      # notes, dropdowns, formats, the chart: still there
    sheet = book[wb.tables["groups"].title]
    assert sheet["A1"].comment is not None and sheet.data_validations.dataValidation
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"
    assert book["Dashboard"]._charts


# --- RAW cells, bad characters ---------------------------------------------------------------------------------

def _book(tmp_path: Path) -> Path:
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(BASE), path)
    return path


def test_text_that_looks_like_a_formula_is_written_as_text(tmp_path):
    path = _book(tmp_path)
    store = XlsxStore(path)
    changes = Changes()
    changes.append("sendlog", [{"send_id": "S1", "status": "sent", "preview": '=IMPORTXML("http://evil","//a")'}])
    changes.set("groups", "G01", "status", "=1+1")
    store.write(changes, store.read(), "en")
    book = openpyxl.load_workbook(path)
    cells = [c for s in book.worksheets for row in s.iter_rows() for c in row if str(c.value).startswith("=")]
    assert {c.value for c in cells} == {'=IMPORTXML("http://evil","//a")', "=1+1"}
    assert all(c.data_type == "s" for c in cells)
    with zipfile.ZipFile(path) as z:
        assert not any(b"<f" in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert _group_status(path) == "=1+1"


def _group_status(path: Path):
    raw = read_xlsx(path)
    header = raw["Groups"][0]
    return raw["Groups"][1][header.index("status")]


@pytest.mark.parametrize("value, expected", [
    ("bell\x07 nul\x00 esc\x1b vt\x0b ff\x0c", "bell\ufffd nul\ufffd esc\ufffd vt\ufffd ff\ufffd"),  # read as U+FFFD
    ("lone \ud800 surrogate \udfff", "lone \ufffd surrogate \ufffd"),
    ("non-characters \ufffe\uffff end", "non-characters \ufffd\ufffd end"),
    ("tab\tnewline\ncr\rcrlf\r\n", "tab\tnewline\ncr\rcrlf\r\n"),
    ("<b>&amp; ]]> \"quotes\" 'single'", "<b>&amp; ]]> \"quotes\" 'single'"),
    ("literal _x0041_ and _x005F_", "literal _x0041_ and _x005F_"),
    ("  spaces around  ", "  spaces around  "),
    ("emoji 🎉 中文 𠀋", "emoji 🎉 中文 𠀋"),
    ("x" * 40_000, "x" * 32_767),                        # Excel's limit per cell (openpyxl cuts there too)
])
def test_no_value_can_make_the_file_unreadable(tmp_path, value, expected):
    path = _book(tmp_path)
    store = XlsxStore(path)
    changes = Changes()
    changes.set("groups", "G01", "status", value)
    assert not store.write(changes, store.read(), "en").deferred
    assert _group_status(path) == expected                                  # python-calamine
    openpyxl.load_workbook(path)                                            # and openpyxl open it
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None


# --- the sheet XML: order, styles, clearing, appending ----------------------------------------------------------

def _styled(tmp_path: Path) -> Path:
    path = tmp_path / "t.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "T"
    for r in range(1, 6):
        for c in range(1, 5):
            sheet.cell(row=r, column=c, value=f"r{r}c{c}")
    sheet["B2"].font = openpyxl.styles.Font(bold=True)
    sheet["B2"].number_format = "0.00"
    sheet["C3"] = "=1+2"
    sheet.column_dimensions["F"].number_format = "@"
    book.save(path)
    return path


def _patch(path: Path, plan: WritePlan, raw=None) -> None:
    src = path.read_bytes()
    with open(path, "rb") as f, open(path.with_suffix(".new"), "wb") as out:
        patch_xlsx(f, out, place(plan, raw if raw is not None else read_xlsx(path, every_tab=True)))
    path.with_suffix(".new").replace(path)
    assert path.read_bytes() != src


def _sheet_xml(path: Path, part: str = "xl/worksheets/sheet1.xml") -> str:
    with zipfile.ZipFile(path) as z:
        return z.read(part).decode()


def _order_is_kept(xml: str) -> None:
    rows = [int(n) for n in re.findall(r'<row r="(\d+)"', xml)]
    assert rows == sorted(rows) and len(set(rows)) == len(rows)
    for row in re.findall(r"<row [^>]*>(.*?)</row>", xml):
        cols = [openpyxl.utils.column_index_from_string(c) for c in re.findall(r'<c r="([A-Z]+)\d+"', row)]
        assert cols == sorted(cols) and len(set(cols)) == len(cols)


def test_writes_in_any_order_land_in_order_and_keep_the_style(tmp_path):
    path = _styled(tmp_path)
    plan = WritePlan(writes=[RangeWrite("T", 3, 6, [["f3"]]), RangeWrite("T", 3, 1, [["a3"]]),
                             RangeWrite("T", 9, 2, [[9.5, True]]), RangeWrite("T", 2, 2, [[1.25]]),
                             RangeWrite("T", 7, 1, [["a7"]]), RangeWrite("T", 3, 5, [[42]])])
    _patch(path, plan)
    xml = _sheet_xml(path)
    _order_is_kept(xml)
    book = openpyxl.load_workbook(path)
    sheet = book["T"]
    assert sheet["B2"].value == 1.25 and sheet["B2"].font.bold and sheet["B2"].number_format == "0.00"
    assert [c.value for c in sheet[3]][:6] == ["a3", "r3c2", "=1+2", "r3c4", 42, "f3"]
    assert sheet["F3"].number_format == "@"                 # a new cell takes its column's format
    assert sheet["A7"].value == "a7" and sheet["B9"].value == 9.5 and sheet["C9"].value is True
    assert re.search(r'<dimension ref="A1:F9"', xml)
    raw = read_xlsx(path, every_tab=True)["T"]
    assert raw[8][1:3] == [9.5, True] and raw[6][0] == "a7"


def test_a_blank_clears_the_cell_and_keeps_its_style(tmp_path):
    path = _styled(tmp_path)
    _patch(path, WritePlan(writes=[RangeWrite("T", 2, 1, [["", None]]), RangeWrite("T", 4, 4, [[""]])]))
    sheet = openpyxl.load_workbook(path)["T"]
    assert sheet["A2"].value is None and sheet["B2"].value is None and sheet["D4"].value is None
    assert sheet["B2"].font.bold                             # cleared, still formatted as the operator made it
    assert sheet["C2"].value == "r2c3"
    assert read_xlsx(path, every_tab=True)["T"][1][:3] == [None, None, "r2c3"]


def test_appends_go_after_the_last_row_with_a_value(tmp_path):
    path = _styled(tmp_path)
    _patch(path, WritePlan(writes=[RangeWrite("T", 5, 1, [["", "", "", ""]])],      # row 5 emptied first
                           appends=[Append("T", [["n1", "", "x"], ["n2"]]), Append("T", [["n3"]])]))
    raw = read_xlsx(path, every_tab=True)["T"]
    assert [r[0] for r in raw] == ["r1c1", "r2c1", "r3c1", "r4c1", "n1", "n2", "n3"]
    assert raw[4][:3] == ["n1", None, "x"]
    xml = _sheet_xml(path)
    _order_is_kept(xml)
    assert '<dimension ref="A1:D7"' in xml


def test_overwriting_a_formula_drops_calc_chain_and_nothing_else(tmp_path):
    path = _styled(tmp_path)
    with_chain = tmp_path / "chain.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(with_chain, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/calcChain.xml" ContentType="application/'
                                    b'vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"/></Types>')
            if info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rId99" Type="http://schemas.openxml'
                                    b'formats.org/officeDocument/2006/relationships/calcChain" Target="calcChain.xml"/>'
                                    b"</Relationships>")
            out.writestr(info.filename, data)
        out.writestr("xl/calcChain.xml", b'<calcChain xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
                                         b'main"><c r="C3" i="1"/></calcChain>')
    untouched = tmp_path / "untouched.xlsx"
    shutil.copy(with_chain, untouched)
    _patch(untouched, WritePlan(writes=[RangeWrite("T", 2, 1, [["x"]])]))      # no formula written over
    assert {n for n, v in _members(untouched).items() if _members(with_chain)[n] != v} == {"xl/worksheets/sheet1.xml"}
    before = _members(with_chain)
    _patch(with_chain, WritePlan(writes=[RangeWrite("T", 3, 3, [["now text"]])]))
    after = _members(with_chain)
    assert "xl/calcChain.xml" not in after
    assert {n for n in after if after[n] != before[n]} == {"xl/worksheets/sheet1.xml", "[Content_Types].xml",
                                                          "xl/_rels/workbook.xml.rels"}
    with zipfile.ZipFile(with_chain) as z:
        assert b"calcChain" not in z.read("[Content_Types].xml") + z.read("xl/_rels/workbook.xml.rels")
    assert openpyxl.load_workbook(with_chain)["T"]["C3"].value == "now text"


def _rezip(path: Path, part: str, edit) -> None:
    """`path` with one member's content changed by `edit` (bytes -> bytes), rewritten by zipfile."""
    new = path.with_suffix(".rezip")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(new, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            out.writestr(info.filename, edit(data) if info.filename == part else data)
    new.replace(path)


def test_the_anchor_of_a_shared_formula_is_written_through_openpyxl(tmp_path):
    """Overwriting it would leave the cells that share it without a formula: the patcher refuses, openpyxl writes
    (translating the shared formula into each cell)."""
    path = _book(tmp_path)
    status = openpyxl.utils.get_column_letter(make_raw(BASE)["Groups"][0].index("status") + 1)

    def shared(xml: bytes) -> bytes:
        for row, f in ((2, b'<f t="shared" ref="%s2:%s3" si="0">"x"&amp;"y"</f>' % (status.encode(), status.encode())),
                       (3, b'<f t="shared" si="0"/>')):
            xml = re.sub(rb'(<row r="%d"[^>]*>.*?)</row>' % row,
                         lambda m, row=row, f=f: m.group(1) + b'<c r="%s%d" t="str">%s<v>xy</v></c></row>'
                         % (status.encode(), row, f),
                         xml, count=1, flags=re.S)
        return xml
    _rezip(path, "xl/worksheets/sheet2.xml", shared)
    with open(path, "rb") as f, open(tmp_path / "x.new", "wb") as out, pytest.raises(PatchUnsupported, match="shared"):
        patch_xlsx(f, out, {"Groups": {2: {openpyxl.utils.column_index_from_string(status): "ok"}}})
    store = XlsxStore(path)
    changes = Changes()
    changes.set("groups", "G01", "status", "ok")
    assert not store.write(changes, store.read(), "en").deferred
    assert _group_status(path) == "ok"
    assert openpyxl.load_workbook(path)["Groups"][f"{status}3"].value == '="x"&"y"'
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_missing_tab_is_created_through_openpyxl(tmp_path):
    path = tmp_path / "shop.xlsx"
    raw = make_raw(BASE)
    del raw["SendLog"]
    write_xlsx(raw, path)
    store = XlsxStore(path)
    changes = Changes()
    changes.append("sendlog", [{"send_id": "S1", "status": "sent"}])
    changes.set("groups", "G01", "status", "ok")
    assert not store.write(changes, store.read(), "en").deferred
    wb = load_workbook(XlsxStore(path).read().raw, today=TODAY)
    assert [r.send_id for r in wb.sendlog] == ["S1"] and wb.groups["G01"].status == "ok"


def _prefixed(xml: bytes) -> bytes:
    """The same worksheet with its elements in a prefixed namespace (`<x:row>`), as some libraries write it."""
    xml = re.sub(rb"<(/?)(?![?!])([A-Za-z]+)", rb"<\1x:\2", xml)
    return xml.replace(b"<x:worksheet xmlns=", b"<x:worksheet xmlns:x=", 1)


def _without_refs(xml: bytes) -> bytes:
    """The same worksheet with no r= on rows and cells (optional in the format: positions are implicit)."""
    return re.sub(rb' r="[A-Z]*\d+"', b"", xml)


VALUES = ["", None, "text", "=not a formula", "  padded ", 12, -3.5, 1e-07, True, False, "中文 🎉", "a\x01b"]


@pytest.mark.parametrize("variant", [None, _prefixed, _without_refs], ids=["plain", "prefixed", "no-refs"])
def test_random_plans_read_back_as_the_openpyxl_writer_writes_them(tmp_path, variant):
    import random
    from qunflow.stores.xlsx import apply_plan
    base = _styled(tmp_path)
    if variant is not None:
        _rezip(base, "xl/worksheets/sheet1.xml", variant)
    for seed in range(25):
        rng = random.Random(seed)
        writes = [RangeWrite("T", rng.randint(1, 12), rng.randint(1, 8),
                             [[rng.choice(VALUES) for _ in range(rng.randint(1, 3))] for _ in range(rng.randint(1, 3))])
                  for _ in range(rng.randint(1, 6))]
        appends = [Append("T", [[rng.choice(VALUES[2:]) for _ in range(rng.randint(1, 4))]]) for _ in range(rng.randint(0, 2))]
        plan = WritePlan(writes=writes, appends=appends)
        ours, theirs = tmp_path / f"ours{seed}.xlsx", tmp_path / f"theirs{seed}.xlsx"
        shutil.copy(base, ours)
        _patch(ours, plan)
        book = openpyxl.load_workbook(base)
        apply_plan(book, plan)
        book.save(theirs)
        assert read_xlsx(ours, every_tab=True) == read_xlsx(theirs, every_tab=True), (seed, plan)
        xml = _sheet_xml(ours)
        if variant is not _prefixed:
            _order_is_kept(xml)


# --- the store: snapshot reuse, lock files, concurrent saves ---------------------------------------------------

def test_the_write_reuses_the_snapshot_it_was_given(tmp_path, monkeypatch):
    path = _book(tmp_path)
    store = XlsxStore(path)
    snap = store.read()
    reads = []
    real = xlsx_module.read_xlsx
    monkeypatch.setattr(xlsx_module, "read_xlsx", lambda *a, **k: reads.append(1) or real(*a, **k))
    changes = Changes()
    changes.set("groups", "G01", "status", "one")
    store.write(changes, snap, "en")
    assert reads == []                                    # no pending overlay: the snapshot is the file's content
    (tmp_path / "~$shop.xlsx").write_text("operator")     # defer once, so the next read has an overlay
    changes = Changes()
    changes.set("groups", "G01", "status", "two")
    assert store.write(changes, store.read(), "en").deferred
    (tmp_path / "~$shop.xlsx").unlink()
    reads.clear()
    snap = store.read()
    assert _group_status(path) == "one" and load_workbook(snap.raw, today=TODAY).groups["G01"].status == "two"
    store.write(Changes(), snap, "en")
    assert len(reads) == 2                                # the read, then the file again (the snapshot had an overlay)
    assert _group_status(path) == "two" and not store.pending_path.exists()


@pytest.mark.parametrize("lock, app", [("~$shop.xlsx", "Excel or WPS"), (".~lock.shop.xlsx#", "LibreOffice")])
def test_an_open_workbook_is_not_written_and_nothing_is_lost(tmp_path, lock, app):
    path = _book(tmp_path)
    store = XlsxStore(path)
    original = path.read_bytes()
    (tmp_path / lock).write_text("an operator,host,...")
    changes = Changes()
    changes.set("groups", "G01", "status", "first")
    report = store.write(changes, store.read(), "en")
    assert report.deferred and path.read_bytes() == original
    assert "close the workbook so qunflow can write" in report.reason and "nothing is lost" in report.reason
    assert app in report.reason and lock in report.reason
    zh = store.write(Changes(), store.read(), "zh-CN")
    assert zh.deferred and "请关闭工作簿" in zh.reason and "不会丢失" in zh.reason
    snap = store.read()                                   # the pending changes show as written
    assert load_workbook(snap.raw, today=TODAY).groups["G01"].status == "first"
    changes = Changes()
    changes.set("members", "M0001", "coupon_code", "0042")
    assert store.write(changes, snap, "en").deferred
    (tmp_path / lock).unlink()                            # the operator closed it
    report = store.write(Changes(), store.read(), "en")
    assert not report.deferred and not store.pending_path.exists()
    wb = load_workbook(XlsxStore(path).read().raw, today=TODAY)
    assert wb.groups["G01"].status == "first" and wb.members["M0001"].coupon_code == "0042"


def test_ticks_while_the_workbook_is_open_post_once_and_write_it_all_once_it_is_closed(tmp_path):
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(copy.deepcopy(SHOP)), path)
    original = path.read_bytes()
    lock = tmp_path / ".~lock.shop.xlsx#"
    lock.write_text("operator,host,2026-12-01")
    shop = Shop(at("2026-12-01 09:55"), store=XlsxStore(path))
    try:
        first = shop.tick(at("2026-12-01 10:00"))
        assert first.sent == 1 and "close the workbook so qunflow can write; nothing is lost" in first.note
        again = shop.tick(at("2026-12-01 10:05"))            # the kept SendLog row counts: nothing is sent twice
        assert again.sent == 0 and again.note and path.read_bytes() == original
        lock.unlink()
        shop.tick(at("2026-12-01 10:10"))
        assert not XlsxStore(path).pending_path.exists()
        wb = load_workbook(read_xlsx(path), today=date(2026, 12, 1))
        assert [(r.rule_id, r.status) for r in wb.sendlog] == [("C01", "sent")]
        assert wb.settings.extra["last_tick"] is not None
        assert [m["text"] for m in shop.emulator.messages] == ["Day 1 tip"]
    finally:
        shop.close()


def test_an_operator_save_during_the_write_is_never_overwritten(tmp_path, monkeypatch):
    path = _book(tmp_path)
    store = XlsxStore(path)
    snap = store.read()
    real = xlsx_module.patch_xlsx

    def save_meanwhile(src, out, cells, *args):
        real(src, out, cells, *args)
        book = openpyxl.load_workbook(path)                # the operator saves while qunflow writes
        book["Groups"]["B2"] = "renamed by the operator"
        book.save(path)
    monkeypatch.setattr(xlsx_module, "patch_xlsx", save_meanwhile)
    changes = Changes()
    changes.set("groups", "G01", "status", "qunflow's")
    report = store.write(changes, snap, "en")
    assert report.deferred and "changed while qunflow was working" in report.reason
    assert openpyxl.load_workbook(path)["Groups"]["B2"].value == "renamed by the operator"
    assert not list(tmp_path.glob(".*.tmp"))
    monkeypatch.setattr(xlsx_module, "patch_xlsx", real)
    assert not store.write(Changes(), store.read(), "en").deferred   # the next run applies the kept change
    wb = load_workbook(XlsxStore(path).read().raw, today=TODAY)
    assert wb.groups["G01"].status == "qunflow's" and wb.groups["G01"].name == "renamed by the operator"


@pytest.mark.skipif(os.name == "nt", reason="Windows keeps only a read-only flag, not Unix modes")
def test_the_patched_file_keeps_its_permissions(tmp_path):
    path = _book(tmp_path)
    os.chmod(path, 0o640)
    store = XlsxStore(path)
    changes = Changes()
    changes.set("groups", "G01", "status", "ok")
    store.write(changes, store.read(), "en")
    assert (path.stat().st_mode & 0o777) == 0o640 and _group_status(path) == "ok"


def test_the_patcher_and_the_openpyxl_writer_read_back_the_same(tmp_path):
    a, b = _demo(tmp_path), tmp_path / "b.xlsx"
    shutil.copy(a, b)
    wb = load_workbook(XlsxStore(a).read().raw, today=TODAY)
    members = list(wb.members)
    changes = Changes()
    for i, member in enumerate(members[:5]):
        changes.set("members", member, "welcomed_at", f"2026-11-24 20:0{i}:00")
    changes.set("groups", next(iter(wb.groups)), "status", "dead")
    changes.append("sendlog", [{"send_id": f"S{i}", "status": "sent", "attempts": i, "preview": "=x"} for i in range(20)])
    changes.append("events", [{"event_id": f"EV{i}", "type": "join", "member_id": members[0], "at": "2026-11-24 09:00"}
                              for i in range(3)])
    changes.upsert("settings", [{"key": "last_tick", "value": datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)}])
    for path, writer in ((a, "patch"), (b, "openpyxl")):
        store = XlsxStore(path, writer=writer)
        assert not store.write(copy.deepcopy(changes), store.read(), "en").deferred
    assert read_xlsx(a, every_tab=True) == read_xlsx(b, every_tab=True)


def regenerate() -> None:
    """Write tests/data/libreoffice-formulas.xlsx again (needs LibreOffice: soffice on PATH)."""
    import tempfile
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if not office:
        raise SystemExit("soffice is not on PATH: apt-get install libreoffice-calc-nogui")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "libreoffice-formulas.xlsx"
        formula_source(source)
        DATA.mkdir(exist_ok=True)
        shutil.copy(libreoffice_save(office, source, Path(tmp) / "out"), FIXTURE)
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size:,} bytes)")


if __name__ == "__main__" and "--regenerate" in sys.argv:
    regenerate()


@pytest.mark.parametrize("dies", ["after the replace", "before the replace"])
def test_a_run_that_dies_around_the_replace_applies_kept_changes_once(tmp_path, monkeypatch, dies):
    """Changes kept while the workbook was open are written with the next run's own. A run killed after the
    new workbook replaced the old one but before the kept changes were removed must not append them again;
    one killed before the replace must still write them."""
    path = _book(tmp_path)
    lock = tmp_path / "~$shop.xlsx"
    lock.write_text("an operator")
    kept = Changes()
    kept.append("events", [{"event_id": "E-kept", "type": "message", "member_id": "M0001", "group_id": "G01",
                            "at": "2026-12-01 10:00"}])
    assert XlsxStore(path).write(kept, XlsxStore(path).read(), "en").deferred
    lock.unlink()

    class Killed(BaseException):
        pass

    real_replace = xlsx_module.os.replace

    def replace_then_die(src, dst):
        if str(dst) != str(path):
            return real_replace(src, dst)
        if dies == "after the replace":
            real_replace(src, dst)
        raise Killed()
    monkeypatch.setattr(xlsx_module.os, "replace", replace_then_die)
    store = XlsxStore(path)
    with pytest.raises(Killed):
        store.write(Changes(), store.read(), "en")
    monkeypatch.setattr(xlsx_module.os, "replace", real_replace)
    store = XlsxStore(path)
    assert not store.write(Changes(), store.read(), "en").deferred       # the next run
    rows = [r for r in read_xlsx(path)["Events"] if "E-kept" in r]
    assert len(rows) == 1, rows
    assert not store.pending_path.exists() and not store.written_path.exists()
