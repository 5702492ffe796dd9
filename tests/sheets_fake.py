"""The project's own fake of the Google Sheets API v4, on 127.0.0.1 over real HTTP.

An independent witness: written from the API's documented behaviour (see /work/shared/SHEETS.md), it imports
nothing from qunflow. gspread's real client code talks to it through `gspread_client(server.base_url)`.

    with FakeSheetsServer() as server:
        server.create_spreadsheet("S1", {"Members": [["id", "mobile"], ["M1", "0123"]]})
        gc = gspread_client(server.base_url)
        gc.http_client.values_batch_get("S1", ["'Members'"], {"valueRenderOption": "UNFORMATTED_VALUE"})

Faithful details: ranges come back normalized and quoted ('Send Log'!A1:J20, Sheet1!A1:Z1000 for a whole tab);
trailing empty cells and rows are trimmed, a blank middle row is [], an empty range has no `values`; errors are
{"error": {code, message, status}}; unshared sheets answer 404; reads and updates past the grid answer 400
"exceeds grid limits" (append adds rows); zero counts are omitted from replies (proto3 JSON).
"""
from __future__ import annotations

import copy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter

from sheets_fake_a1 import ApiError, DateTime, Formula, a1, quote_title  # noqa: F401  (re-exported for tests)
from sheets_fake_api import Api, Book, Sheet, route

KINDS = ("spreadsheets.get", "values.get", "values.batchGet", "values.batchUpdate", "values.append",
         "values.batchClear", "values.update", "values.clear", "spreadsheets.batchUpdate")
GOOGLE = "https://sheets.googleapis.com/"


