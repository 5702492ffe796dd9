"""A Google sheet through gspread: 1 request to read every tab, usually 2 to write back (more only past 2 MB).

- Read: one `values.batchGet` (UNFORMATTED_VALUE + SERIAL_NUMBER dates), no metadata
  fetch. Tab titles are remembered; only when a title is unknown (the first run, or
  after staff renamed a tab) is the sheet's tab list fetched once.
- Write: one `values.batchUpdate` (RAW) for every cell, replaced tab and header, plus
  one `values.append` (RAW, INSERT_ROWS) per log tab that grows (normally just SendLog). Cells written one by
  one are merged into ranges, and a body over `max_request_bytes` (2 MB: a first tick at a large shop) is cut
  into several requests (stores/batching.py). A date or datetime
  goes as its serial number (`sheet.cells.storable_value`): the column's date format, set when the tab is made
  (`qunflow init`), shows it as a date, and the read's SERIAL_NUMBER gives the same number back.
  Rare extras, each documented: creating a missing tab, and growing a grid that is full.
- Every call has a timeout and bounded retries with jitter (429, 5xx, network).
- `QUNFLOW_SHEETS_API=http://127.0.0.1:9000` sends every request there, without credentials.
"""
from __future__ import annotations

import os
import random
import re
import time as _time
from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import requests

from ..sheet.cells import storable_value
from ..sheet.changes import Changes
from ..sheet.problems import ProblemSink
from ..sheet.schema import LANGS, load_schemas, tabs_to_read
from ..sheet.tables import column_letter, locate
from .batching import MAX_REQUEST_BYTES, merge_writes, split_rows, split_writes
from .writeplan import Append, WritePlan, plan_writes
from .base import RequestCount, Snapshot, WriteReport
from .retry import status_of, with_retries

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
GOOGLE_API = "https://sheets.googleapis.com/"
READ_PARAMS = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER",
               "majorDimension": "ROWS"}


LEASE_TTL_SECONDS = 900  # longer than any function timeout (workflows/jobs.yaml), so a live holder keeps it

class SheetAccessError(RuntimeError):
    """The sheet cannot be opened: not found, not shared, or no credentials."""


class _Redirect(requests.adapters.HTTPAdapter):
    """Send requests meant for sheets.googleapis.com to another base URL (a gateway or a local fake)."""

    def __init__(self, base: str):
        super().__init__()
        self.base = base.rstrip("/")

    def send(self, request, **kwargs):  # type: ignore[override]
        parts = urlsplit(request.url)
        request.url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)


def gateway_session(base: str) -> requests.Session:
    session = requests.Session()
    session.mount(GOOGLE_API, _Redirect(base))
    return session


def quote_title(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def a1(row: int, col: int) -> str:
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row}"


_GRID = re.compile(r"!\$?[A-Z]+\$?(\d+):\$?[A-Z]+\$?(\d+)$")


