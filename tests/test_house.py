"""The house's shape: rooms by concept, walls that hold, no circles, modules that read in one sitting.

Every import inside qunflow (module level or inside a function, typing-only ones too) is read with `ast`
and checked against WALLS: a room may import only itself and the rooms (or single modules) listed for it.
See README "How it is built" for what each room holds.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[1] / "functions"
PACKAGE = FUNCTIONS / "qunflow"
MAX_LINES = 400

# room -> what it may import besides itself (a room's name, or one module as "room.module")
WALLS: dict[str, set[str]] = {
    "sop": set(),
    "sheet": {"sop", "clock", "delivery.masking"},
    "members": {"sheet", "sop", "clock"},
    "engine": {"sheet", "sop", "members", "clock", "delivery.message", "delivery.masking"},
    "metrics": {"sheet", "engine", "clock"},
    "delivery": {"clock"},
    "events": {"clock"},                         # platform receivers: verify and map, pure
    "state": {"clock"},                          # qunflow's memory: plain records, any room may use it
    "stores": {"sheet", "state", "clock"},        # state: the cloud lease is a state record
    "emulator": set(),
    "jobs": {"sheet", "sop", "members", "engine", "metrics", "delivery", "events", "stores", "state", "emulator",
             "clock"},
    "cli": {"jobs", "stores", "state", "emulator", "clock"},
    "main": {"jobs", "events", "stores", "state", "clock"},        # functions/main.py, the Cloud Functions entry points
    "clock": set(),
    "": {"cli"},                                # qunflow/__init__.py and __main__.py
}
ROOT_MODULES = {"__init__.py", "__main__.py", "clock.py"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(FUNCTIONS).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def room_of(module: str) -> str:
    """`qunflow.sheet.cells` -> "sheet"; `qunflow.clock` -> "clock"; `main` -> "main"; `qunflow` -> ""."""
    if module == "main":
        return "main"
    parts = module.split(".")[1:]
    return parts[0] if parts and parts[0] != "__main__" else ""


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every qunflow module `path` imports, resolved to a module name (a package's __init__ for names)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "qunflow"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "qunflow":
                continue
            subs = {f"{target}.{a.name}" for a in node.names} & known
            found |= subs if subs else {target}
    return found


def graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py")) + [FUNCTIONS / "main.py"]
    known = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, known) for p in paths}


def allowed(source: str, target: str) -> bool:
    src, dst = room_of(source), room_of(target)
    if src == dst:
        return True
    rules = WALLS[src]
    return dst in rules or ".".join(target.split(".")[1:3]) in rules


def violations(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{s} imports {t} ({room_of(s) or 'root'} may import {sorted(WALLS[room_of(s)]) or 'nothing'})"
                  for s, targets in edges.items() for t in targets if not allowed(s, t))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Circles between modules (a package's __init__ re-exporting its own modules is not one)."""
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt.startswith(node + "."):
                continue                       # a package importing its own modules
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    return found


def test_every_room_is_in_the_walls_table():
    rooms = {room_of(m) for m in graph()}
    assert rooms <= set(WALLS), rooms - set(WALLS)


def test_the_walls_hold():
    assert violations(graph()) == []


def test_no_circles():
    assert cycles(graph()) == []


def test_only_init_main_and_clock_at_the_package_root():
    assert {p.name for p in PACKAGE.glob("*.py")} == ROOT_MODULES


def test_modules_read_in_one_sitting():
    long = {str(p.relative_to(FUNCTIONS)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


@pytest.mark.parametrize("source, target, ok", [
    ("qunflow.engine.plan", "qunflow.metrics.experiments", False),   # the planner may not reach into metrics
    ("qunflow.members.lottery", "qunflow.engine.audience", False),   # members may not reach into the planner
    ("qunflow.metrics.rollup", "qunflow.stores.xlsx", False),        # pure metrics may not open a store
    ("qunflow.stores.xlsx", "qunflow.jobs.housekeeping", False),     # stores may not import a job
    ("qunflow.emulator.wecom", "qunflow.delivery.platforms.wecom", False),  # the emulator is a witness
    ("qunflow.engine.compose", "qunflow.delivery.message", True),
    ("qunflow.engine.compose", "qunflow.delivery.dispatcher", False),
    ("qunflow.cli.tick_cmds", "qunflow.jobs.tick", True),
    ("qunflow.cli.tick_cmds", "qunflow.sheet.workbook", False),
])
def test_the_walls_table_itself(source, target, ok):
    assert allowed(source, target) is ok


def test_the_checker_sees_a_forbidden_import(tmp_path):
    """A module-level, a function-level and a relative import of a forbidden room are all found."""
    edges = {"qunflow.sheet.cells": {"qunflow.jobs.tick"}, "qunflow.sop.render": {"qunflow.sheet.cells"}}
    assert len(violations(edges)) == 2
    assert cycles({"qunflow.a.x": {"qunflow.a.y"}, "qunflow.a.y": {"qunflow.a.x"}}) == [
        ["qunflow.a.x", "qunflow.a.y", "qunflow.a.x"]]
    path = PACKAGE / "sheet" / "cells.py"
    tree = "def f():\n    from ..jobs import tick\nfrom qunflow.stores.xlsx import XlsxStore\n"
    fake = tmp_path / "functions" / "qunflow" / "sheet"
    fake.mkdir(parents=True)
    (fake / "cells.py").write_text(tree)
    global FUNCTIONS
    saved, FUNCTIONS = FUNCTIONS, tmp_path / "functions"
    try:
        found = imports_of(fake / "cells.py", {"qunflow.jobs.tick", "qunflow.stores.xlsx"})
    finally:
        FUNCTIONS = saved
    assert found == {"qunflow.jobs.tick", "qunflow.stores.xlsx"}
    assert path.exists()