class FakeSheetsServer:
    """The Sheets API v4 on http://127.0.0.1:<ephemeral port>. A context manager; thread-safe."""

    def __init__(self):
        self.api = Api()
        self.lock = threading.RLock()
        self.requests: list[dict] = []
        self.latency_seconds = 0.0
        self._faults: dict[str | None, list] = {}
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-sheets",
                                        daemon=True)
        self._thread.start()

    def __enter__(self) -> "FakeSheetsServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- seeding and inspecting ---------------------------------------------------------------
    def create_spreadsheet(self, spreadsheet_id: str, sheets: dict[str, list[list]] | None = None,
                           title: str = "Untitled spreadsheet", *, shared: bool = True,
                           permission_denied: bool = False, grid: dict[str, tuple[int, int]] | None = None) -> None:
        """Seed a spreadsheet (replacing one with that id). Values are stored as given (like RAW); "" is empty.
        Each tab's grid is max(1000, rows) x max(26, widest row) unless `grid` gives {title: (rows, cols)}."""
        book = Book(spreadsheet_id, title, shared, permission_denied)
        for index, (name, rows) in enumerate((sheets if sheets is not None else {"Sheet1": []}).items()):
            data = [[None if v == "" else v for v in row] for row in rows]
            size = (grid or {}).get(name) or (max(1000, len(data)), max(26, max((len(r) for r in data), default=0)))
            props = {"sheetId": 0 if index == 0 else book.new_sheet_id(), "title": name, "index": index,
                     "sheetType": "GRID", "gridProperties": {"rowCount": size[0], "columnCount": size[1]}}
            book.sheets.append(Sheet(props, data))
        with self.lock:
            self.api.books[spreadsheet_id] = book

    def set_access(self, spreadsheet_id: str, *, shared: bool = True, permission_denied: bool = False) -> None:
        with self.lock:
            book = self.api.books[spreadsheet_id]
            book.shared, book.permission_denied = shared, permission_denied

    def sheet_values(self, spreadsheet_id: str, title: str, render_option: str = "UNFORMATTED_VALUE") -> list[list]:
        """A tab's values as values.get would render them (trimmed); formulas show as FORMULA_RESULT."""
        with self.lock:
            book = self.api.books[spreadsheet_id]
            return self.api._value_range(book.resolve(quote_title(title)), render_option, "SERIAL_NUMBER",
                                         "ROWS").get("values", [])

    def cell(self, spreadsheet_id: str, title: str, a1_cell: str):
        """The stored cell: None, str, int, float, bool, Formula or DateTime (see sheets_fake_a1)."""
        with self.lock:
            box = self.api.books[spreadsheet_id].resolve(f"{quote_title(title)}!{a1_cell}")
            row = box.sheet.rows[box.r0] if box.r0 < len(box.sheet.rows) else []
            return row[box.c0] if box.c0 < len(row) else None

    def formulas(self, spreadsheet_id: str) -> list[tuple[str, str]]:
        """Every formula stored anywhere in the spreadsheet: [(range, formula text)]."""
        with self.lock:
            return [(a1(s.props["title"], r, c, r, c), v.text) for s in self.api.books[spreadsheet_id].sheets
                    for r, row in enumerate(s.rows) for c, v in enumerate(row) if isinstance(v, Formula)]

    def sheet_properties(self, spreadsheet_id: str) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(s.props) for s in self.api.books[spreadsheet_id].sheets]

    def structural_requests(self, spreadsheet_id: str) -> list[dict]:
        """Every request object of the successful spreadsheets.batchUpdate calls, in order."""
        with self.lock:
            return copy.deepcopy(self.api.books[spreadsheet_id].structural)

    # --- counting and faults --------------------------------------------------------------------
    @property
    def request_count(self) -> int:
        with self.lock:
            return len(self.requests)

    def count(self, kind: str | None = None) -> int:
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; one of {KINDS}")
        with self.lock:
            return sum(1 for r in self.requests if kind is None or r["kind"] == kind)

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()

    def inject(self, status: int, count: int = 1, kind: str | None = None, retry_after: float | None = None,
               applied: bool = False) -> None:
        """The next `count` requests (of `kind`, or any) answer `status`. count=0 cancels that kind's faults.
        `applied`: the request is carried out first and only its reply is the error (a reply lost on the way
        back, as a proxy or a dropped connection makes it)."""
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; one of {KINDS}")
        with self.lock:
            if count <= 0:
                self._faults.pop(kind, None)
            else:
                self._faults[kind] = [status, count, retry_after, applied]

    def _fault(self, kind: str, method: str) -> tuple[ApiError, float | None] | None:
        for key in (kind, None):
            fault = self._faults.get(key)
            if fault:
                status, left, retry_after, applied = fault
                fault[1] -= 1
                if fault[1] <= 0:
                    del self._faults[key]
                return _injected(status, method), retry_after, applied
        return None

    # --- HTTP -------------------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, body_bytes: bytes) -> tuple[int, dict, dict]:
        parts = urlsplit(raw_path)
        query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        kind, sid, range_text = route(method, parts.path)
        try:
            body = json.loads(body_bytes) if body_bytes.strip() else None
        except ValueError:
            body = ApiError(400, "Invalid JSON payload received.")
        option = query.get("valueInputOption") or (body.get("valueInputOption") if isinstance(body, dict) else None)
        record = {"method": method, "path": unquote(parts.path), "query": query, "body": body, "kind": kind,
                  "spreadsheet_id": sid, "range": range_text, "valueInputOption": option, "status": None,
                  "bytes": len(body_bytes)}      # the body as it came over the wire (the 2 MB advice: SHEETS.md)
        with self.lock:
            self.requests.append(record)
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        headers = {}
        with self.lock:
            try:
                fault = self._fault(kind, method)
                if fault:
                    if fault[1] is not None:
                        headers["Retry-After"] = str(fault[1])
                    if not fault[2]:
                        raise fault[0]
                if kind == "unknown":
                    raise ApiError(404, "Method not found.")
                if isinstance(body, ApiError):
                    raise body
                book = self.api.book(sid)
                status, reply = 200, getattr(self.api, _method_name(kind))(book, range_text, query, body)
                if fault:
                    raise fault[0]                       # carried out; the reply is lost
            except ApiError as err:
                status, reply = err.code, err.body()
            record["status"] = status
        return status, reply, headers

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else header and body segments wait ~40 ms for delayed ACKs

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                status, reply, headers = server.handle(self.command, self.path, self.rfile.read(length))
                data = json.dumps(reply, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        return Handler


def _method_name(kind: str) -> str:
    return {"spreadsheets.get": "spreadsheets_get", "spreadsheets.batchUpdate": "spreadsheets_batch_update",
            "values.get": "values_get", "values.batchGet": "values_batch_get", "values.update": "values_update",
            "values.batchUpdate": "values_batch_update", "values.append": "values_append",
            "values.clear": "values_clear", "values.batchClear": "values_batch_clear"}[kind]


def _injected(status: int, method: str) -> ApiError:
    if status == 429:
        metric = "Read requests" if method == "GET" else "Write requests"
        limit = metric.split()[0] + "RequestsPerMinutePerUser"
        return ApiError(429, f"Quota exceeded for quota metric '{metric}' and limit '{metric} per minute per user' "
                             "of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'.",
                        details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
                                  "domain": "googleapis.com",
                                  "metadata": {"service": "sheets.googleapis.com", "quota_limit": limit,
                                               "quota_metric": f"sheets.googleapis.com/{metric.lower().replace(' ', '_')}",
                                               "consumer": "projects/000000000000"}}])
    messages = {403: "The caller does not have permission", 404: "Requested entity was not found.",
                500: "Internal error encountered.", 502: "Bad Gateway", 503: "The service is currently unavailable.",
                504: "Deadline exceeded", 408: "Request timed out", 400: "Request contains an invalid argument."}
    return ApiError(status, messages.get(status, f"Injected failure {status}"))


# --- gspread over the fake ------------------------------------------------------------------------

class _ToFake(HTTPAdapter):
    """Sends requests meant for sheets.googleapis.com to the fake, keeping path and query."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base = base_url.rstrip("/")

    def send(self, request, **kwargs):  # type: ignore[override]
        parts = urlsplit(request.url)
        request.url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)


class _Offline(BaseAdapter):
    """Any other https:// request fails loudly: tests never reach the real Google."""

    def send(self, request, **kwargs):  # type: ignore[override]
        raise requests.ConnectionError(f"offline test session: refusing {request.url}")

    def close(self) -> None:
        pass


def gspread_session(base_url: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies between us and 127.0.0.1
    session.mount("https://", _Offline())
    session.mount(GOOGLE, _ToFake(base_url))
    return session


def gspread_client(base_url: str):
    import gspread
    return gspread.Client(auth=None, session=gspread_session(base_url))
