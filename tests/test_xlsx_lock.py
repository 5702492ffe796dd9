"""The local workbook's lock and file: one run at a time, no lock file left behind, permissions kept.

The lock is `<workbook>.qunflow-lock`, held through filelock (an OS lock: a run that dies releases it). It is
removed when the run is done, however it ends, also when the workbook does not exist. A save is a temporary
file renamed over the workbook, which keeps the workbook's permission bits.
"""
from __future__ import annotations

import os
import stat
import threading
import time

import pytest
from click.testing import CliRunner

from helpers import BASE, make_raw, write_xlsx
from qunflow.cli import cli
from qunflow.sheet.changes import Changes
from qunflow.stores.xlsx import LeaseBusy, XlsxStore

POSIX_MODES = pytest.mark.skipif(os.name == "nt", reason="Windows keeps only a read-only flag, not Unix modes")


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(BASE), path)
    return path


def _left(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_the_lock_file_exists_only_while_a_run_holds_it(book):
    store = XlsxStore(book)
    with store.lease("tick", 0):
        assert store.lock_path.exists()
    assert not store.lock_path.exists()
    with pytest.raises(RuntimeError, match="boom"):
        with store.lease("tick", 0):
            raise RuntimeError("boom")
    assert _left(book.parent) == ["shop.xlsx"]


def test_a_busy_lease_leaves_the_holders_lock_in_place(book):
    with XlsxStore(book).lease("tick", 0):
        with pytest.raises(LeaseBusy, match="another qunflow run is working on shop.xlsx"):
            with XlsxStore(book).lease("tick", 0):
                pass
        assert XlsxStore(book).lock_path.exists()  # the loser never removes the holder's lock file
    assert _left(book.parent) == ["shop.xlsx"]


def test_a_missing_workbook_leaves_no_lock_file(tmp_path):
    missing = tmp_path / "missing.xlsx"
    store = XlsxStore(missing)
    with pytest.raises(FileNotFoundError, match="qunflow init"):
        with store.lease("validate", 0):
            store.read()
    for args in (["validate", str(missing)], ["tick", str(missing)], ["tick", str(missing), "--dry-run"]):
        out = CliRunner().invoke(cli, args, env={"QUNFLOW_LANG": "en"})  # a sentence on stderr, exit 2
        assert out.exit_code == 2 and "qunflow init" in out.stderr, out.output
    assert _left(tmp_path) == []
    with pytest.raises(FileNotFoundError, match="its folder .* is missing"):
        with XlsxStore(tmp_path / "no-such-folder" / "x.xlsx").lease("tick", 0):
            pass
    assert _left(tmp_path) == []


def test_a_lock_file_left_by_a_killed_run_is_taken_over_and_removed(book):
    store = XlsxStore(book)
    store.lock_path.write_text("")  # what a run killed while holding the lock leaves (the OS lock died with it)
    with store.lease("tick", 0):
        pass
    assert _left(book.parent) == ["shop.xlsx"]


def test_a_lease_waits_up_to_its_seconds_with_non_blocking_tries(book):
    holder = XlsxStore(book)
    now = [0.0]
    naps: list[float] = []
    held = holder.lease("tick", 0)
    held.__enter__()

    def sleep(seconds: float) -> None:  # the holder finishes during the waiter's third nap
        naps.append(seconds)
        now[0] += seconds
        if len(naps) == 3:
            held.__exit__(None, None, None)

    waiter = XlsxStore(book, sleep=sleep, monotonic=lambda: now[0])
    with waiter.lease("tick", 1):
        assert waiter.lock_path.exists()
    assert naps == [0.05, 0.05, 0.05]
    assert _left(book.parent) == ["shop.xlsx"]
    naps.clear()
    start = now[0]
    with holder.lease("tick", 0):
        with pytest.raises(LeaseBusy):
            with XlsxStore(book, sleep=sleep, monotonic=lambda: now[0]).lease("tick", 0.2):
                pass
    assert set(naps) == {0.05} and 0.2 <= now[0] - start < 0.25 + 1e-9  # tried every 0.05 s for 0.2 s


def test_runs_at_once_never_overlap_while_lock_files_come_and_go(book):
    # each holder removes the lock file before it lets go: a waiter that had opened that file must not get in
    # at the same time as a run that created a fresh one
    inside, most, entries = [0], [0], [0]
    guard = threading.Lock()

    def run() -> None:
        for _ in range(60):
            with XlsxStore(book).lease("tick", 30):
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                    entries[0] += 1
                time.sleep(0.0005)
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert entries[0] == 8 * 60
    assert most[0] == 1
    assert _left(book.parent) == ["shop.xlsx"]


@POSIX_MODES
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o600])
def test_a_save_keeps_the_workbooks_permissions(book, mode):
    os.chmod(book, mode)
    store = XlsxStore(book)
    changes = Changes()
    changes.set("groups", "G01", "status", "checked")
    changes.append("sendlog", [{"send_id": "S1", "rule_id": "R01", "group_id": "G01", "status": "sent"}])
    with store.lease("tick", 0):
        report = store.write(changes, store.read(), "en")
    assert not report.deferred and store.requests.write == 1  # the file was written (a rename over it)
    assert stat.S_IMODE(os.stat(book).st_mode) == mode
    assert _left(book.parent) == ["shop.xlsx"]


@POSIX_MODES
def test_a_new_workbook_gets_the_mode_any_new_file_gets(tmp_path):
    umask = os.umask(0o022)
    try:
        out = CliRunner().invoke(cli, ["init", str(tmp_path / "new.xlsx"), "--lang", "en"])
    finally:
        os.umask(umask)
    assert out.exit_code == 0, out.output
    assert stat.S_IMODE(os.stat(tmp_path / "new.xlsx").st_mode) == 0o644  # not a temporary file's 0600
