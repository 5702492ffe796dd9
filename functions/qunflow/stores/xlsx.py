"""The embedded default: a local .xlsx workbook.

- Read fast with python-calamine, from the very bytes whose digest is the snapshot's version.
- Write surgically (xlsx_patch.py): only the changed cells of the changed tabs are re-encoded, every other
  part of the file is copied byte for byte (styles, notes, validations, charts, and the cached values of the
  operators' formulas). The plan is resolved against the snapshot the caller read when that snapshot is the
  file's own content (no pending overlay) and the file is unchanged; else the file is read again. A missing
  tab to create (rare), or a workbook the patcher does not handle (xlsx_patch.py says which), goes through
  openpyxl, which rewrites the whole workbook (and drops formulas' cached values). `writer="openpyxl"`
  keeps that old path for every write (the benchmark compares the two).
- Write atomically: a temporary file in the same folder, flushed, then a rename; the file keeps its
  permissions. Just before the rename the file must still be the one that was read, else nothing is replaced.
- A lock file beside it, so two runs never interleave (`lease`, through `filelock`: Unix and Windows);
  it is removed when the run is done, also when the workbook does not exist.
- While the workbook is open in Excel or WPS (`~$<name>` beside it) or LibreOffice (`.~lock.<name>#`), it is
  not written: the operator's next save would put the old content back over qunflow's.
- If the file changed since it was read (an operator saved in the meantime), or is open, the changes are kept
  in `<file>.qunflow-pending.json`. The next read shows them as already written, and the next write applies
  them, so nothing is lost and nothing the operator typed is overwritten.
"""
from __future__ import annotations

import hashlib
import io
import os
import secrets
import stat
import time as _time
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import python_calamine
from openpyxl.styles.numbers import is_date_format

from ..sheet.cells import storable
from ..sheet.changes import Changes
from ..sheet.layout import NUMBER_FORMATS
from .lease import LeaseBusy, file_lease
from ..sheet.problems import ProblemSink
from ..sheet.schema import load_schemas, tabs_to_read
from ..sheet.tables import HEADER_ROWS, RawWorkbook, locate
from .writeplan import WritePlan, apply_to_raw, plan_writes
from .base import RequestCount, Snapshot, WriteReport
from .xlsx_patch import LEVEL, PatchUnsupported, escaped_text, patch_xlsx, place

REASONS = {
    "open": {
        "en": "{name} is open in {app} ({lock} is beside it): close the workbook so qunflow can write; nothing is "
              "lost, the changes are kept and written on the next run (if it is not open, delete {lock})",
        "zh-CN": "{name} 正在 {app} 中打开（旁边有 {lock}）：请关闭工作簿，qunflow 才能写入；不会丢失任何内容，改动已保留，"
                 "下次运行时写入（如果并没有打开，请删除 {lock}）",
    },
    "changed": {
        "en": "{name} changed while qunflow was working (someone saved it); the changes are kept and written on "
              "the next run",
        "zh-CN": "{name} 在 qunflow 工作期间被修改（有人保存了它）；改动已保留，下次运行时写入",
    },
}


APPS = {"zh-CN": {"Excel or WPS": "Excel 或 WPS"}}


def _reason(kind: str, lang: str, **values: Any) -> str:
    """Why a write was kept for later, in the workbook's language (`WriteReport.reason`, shown by the CLI)."""
    if "app" in values:
        values["app"] = APPS.get(lang, {}).get(values["app"], values["app"])
    return REASONS[kind].get(lang, REASONS[kind]["en"]).format(**values)


def _digest(path: Path) -> str:
    with path.open("rb") as f:
        return _digest_of(f)


def _digest_of(f: BinaryIO) -> str:
    h = hashlib.sha256()
    f.seek(0)
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
    return h.hexdigest()


def office_lock(path: Path) -> tuple[str, Path] | None:
    """(application, lock file) when Excel, WPS or LibreOffice has the workbook open, else None. Excel and WPS
    write `~$<name>` (Word-style owner files put ~$ over the first two letters of a long name: looked for too)."""
    names = [("Excel or WPS", "~$" + path.name), ("LibreOffice", f".~lock.{path.name}#")]
    if len(path.stem) > 2:
        names.append(("Excel or WPS", "~$" + path.name[2:]))
    for app, name in names:
        if path.with_name(name).exists():
            return app, path.with_name(name)
    return None


