"""The local workbook: atomic writes, a lock, RAW cells, and never overwriting an operator's save."""
import shutil
import subprocess
import threading
import time
from datetime import date

import pytest
from openpyxl import load_workbook as open_xlsx

from helpers import BASE, make_raw, write_xlsx
from qunflow.sheet.changes import Changes
from qunflow.stores.xlsx import LeaseBusy, XlsxStore
from qunflow.sheet.load import load_workbook

TODAY = date(2026, 11, 24)


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(BASE), path)
    return path


def _changes():
    changes = Changes()
    changes.set("groups", "G01", "status", "webhook dead since 2026-11-24")
    changes.set("members", "M0001", "welcomed_at", "2026-11-24 20:00:00")
    changes.append("sendlog", [{"send_id": f"S{i}", "rule_id": "R01", "group_id": "G01", "status": "sent",
                                "preview": "=HYPERLINK(\"http://evil\")" if i == 0 else "hello"} for i in range(3)])
    return changes


def test_write_back_by_key_and_raw(book):
    store = XlsxStore(book)
    snap = store.read()
    report = store.write(_changes(), snap, "en")
    assert not report.deferred
    wb = load_workbook(store.read().raw, today=TODAY)
    assert wb.groups["G01"].status == "webhook dead since 2026-11-24"
    assert str(wb.members["M0001"].welcomed_at) == "2026-11-24 20:00:00"
    assert [r.send_id for r in wb.sendlog] == ["S0", "S1", "S2"]
    sheet = open_xlsx(book)["SendLog"]
    formula_cell = [c for c in sheet[2] if c.value and str(c.value).startswith("=")][0]
    assert formula_cell.data_type == "s"  # text, never a formula
    assert not list(book.parent.glob("*.tmp"))


def test_rows_are_found_by_key_even_after_the_operator_sorts(book):
    store = XlsxStore(book)
    snap = store.read()
    # the operator reverses the member rows after qunflow read them (and before it writes)
    xl = open_xlsx(book)
    sheet = xl["Members"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    for r, values in enumerate(reversed(rows), start=2):
        for c, v in enumerate(values, start=1):
            sheet.cell(row=r, column=c, value=v)
    xl.save(book)
    changes = Changes()
    changes.set("members", "M0001", "coupon_code", "0042")
    # the file changed since the read: the write is refused and kept
    report = store.write(changes, snap, "en")
    assert report.deferred and "changed" in report.reason
    wb = load_workbook(store.read().raw, today=TODAY)  # pending changes show as written
    assert wb.members["M0001"].coupon_code == "0042"
    assert store.pending_path.exists()
    snap = store.read()
    store.write(Changes(), snap, "en")  # the next run's write applies the pending changes
    assert not store.pending_path.exists()
    wb = load_workbook(XlsxStore(book).read().raw, today=TODAY)
    assert wb.members["M0001"].coupon_code == "0042" and wb.members["M0002"].coupon_code is None


def test_a_second_run_cannot_take_the_lease(book):
    store = XlsxStore(book)
    with store.lease("tick", 0):
        with pytest.raises(LeaseBusy):
            with XlsxStore(book).lease("tick", 0):
                pass
    with XlsxStore(book).lease("tick", 0):
        pass


def test_the_demo_workbook_opens_in_libreoffice(tmp_path):
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if not office:
        pytest.skip("LibreOffice is not installed here (apt-get install libreoffice-calc-nogui to run this check)")
    from qunflow.jobs.demo_data import demo_rows
    from qunflow.jobs.initbook import init_xlsx
    path = tmp_path / "demo.xlsx"
    init_xlsx(path, "zh-CN", demo_rows(TODAY))
    out = subprocess.run([office, "--headless", "--convert-to", "csv", "--outdir", str(tmp_path), str(path)],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "demo.csv").read_text(encoding="utf-8", errors="replace").strip()
