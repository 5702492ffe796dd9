"""Bad-input fuzz: any value in any cell of any tab gives Problems, never a traceback.

500 examples here; `make fuzz` runs 10,000 (QUNFLOW_FUZZ_EXAMPLES)."""
import copy
import os
from datetime import date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import BASE, make_raw
from qunflow.sheet.problems import ERROR
from qunflow.sheet.schema import load_schemas
from qunflow.sheet.load import load_workbook

EXAMPLES = int(os.environ.get("QUNFLOW_FUZZ_EXAMPLES", "500"))
TABS = [k for k, s in load_schemas().items() if not s.written]
values = st.one_of(
    st.text(max_size=40), st.integers(-10**18, 10**18), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.none(), st.dates(min_value=date(1900, 1, 2)), st.datetimes(min_value=datetime(1900, 1, 2)),
    st.sampled_from(["=HYPERLINK(\"http://x\")", "+cmd", "@SUM(1)", "-1+1", "1.38E+10", "2026-02-30", "２５：００",
                     "{{ ''.__class__ }}", "每周八 20:00", "kind:vip", "tag:", "0123", "是", "✓", "\x00", "　"]),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(TABS), st.integers(1, 3), st.integers(0, 15), values), min_size=1, max_size=8))
def test_any_cell_value_gives_problems_not_tracebacks(edits):
    raw = make_raw(copy.deepcopy(BASE))
    schemas = load_schemas()
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
    wb = load_workbook(raw, today=date(2026, 11, 24))
    for p in wb.problems:
        assert p.tab and p.message and p.severity in ("error", "warning")
        assert p.row is None or p.row >= 1
    bad_rows = {(p.tab, p.row) for p in wb.problems if p.severity == ERROR}
    for group in wb.groups.values():  # a row with an error is never used
        assert ("Groups", group.row) not in bad_rows
    for member in wb.members.values():
        assert ("Members", member.row) not in bad_rows
    for rule in wb.sop:
        assert ("SOP", rule.row) not in bad_rows