def read_xlsx(path: Path | BinaryIO, every_tab: bool = False, merged: dict | None = None) -> RawWorkbook:
    """qunflow's tabs (or, with every_tab, all of them) as raw rows; `path` may be an open binary file. While one
    of qunflow's tabs is not there by its title, the others are read too (`tabs_to_read`: one may be it, renamed).
    `merged`, when given, gets each tab's merged cells near the top (row0, col0, row1, col1; 0-based)."""
    if isinstance(path, (str, os.PathLike)):
        book = python_calamine.CalamineWorkbook.from_path(str(path))
    else:
        path.seek(0)
        book = python_calamine.CalamineWorkbook.from_filelike(path)
    try:
        raw: RawWorkbook = {}
        wanted = set(tabs_to_read(list(book.sheet_names)))
        for name in book.sheet_names:
            if not every_tab and name not in wanted:
                continue  # operators' own tabs and the archives are not read
            sheet = book.get_sheet_by_name(name)
            rows = sheet.to_python(skip_empty_area=False)
            raw[name] = [[None if v == "" else v for v in row] for row in rows]
            if merged is not None:
                merged[name] = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in (sheet.merged_cell_ranges or ())
                                if r0 < HEADER_ROWS]
        return raw
    finally:
        book.close()


def _shape(raw: RawWorkbook) -> dict[str, int]:
    return {title: len(rows) for title, rows in raw.items()}


