"""The embedded default: a local .xlsx workbook.

- Read fast with python-calamine (openpyxl is kept for writing, where it preserves
  formats, notes and validations).
- Write atomically: a temporary file in the same folder, then a rename; the file keeps its permissions.
- A lock file beside it, so two runs never interleave (`lease`, through `filelock`: Unix and Windows);
  it is removed when the run is done, also when the workbook does not exist.
- If the file changed since it was read (an operator saved in the meantime), the
  write is refused and the changes are kept in `<file>.qunflow-pending.json`.
  The next read shows them as already written, and the next write applies them,
  so nothing is lost and nothing the operator typed is overwritten.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import stat
import time as _time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import python_calamine

from ..sheet.changes import Changes
from .lease import LeaseBusy, file_lease
from ..sheet.problems import ProblemSink
from ..sheet.schema import is_schema_title, load_schemas
from ..sheet.tables import RawWorkbook, locate
from .writeplan import WritePlan, apply_to_raw, plan_writes
from .base import RequestCount, Snapshot, WriteReport


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_xlsx(path: Path, every_tab: bool = False) -> RawWorkbook:
    """qunflow's tabs (or, with every_tab, all of them) as raw rows."""
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        raw: RawWorkbook = {}
        for name in book.sheet_names:
            if not every_tab and not is_schema_title(name):
                continue  # operators' own tabs and the archives are never read
            rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            raw[name] = [[None if v == "" else v for v in row] for row in rows]
        return raw
    finally:
        book.close()


class XlsxStore:
    kind = "xlsx"

    def __init__(self, path: str | os.PathLike, *, sleep: Callable[[float], None] = _time.sleep,
                 monotonic: Callable[[], float] = _time.monotonic):
        self.path = Path(path)
        self.pending_path = self.path.with_name(self.path.name + ".qunflow-pending.json")
        self.lock_path = self.path.with_name(self.path.name + ".qunflow-lock")
        self.requests = RequestCount()
        self._sleep, self._monotonic = sleep, monotonic

    def describe(self) -> str:
        return str(self.path)

    def _pending(self) -> Changes | None:
        if self.pending_path.exists():
            return Changes.from_json(self.pending_path.read_text(encoding="utf-8"))
        return None

    def read(self) -> Snapshot:
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path} does not exist: create it with `qunflow init {self.path}`")
        self.requests.read += 1
        version = _digest(self.path)
        raw = read_xlsx(self.path)
        pending = self._pending()
        if pending is not None:  # show what is still to be written as written, so no job acts twice
            tables = locate(raw, load_schemas(), ProblemSink("en")).tables
            apply_to_raw(raw, plan_writes(tables, pending, "en"))
        return Snapshot(raw, version=version)

    def write(self, changes: Changes, snapshot: Snapshot, lang: str) -> WriteReport:
        pending = self._pending()
        todo = pending.merge(changes) if pending else changes
        if todo.is_empty():
            return WriteReport()
        if snapshot.version is not None and _digest(self.path) != snapshot.version:
            self.pending_path.write_text(todo.to_json(), encoding="utf-8")
            return WriteReport(deferred=True, reason=f"{self.path.name} changed while qunflow was working "
                               "(someone saved it); the changes are kept and written on the next run")
        self.requests.write += 1
        raw = read_xlsx(self.path)
        plan = plan_writes(locate(raw, load_schemas(), ProblemSink(lang)).tables, todo, lang)
        self._apply(plan)
        if pending is not None:
            self.pending_path.unlink(missing_ok=True)
        return WriteReport(skipped=plan.skipped)

    def _apply(self, plan: WritePlan) -> None:
        from openpyxl import load_workbook
        book = load_workbook(self.path)
        for title, header in plan.new_tabs:
            if title not in book.sheetnames:
                sheet = book.create_sheet(title)
                for col, text in enumerate(header, start=1):
                    _put(sheet, 1, col, text)
        for write in plan.writes:
            sheet = book[write.title]
            for r, values in enumerate(write.values):
                for c, value in enumerate(values):
                    _put(sheet, write.row + r, write.col + c, value)
        for append in plan.appends:
            sheet = book[append.title]
            row = _last_row(sheet) + 1
            for r, values in enumerate(append.rows):
                for c, value in enumerate(values):
                    _put(sheet, row + r, 1 + c, value)
        save_atomic(book, self.path)

    def move_rows(self, moves, snapshot: Snapshot) -> None:
        """Archive rows and rewrite the live tabs in one atomic file write (both, or neither)."""
        from openpyxl import load_workbook
        from ..sheet.moves import rewritten
        if snapshot.version is not None and _digest(self.path) != snapshot.version:
            raise RuntimeError(f"{self.path.name} changed while housekeeping worked; nothing was moved, run it again")
        book = load_workbook(self.path)
        for move in moves:
            if move.archive_title not in book.sheetnames:
                sheet = book.create_sheet(move.archive_title)
                for c, value in enumerate(move.header, start=1):
                    _put(sheet, 1, c, value)
            archive = book[move.archive_title]
            start = _last_row(archive) + 1
            for r, row in enumerate(move.archive):
                for c, value in enumerate(row, start=1):
                    _put(archive, start + r, c, value)
            live = book[move.title]
            for r, row in enumerate(rewritten(move), start=2):
                for c, value in enumerate(row, start=1):
                    _put(live, r, c, value)
        save_atomic(book, self.path)

    @contextmanager
    def lease(self, name: str, seconds: float = 0) -> Iterator[None]:
        """An exclusive lock on the workbook (`<file>.qunflow-lock`, removed afterwards); waits up to
        `seconds`, then raises LeaseBusy."""
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"{self.path} does not exist: its folder {self.path.parent} is missing")
        with file_lease(self.lock_path, seconds, f"another qunflow run is working on {self.path.name}",
                        sleep=self._sleep, monotonic=self._monotonic):
            yield


def _put(sheet: Any, row: int, col: int, value: Any) -> None:
    """Write a cell RAW: text never becomes a formula, whatever it starts with."""
    cell = sheet.cell(row=row, column=col)
    if value == "" or value is None:
        cell.value = None
        return
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"


def _last_row(sheet: Any) -> int:
    for row in range(sheet.max_row, 0, -1):
        if any(c.value not in (None, "") for c in sheet[row]):
            return row
    return 0


def save_atomic(book: Any, path: Path) -> None:
    """Save an openpyxl book to `path` atomically: a temporary file in the same folder, flushed, then renamed
    over `path`. It keeps the permissions `path` had; a new workbook gets those of any new file (the umask)."""
    tmp = _new_temp_beside(path)
    try:
        book.save(tmp)
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _new_temp_beside(path: Path) -> Path:
    """A new, empty `.<name>.<random>.tmp` beside `path`, created with the mode any new file gets (unlike
    tempfile.mkstemp's owner-only 0600)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
