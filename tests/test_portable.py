"""qunflow runs where operators are, Windows included: no Unix-only module on any code path.

CI is Linux, so Windows is approached from two sides:
- in a subprocess where `fcntl` cannot be imported (a meta-path finder refuses it, as on Windows), every
  module of functions/ imports, and `qunflow init` and `qunflow validate` work on a local workbook;
- the source is read with `ast` for imports of Unix-only modules and calls of Unix-only `os`/`signal`
  functions, anywhere, function-level imports included (which an import test cannot reach).
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook as open_xlsx

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"

# Modules a Windows Python does not have (and the Windows-only ones, which Unix lacks).
UNIX_ONLY_MODULES = {"fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "syslog", "crypt", "posix"}
WINDOWS_ONLY_MODULES = {"msvcrt", "winreg", "winsound", "_winapi"}
UNIX_ONLY_CALLS = {
    "os": {"getuid", "geteuid", "getgid", "getegid", "getgroups", "fork", "forkpty", "setsid", "setpgrp",
           "killpg", "getpgid", "chown", "lchown", "fchown", "statvfs", "fstatvfs", "sync", "mkfifo", "nice",
           "getloadavg", "uname", "O_NOFOLLOW", "O_DIRECTORY", "pipe2", "wait3", "wait4", "WNOHANG"},
    "signal": {"SIGKILL", "SIGHUP", "SIGALRM", "SIGUSR1", "SIGUSR2", "SIGCHLD", "alarm", "setitimer", "pause",
               "pthread_kill", "sigwait"},
}

# Run in a child Python: refuse `fcntl` (as Windows would), then do what argv[1] says.
BLOCK_FCNTL = """
import importlib.abc, sys
class NoFcntl(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "fcntl":
            raise ModuleNotFoundError("No module named 'fcntl' (blocked, as on Windows)", name=name)
sys.modules.pop("fcntl", None)
sys.meta_path.insert(0, NoFcntl())
"""

IMPORT_ALL = BLOCK_FCNTL + """
import importlib, json
try:
    import fcntl
    blocked = False
except ModuleNotFoundError:
    blocked = True
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
import filelock
print(json.dumps({"blocked": blocked, "failed": failed, "fcntl_loaded": "fcntl" in sys.modules,
                  "lock": filelock.FileLock.__name__}))
"""

RUN_CLI = BLOCK_FCNTL + """
import runpy
sys.argv = ["qunflow", *sys.argv[1:]]
runpy.run_module("qunflow", run_name="__main__")  # as `python -m qunflow` does
"""


def _modules() -> list[str]:
    """Every module under functions/: the qunflow package and main.py (the Cloud Function entry points).
    Not qunflow/__main__.py, which runs the CLI when imported; the CLI test below runs through it."""
    names = []
    for path in sorted(FUNCTIONS.rglob("*.py")):
        parts = list(path.relative_to(FUNCTIONS).with_suffix("").parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def _child(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(FUNCTIONS), PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-c", script, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_every_module_imports_without_fcntl(tmp_path):
    modules = _modules()
    assert "qunflow.stores.xlsx" in modules and "qunflow.stores.lease" in modules and "main" in modules
    done = _child(IMPORT_ALL, *modules, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["blocked"], "the child could still import fcntl: the block did not work"
    assert report["failed"] == {}, "\n".join(f"{m}: {e}" for m, e in report["failed"].items())
    assert not report["fcntl_loaded"]
    assert report["lock"] == "SoftFileLock"  # filelock saw no fcntl either, and chose its portable lock


def test_init_and_validate_on_a_local_workbook_without_fcntl(tmp_path):
    book = tmp_path / "x.xlsx"
    done = _child(RUN_CLI, "init", str(book), "--lang", "en", "--demo", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    done = _child(RUN_CLI, "validate", str(book), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # an error, so validate also takes the lease and writes the Problems tab back (the full local write path)
    wb = open_xlsx(book)
    wb["Groups"]["H2"] = "2026-02-30"  # campaign_start of the first group
    wb.save(book)
    done = _child(RUN_CLI, "validate", str(book), "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    problems = json.loads(done.stdout)["problems"]
    assert [(p["tab"], p["row"], p["column"], p["severity"]) for p in problems] == \
        [("Groups", 2, "campaign_start", "error")]
    assert open_xlsx(book)["Problems"]["A2"].value == "Groups"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.xlsx"]  # no lock file, no temporary file left


def _unix_only_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module.split(".")[0]]
            calls = UNIX_ONLY_CALLS.get(node.module, set())
            found += [f"{path.name}:{node.lineno} from {node.module} import {a.name}" for a in node.names
                      if a.name in calls]
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.attr in UNIX_ONLY_CALLS.get(node.value.id, set())):
            found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
        found += [f"{path.name}:{node.lineno} import {n}" for n in names
                  if n in UNIX_ONLY_MODULES | WINDOWS_ONLY_MODULES]
    return sorted(found, key=lambda use: int(use.split(":")[1].split()[0]))


def test_no_platform_only_module_or_call_in_the_source():
    paths = sorted(FUNCTIONS.rglob("*.py"))
    assert len(paths) > 50
    found = [use for path in paths for use in _unix_only_uses(path)]
    assert found == [], "platform-only code (use filelock, pathlib, os.replace...):\n" + "\n".join(found)


def test_the_source_scan_sees_a_unix_only_call(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\ndef f(h):\n    import fcntl\n    fcntl.flock(h, 2)\n    return os.getuid()\n"
                      "from signal import SIGKILL\n", encoding="utf-8")
    assert _unix_only_uses(sample) == ["sample.py:3 import fcntl", "sample.py:5 os.getuid",
                                       "sample.py:6 from signal import SIGKILL"]