class XlsxStore:
    kind = "xlsx"

    def __init__(self, path: str | os.PathLike, *, sleep: Callable[[float], None] = _time.sleep,
                 monotonic: Callable[[], float] = _time.monotonic, writer: str = "patch"):
        if writer not in ("patch", "openpyxl"):
            raise ValueError(f"unknown writer {writer!r}: patch or openpyxl")
        self.path = Path(path)
        self.pending_path = self.path.with_name(self.path.name + ".qunflow-pending.json")
        self.lock_path = self.path.with_name(self.path.name + ".qunflow-lock")
        self.written_path = self.path.with_name(self.path.name + ".qunflow-pending.written")  # see write()
        self.requests = RequestCount()
        self.writer = writer
        self._sleep, self._monotonic = sleep, monotonic
        self._clean: tuple[str, RawWorkbook, dict[str, int]] | None = None   # the last read with no overlay

    def describe(self) -> str:
        return str(self.path)

    def _pending(self) -> Changes | None:
        if self.written_path.exists():   # a run died between writing the pending changes and removing them
            written = self.written_path.read_text(encoding="ascii").strip()
            if self.path.exists() and _digest(self.path) == written:
                self.pending_path.unlink(missing_ok=True)     # the workbook is the one they were written into
            self.written_path.unlink(missing_ok=True)
        if self.pending_path.exists():
            return Changes.from_json(self.pending_path.read_text(encoding="utf-8"))
        return None

    def _keep(self, todo: Changes) -> None:
        """Keep changes for the next run, atomically (a crash never leaves half a pending file)."""
        tmp = _new_temp_beside(self.pending_path)
        try:
            tmp.write_text(storable(todo.to_json()), encoding="utf-8")   # a lone surrogate cannot be UTF-8
            os.replace(tmp, self.pending_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def read(self) -> Snapshot:
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path} does not exist: create it with `qunflow init {self.path}`")
        self.requests.read += 1
        data = io.BytesIO(self.path.read_bytes())   # one read: the digest and the rows are of the same bytes
        version = _digest_of(data)
        merged: dict = {}
        raw = read_xlsx(data, merged=merged)
        pending = self._pending()
        if pending is not None:  # show what is still to be written as written, so no job acts twice
            self._clean = None
            tables = locate(raw, load_schemas(), ProblemSink("en")).tables
            apply_to_raw(raw, plan_writes(tables, pending, "en"))
        else:
            self._clean = (version, raw, _shape(raw))
        return Snapshot(raw, version=version, merged=merged)

    def _file_raw(self, snapshot: Snapshot, version: str, src: BinaryIO) -> RawWorkbook:
        """The file's own rows: the snapshot's when it was read here with no overlay and is unchanged."""
        clean = self._clean
        if clean is not None and clean[0] == version and clean[1] is snapshot.raw and clean[2] == _shape(snapshot.raw):
            return snapshot.raw
        return read_xlsx(src)

    def write(self, changes: Changes, snapshot: Snapshot, lang: str) -> WriteReport:
        pending = self._pending()
        todo = pending.merge(changes) if pending else changes
        if todo.is_empty():
            return WriteReport()
        if (deferred := self._deferred(todo, lang)) is not None:
            return deferred
        tmp = None
        try:
            with self.path.open("rb") as src:       # closed before the rename (Windows cannot replace an open file)
                version = _digest_of(src)
                if snapshot.version is not None and version != snapshot.version:
                    self._keep(todo)
                    return WriteReport(deferred=True, reason=_reason("changed", lang, name=self.path.name))
                seen = os.fstat(src.fileno())
                self.requests.write += 1
                raw = self._file_raw(snapshot, version, src)
                plan = plan_writes(locate(raw, load_schemas(), ProblemSink(lang)).tables, todo, lang)
                if not plan.is_empty():
                    tmp = _new_temp_beside(self.path)
                    self._save(plan, raw, src, tmp)
                    os.chmod(tmp, stat.S_IMODE(seen.st_mode))
            if tmp is not None:
                if (deferred := self._deferred(todo, lang, seen, version)) is not None:
                    return deferred
                if pending is not None:   # the digest of the workbook the pending changes go into, first:
                    self._mark_written(_digest(tmp))   # a crash before their removal cannot apply them twice
                os.replace(tmp, self.path)
                tmp = None
                self._clean = None
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        if pending is not None:
            self.pending_path.unlink(missing_ok=True)
            self.written_path.unlink(missing_ok=True)
        return WriteReport(skipped=plan.skipped)

    def _mark_written(self, digest: str) -> None:
        tmp = _new_temp_beside(self.written_path)
        try:
            with open(tmp, "w", encoding="ascii") as out:
                out.write(digest)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.written_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _deferred(self, todo: Changes, lang: str, seen: os.stat_result | None = None,
                  version: str = "") -> WriteReport | None:
        """Keep the changes and say why, when the workbook is open in an office suite or (`seen`: the file as
        it was read, `version` its digest) was saved over or removed since; else None."""
        lock = office_lock(self.path)
        if lock is not None:
            self._keep(todo)
            return WriteReport(deferred=True, reason=_reason("open", lang, name=self.path.name, app=lock[0],
                                                             lock=lock[1].name))
        if seen is not None:
            try:
                now = os.stat(self.path)
                same = (now.st_ino, now.st_dev, now.st_size, now.st_mtime_ns) == (seen.st_ino, seen.st_dev,
                                                                                seen.st_size, seen.st_mtime_ns)
                same = same or _digest(self.path) == version     # touched, or replaced by the same bytes
            except FileNotFoundError:
                same = False
            if not same:
                self._keep(todo)
                return WriteReport(deferred=True, reason=_reason("changed", lang, name=self.path.name))
        return None

    def _save(self, plan: WritePlan, raw: RawWorkbook, src: BinaryIO, tmp: Path) -> None:
        """The new workbook into `tmp`, flushed to disk: patched, or (new tabs, unsupported) through openpyxl."""
        if self.writer == "patch" and not plan.new_tabs:
            try:
                with open(tmp, "r+b") as out:
                    patch_xlsx(src, out, place(plan, raw), LEVEL, plan.links)
                    os.fsync(out.fileno())
                return
            except PatchUnsupported:
                pass                        # written whole by openpyxl below, as before the patcher existed
        from openpyxl import load_workbook
        src.seek(0)
        book = load_workbook(src)
        apply_plan(book, plan)
        book.save(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())

    def move_rows(self, moves, snapshot: Snapshot) -> None:
        """Archive rows and rewrite the live tabs in one atomic file write (both, or neither), with openpyxl."""
        from openpyxl import load_workbook
        from ..sheet.moves import rewritten
        if (lock := office_lock(self.path)) is not None:
            raise RuntimeError(f"{self.path.name} is open in {lock[0]} ({lock[1].name} is beside it): close the "
                               "workbook so housekeeping can move rows; nothing was moved, run it again")
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


def apply_plan(book: Any, plan: WritePlan) -> None:
    """The openpyxl writer: a plan applied to a whole loaded workbook (saved whole by the caller)."""
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
    from .xlsx_links import set_links
    for title, links in plan.links.items():
        if title in book.sheetnames:
            set_links(book[title], links)


def _put(sheet: Any, row: int, col: int, value: Any) -> None:
    """Write a cell RAW: text never becomes a formula, whatever it starts with."""
    cell = sheet.cell(row=row, column=col)
    if value == "" or value is None:
        cell.value = None
        return
    if isinstance(value, str):
        value = escaped_text(value).replace("\r", "_x000D_")   # never unsavable; a bare \r would read back as \n
    code = cell.number_format          # before the value: openpyxl gives a datetime its own format
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
    elif isinstance(value, date):          # a date cell (sheet.vocabulary.date_cell), shown as its column's type
        kind = "datetime" if isinstance(value, datetime) else "date"
        if not (is_date_format(code) and ("h" in code.lower()) == (kind == "datetime")):
            cell.number_format = NUMBER_FORMATS[kind][0]


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