class GoogleSheetsStore:
    kind = "google"

    def __init__(self, spreadsheet_id: str, *, client: Any = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = _time.sleep, rng: random.Random | None = None,
                 timeout: tuple[float, float] = (10, 60), attempts: int = 7, credentials_file: str | None = None,
                 lease: Any = None, max_request_bytes: int = MAX_REQUEST_BYTES):
        import gspread
        self.spreadsheet_id = spreadsheet_id
        self.max_request_bytes = max_request_bytes
        self.requests = RequestCount()
        self.account_email = ""
        self._sleep, self._rng, self._attempts = sleep, rng or random.Random(), attempts
        self._titles: list[str] | None = None
        self._lease = lease  # a qunflow.stores.lease.StateLease in the cloud; None means no cross-process lock
        if client is None:
            gateway = os.environ.get("QUNFLOW_SHEETS_API")
            if session is None and gateway:
                session = gateway_session(gateway)
            if session is not None:
                client = gspread.Client(auth=None, session=session)
            else:
                client = gspread.Client(auth=self._credentials(credentials_file))
        client.set_timeout(timeout)
        self.http = client.http_client

    def _credentials(self, credentials_file: str | None) -> Any:
        import google.auth
        from google.oauth2 import service_account
        path = credentials_file or os.environ.get("QUNFLOW_SERVICE_ACCOUNT_FILE")
        try:
            if path:
                creds = service_account.Credentials.from_service_account_file(path, scopes=SCOPES)
            else:
                creds, _ = google.auth.default(scopes=SCOPES)
        except Exception as exc:  # google.auth raises several kinds
            raise SheetAccessError(
                "No Google credentials found. In the cloud the function's service account is used; locally run "
                "`gcloud auth application-default login` or set QUNFLOW_SERVICE_ACCOUNT_FILE "
                f"to a service-account key file. ({type(exc).__name__})") from None
        self.account_email = getattr(creds, "service_account_email", "") or ""
        return creds

    def describe(self) -> str:
        return f"gsheets:{self.spreadsheet_id}"

    # --- plumbing --------------------------------------------------------------------------

    def _call(self, kind: str, fn: Callable[[], Any]) -> Any:
        def counted() -> Any:
            if kind == "read":
                self.requests.read += 1
            else:
                self.requests.write += 1
            return fn()
        try:
            return with_retries(counted, sleep=self._sleep, rng=self._rng, attempts=self._attempts)
        except Exception as exc:
            if status_of(exc) in (403, 404):
                who = self.account_email or "the service account qunflow runs as (see `terraform output`)"
                raise SheetAccessError(
                    f"The sheet {self.spreadsheet_id} was not found or qunflow may not open it "
                    f"(HTTP {status_of(exc)}). Share the sheet with {who} as Editor.") from None
            raise

    def tab_titles(self) -> list[str]:
        meta = self._call("read", lambda: self.http.spreadsheets_get(
            self.spreadsheet_id, params={"fields": "sheets.properties(sheetId,title,gridProperties)"}))
        self._sheet_ids = {s["properties"]["title"]: s["properties"]["sheetId"] for s in meta.get("sheets", [])}
        return [s["properties"]["title"] for s in meta.get("sheets", [])]

    def _guess_titles(self) -> list[str]:
        lang = os.environ.get("QUNFLOW_SHEET_LANG", "en")
        return [schema.title(lang if lang in LANGS else "en") for schema in load_schemas().values()]

    # --- the interface ---------------------------------------------------------------------

    def read(self) -> Snapshot:
        titles = self._titles or self._guess_titles()
        try:
            reply = self._call("read", lambda: self.http.values_batch_get(
                self.spreadsheet_id, [quote_title(t) for t in titles], dict(READ_PARAMS)))
        except Exception as exc:
            if status_of(exc) != 400:
                raise
            titles = tabs_to_read(self.tab_titles())  # learn the real titles once (and look for a renamed tab)
            reply = self._call("read", lambda: self.http.values_batch_get(
                self.spreadsheet_id, [quote_title(t) for t in titles], dict(READ_PARAMS)))
        self._titles = titles
        raw, grid = {}, {}
        for title, value_range in zip(titles, reply.get("valueRanges", [])):
            raw[title] = [list(r) for r in value_range.get("values", [])]
            if m := _GRID.search(value_range.get("range", "")):
                grid[title] = int(m[2])
        return Snapshot(raw, grid_rows=grid)

    def write(self, changes: Changes, snapshot: Snapshot, lang: str) -> WriteReport:
        if changes.is_empty():
            return WriteReport()
        before = self.requests.write
        tables = locate(snapshot.raw, load_schemas(), ProblemSink(lang), snapshot.grid_rows).tables
        plan = plan_writes(tables, changes, lang)
        self._link_addresses(plan)
        self._structure(plan, snapshot)
        _storable(plan)
        limit = self.max_request_bytes
        for batch in split_writes(merge_writes(plan.writes), limit):    # one request unless over ~2 MB
            body = {"valueInputOption": "RAW", "data": [
                {"range": f"{quote_title(w.title)}!{a1(w.row, w.col)}", "majorDimension": "ROWS", "values": w.values}
                for w in batch]}
            self._call("write", lambda body=body: self.http.values_batch_update(self.spreadsheet_id, body))
        by_title = {t.title: t for t in tables.values()}
        for append in plan.appends:
            for rows in split_rows(append.rows, limit):
                self._append_once(Append(append.title, rows), by_title.get(append.title))
        return WriteReport(requests=self.requests.write - before, skipped=plan.skipped)

    def _link_addresses(self, plan: WritePlan) -> None:
        """A Problem's 位置 cell holds the address of its cell (`…/edit#gid=…&range=K3`), which Google Sheets shows
        as a link, when the tabs' ids are known from this run (no request is spent on them); else `社群!K3`."""
        ids = getattr(self, "_sheet_ids", None) or {}
        for title, links in plan.links.items():
            for w in (w for w in plan.writes if w.title == title):
                for (r, c), (target, cell) in links.items():
                    i, j = r - w.row, c - w.col
                    if target in ids and 0 <= i < len(w.values) and 0 <= j < len(w.values[i]):
                        w.values[i][j] = (f"https://docs.google.com/spreadsheets/d/{self.spreadsheet_id}/edit"
                                          f"#gid={ids[target]}&range={cell}")

    def _append_once(self, append: Any, table: Any) -> None:
        """values.append is not idempotent: retried after a reply that was lost, it would add the rows twice. So a
        retry first reads the tab's key column (1 request) and does nothing when its last rows are these rows."""
        key = table.schema.key_columns[0] if table is not None and table.schema.key_columns else None
        index = table.columns.get(key) if key else None
        tried = False

        def landed() -> bool:
            if index is None:
                return False
            letter = column_letter(index)
            self.requests.read += 1
            reply = self.http.values_get(self.spreadsheet_id, f"{quote_title(append.title)}!{letter}:{letter}",
                                         params={"valueRenderOption": "UNFORMATTED_VALUE"})
            column = [str(r[0]) if r else "" for r in reply.get("values", [])]
            keys = [str(r[index]) if index < len(r) and r[index] is not None else "" for r in append.rows]
            return len(column) > len(keys) and column[-len(keys):] == keys

        def attempt() -> Any:
            nonlocal tried
            if tried and landed():
                return None
            tried = True
            start = table.header_row if table is not None else 1   # the table starts at its header, not a title
            return self.http.values_append(self.spreadsheet_id, f"{quote_title(append.title)}!A{start}",
                                           {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                                           {"values": append.rows})
        self._call("write", attempt)

    def write_ahead(self, tab: str, rows: list[dict], snapshot: Snapshot, lang: str) -> int:
        """Append rows now (1 request, RAW, grows the grid) and return the sheet row of the first one.

        The tick writes every send's SendLog row (`pending`) before posting anything: the cloud's
        write-ahead log. The final statuses then overwrite these rows in the one batch write."""
        tables = locate(snapshot.raw, load_schemas(), ProblemSink(lang), snapshot.grid_rows).tables
        table = tables[tab]
        from .writeplan import _TabPlan, workbook_zones
        if table.unreadable:
            raise SheetAccessError(f"qunflow cannot read the header of the {table.title} tab, so it cannot log "
                                   "sends there before posting them: nothing was sent. Fix the tab (qunflow "
                                   "validate says how).")
        t = _TabPlan(table, lang, WritePlan(), workbook_zones(tables))
        lines = [[storable_value(v) for v in t.line(r)] for r in rows]
        reply = self._call("write", lambda: self.http.values_append(
            self.spreadsheet_id, f"{quote_title(table.title)}!A{t.header_row}",
            {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"}, {"values": lines}))
        updated = reply.get("updates", {}).get("updatedRange", "")
        m = re.search(r"![A-Z]+(\d+)", updated)
        if not m:
            raise RuntimeError(f"unexpected append reply for {table.title}: {updated!r}")
        if table.title in snapshot.grid_rows:
            snapshot.grid_rows[table.title] += len(lines)
        return int(m[1])

    def move_rows(self, moves, snapshot: Snapshot) -> None:
        """Per tab: append the rows to the archive tab first (creating it if needed), then rewrite the live tab.
        A failure in between leaves rows in both places, never in neither."""
        from ..sheet.moves import rewritten
        existing = set(self.tab_titles())
        for move in moves:
            if move.archive_title not in existing:
                self._call("write", lambda m=move: self.http.batch_update(self.spreadsheet_id, {"requests": [
                    {"addSheet": {"properties": {"title": m.archive_title, "gridProperties": {"frozenRowCount": 1}}}}]}))
                self._call("write", lambda m=move: self.http.values_batch_update(self.spreadsheet_id, {
                    "valueInputOption": "RAW", "data": [{"range": f"{quote_title(m.archive_title)}!A1", "values": [m.header]}]}))
            self._call("write", lambda m=move: self.http.values_append(
                self.spreadsheet_id, f"{quote_title(m.archive_title)}!A1",
                {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"}, {"values": m.archive}))
            rows = [["" if v is None else v for v in r] for r in rewritten(move)]
            self._call("write", lambda m=move, rows=rows: self.http.values_batch_update(self.spreadsheet_id, {
                "valueInputOption": "RAW", "data": [{"range": f"{quote_title(m.title)}!A2", "values": rows}]}))

    def _structure(self, plan: WritePlan, snapshot: Snapshot) -> None:
        """Rare: add missing tabs, and grow grids a write would overflow (the API refuses writes past the grid)."""
        requests_: list[dict] = []
        if plan.new_tabs:
            requests_ += [{"addSheet": {"properties": {"title": t, "gridProperties": {"rowCount": 1000, "frozenRowCount": 1}}}}
                          for t, _ in plan.new_tabs]
            for title, header in plan.new_tabs:
                snapshot.grid_rows[title] = 1000
                plan.writes.insert(0, _header_write(title, header))
        _overflow_to_appends(plan, snapshot.grid_rows)
        need: dict[str, int] = {}
        for w in plan.writes:
            grid = snapshot.grid_rows.get(w.title)
            if grid is not None and w.last_row > grid:
                need[w.title] = max(need.get(w.title, 0), w.last_row - grid)
        if need:
            ids = getattr(self, "_sheet_ids", None) or (self.tab_titles() and self._sheet_ids)
            for title, rows in need.items():
                requests_.append({"appendDimension": {"sheetId": ids[title], "dimension": "ROWS",
                                                      "length": max(rows, 1000)}})
                snapshot.grid_rows[title] += max(rows, 1000)
        if requests_:
            self._call("write", lambda: self.http.batch_update(self.spreadsheet_id, {"requests": requests_}))
            if plan.new_tabs:
                self._titles = None

    @contextmanager
    def lease(self, name: str, seconds: float = 0) -> Iterator[None]:
        """Sheets cannot lock; the lease is a state store record (qunflow.stores.lease.StateLease), held for 15
        minutes at most (longer than any function's timeout)."""
        if self._lease is None:
            yield
            return
        with self._lease.hold(f"qunflow-{self.spreadsheet_id}-{name}.lease", LEASE_TTL_SECONDS):
            yield


def _overflow_to_appends(plan: WritePlan, grid_rows: dict[str, int]) -> None:
    """Rows past a tab's grid go by values.append (which grows the grid), after the in-grid part is written.

    The API refuses values.batchUpdate past the grid; appends of one tab are merged into one request."""
    from .writeplan import Append
    kept, extra = [], {}
    for w in plan.writes:
        grid = grid_rows.get(w.title)
        if grid is None or w.last_row <= grid or w.col != 1:
            kept.append(w)
            continue
        inside = max(0, grid - w.row + 1)
        if inside:
            kept.append(type(w)(w.title, w.row, w.col, w.values[:inside]))
        extra.setdefault(w.title, []).extend(w.values[inside:])
    plan.writes = kept
    merged = {}
    for append in list(plan.appends) + [Append(t, rows) for t, rows in extra.items()]:
        merged.setdefault(append.title, []).extend(append.rows)
    plan.appends = [Append(t, rows) for t, rows in merged.items()]


def _storable(plan: WritePlan) -> None:
    """The last line of defence: text no sheet can hold (a lone surrogate, a control character) goes as U+FFFD."""
    for w in plan.writes:
        w.values = [[storable_value(v) for v in row] for row in w.values]
    for a in plan.appends:
        a.rows = [[storable_value(v) for v in row] for row in a.rows]


def _header_write(title: str, header: list[str]):
    from .writeplan import RangeWrite
    return RangeWrite(title, 1, 1, [header])
