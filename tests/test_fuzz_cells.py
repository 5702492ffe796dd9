"""Bad-input fuzz: any value in any cell of any tab gives Problems, never a traceback; and what qunflow writes back
for it (the cell's value, the Problems tab) leaves a workbook both readers open, the text read back as written.

Any value includes every code point: control characters, lone surrogates, U+FFFE and U+FFFF (read as U+FFFD,
with a warning). 500 examples here (25 for the written workbook); `make fuzz` runs 10,000 of each
(QUNFLOW_FUZZ_EXAMPLES)."""
import copy
import io
import os
import tempfile
from datetime import date, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import BASE, make_raw, write_xlsx
from test_text_hygiene import both_readers
from qunflow.sheet.cells import UNSTORABLE
from qunflow.sheet.changes import Changes
from qunflow.sheet.problems import ERROR, ProblemSink
from qunflow.sheet.schema import load_schemas
from qunflow.sheet.load import load_workbook
from qunflow.sheet.tables import locate
from qunflow.sheet.writeback import problems_changes
from qunflow.stores.writeplan import plan_writes
from qunflow.stores.xlsx import read_xlsx
from qunflow.stores.xlsx_patch import clean_text, patch_xlsx, place

EXAMPLES = int(os.environ.get("QUNFLOW_FUZZ_EXAMPLES", "500"))
WRITTEN_EXAMPLES = int(os.environ.get("QUNFLOW_FUZZ_EXAMPLES", "25"))     # each writes and reads a real .xlsx
TABS = [k for k, s in load_schemas().items() if not s.written]
UNICODE = st.characters(codec=None, categories=None)      # every code point: surrogates and control characters too
PIECES = st.sampled_from(["\x00", "\x01", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\r", "\r\n", "\t", "\ud800", "\udbff\udc00",
                          "\udfff", "\ufffe", "\uffff", "\ufffd", "_x000B_", "_x005F_", "_x0041_", "_xD800_", "\u2028", "\ufeff"])
values = st.one_of(
    st.text(max_size=40), st.text(UNICODE, max_size=40), st.lists(st.one_of(UNICODE, PIECES), max_size=12).map("".join),
    st.integers(-10**18, 10**18), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.none(), st.dates(min_value=date(1900, 1, 2)), st.datetimes(min_value=datetime(1900, 1, 2)),
    st.sampled_from(["=HYPERLINK(\"http://x\")", "+cmd", "@SUM(1)", "-1+1", "1.38E+10", "2026-02-30", "２５：００",
                     "{{ ''.__class__ }}", "每周八 20:00", "kind:vip", "tag:", "0123", "是", "✓", "\x00", "　"]),
)


EDITS = st.lists(st.tuples(st.sampled_from(TABS), st.integers(1, 3), st.integers(0, 15), values), min_size=1, max_size=8)


def _edited(edits) -> tuple[dict, dict[tuple[str, int, int], object]]:
    """BASE with the edits in its cells, and {(title, 0-based row, column): value} of the cells edited."""
    raw = make_raw(copy.deepcopy(BASE))
    schemas = load_schemas()
    cells = {}
    for tab, row, col, value in edits:
        title = schemas[tab].title("en")
        rows = raw[title]
        while len(rows) <= row:
            rows.append([])
        line = rows[row]
        if col >= len(rows[0]):
            col = col % max(1, len(rows[0]))
        while len(line) <= col:
            line.append("")
        line[col] = value
        cells[(title, row, col)] = value
    return raw, cells


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=EDITS)
def test_any_cell_value_gives_problems_not_tracebacks(edits):
    raw, _ = _edited(edits)
    wb = load_workbook(raw, today=date(2026, 11, 24))
    for p in wb.problems:
        assert p.tab and p.message and p.severity in ("error", "warning")
        assert p.row is None or p.row >= 1
        assert not UNSTORABLE.search(p.value + p.message + p.column)   # a Problem can always be written
    bad_rows = {(p.tab, p.row) for p in wb.problems if p.severity == ERROR}
    for group in wb.groups.values():  # a row with an error is never used
        assert ("Groups", group.row) not in bad_rows
    for member in wb.members.values():
        assert ("Members", member.row) not in bad_rows
    for rule in wb.sop:
        assert ("SOP", rule.row) not in bad_rows


_BOOK = io.BytesIO()
write_xlsx(make_raw(BASE), _BOOK)
BOOK = _BOOK.getvalue()
BOOK_RAW = read_xlsx(io.BytesIO(BOOK))


@settings(max_examples=WRITTEN_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=EDITS)
def test_what_qunflow_writes_back_for_any_cell_value_opens_in_both_readers(edits):
    """The edited cells and the Problems tab written into a real .xlsx by the surgical writer, as a run would."""
    raw, edited = _edited(edits)
    wb = load_workbook(raw, today=date(2026, 11, 24))
    changes = problems_changes(wb.problems, [], datetime(2026, 11, 24, 20, 0), Changes())
    cells = place(plan_writes(locate(BOOK_RAW, load_schemas(), ProblemSink("en")).tables, changes, "en"), BOOK_RAW)
    for (title, row, col), value in edited.items():
        cells.setdefault(title, {}).setdefault(row + 1, {})[col + 1] = value
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shop.xlsx"
        with open(path, "wb") as out:
            patch_xlsx(io.BytesIO(BOOK), out, cells)
        tabs = both_readers(path)
        again = load_workbook(read_xlsx(path), today=date(2026, 11, 24))
    for (title, row, col), value in edited.items():
        if isinstance(value, str):
            line = tabs[title][row] if row < len(tabs[title]) else []
            assert (line[col] if col < len(line) else "") == clean_text(value), (title, row, col)
    problems = tabs["Problems"]
    assert len(problems) - 1 >= len(wb.problems)
    assert not any(isinstance(v, str) and UNSTORABLE.search(v) for line in problems for v in line)
    assert [p.code for p in again.problems if p.code == "unstorable_text"] == []
