"""Keeps docs/PERFORMANCE.md current: each bench script owns one block of it.

A block is everything between two marker lines:

    <!-- bench:NAME -->
    (replaced by `python bench/<script>.py --publish`, which `make bench` runs)
    <!-- /bench:NAME -->

The text outside the blocks is written by hand and never touched. Quick runs (BENCH_QUICK=1) are
printed, never published.
"""
from __future__ import annotations

import os
import platform
import re
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "PERFORMANCE.md"


class BlockNotFound(ValueError):
    """The document has no (or more than one) `<!-- bench:NAME -->` ... `<!-- /bench:NAME -->` pair."""


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def replace_block(text: str, name: str, body: str) -> str:
    """`text` with the block NAME's contents replaced by `body`; the markers and all else stay as they are."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"bad block name {name!r}: letters, digits, - and _ only")
    start, end = markers(name)
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    found = pattern.findall(text)
    if len(found) != 1:
        how = "no" if not found else f"{len(found)}"
        raise BlockNotFound(f"{how} '{start}' ... '{end}' block in the document; add exactly one where the "
                            f"{name} figures belong")
    return pattern.sub(lambda _: f"{start}\n{body.strip()}\n{end}", text)


def publish(name: str, body: str, doc: Path = DOC) -> None:
    """Write `body`, headed by the machine line, into block NAME of `doc`."""
    doc = Path(doc)
    text = doc.read_text(encoding="utf-8")
    doc.write_text(replace_block(text, name, f"{machine_line()}\n\n{body.strip()}"), encoding="utf-8")
    print(f"published the {name} figures to {doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc}")


def quick() -> bool:
    return bool(os.environ.get("BENCH_QUICK"))


def should_publish(requested: bool) -> bool:
    """--publish was given and this is a full run (a quick run's figures would replace the real ones)."""
    if requested and quick():
        print("BENCH_QUICK is set: the figures are printed, not published")
    return requested and not quick()


def _first(path: str, pattern: str) -> str | None:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(pattern, text, re.MULTILINE)
    return match.group(1).strip() if match else None


def cpu_model() -> str:
    return _first("/proc/cpuinfo", r"^model name\s*:\s*(.+)$") or platform.processor() or "unknown CPU"


def total_ram_gib() -> float | None:
    kib = _first("/proc/meminfo", r"^MemTotal:\s*(\d+)\s*kB")
    return int(kib) / 2**20 if kib else None


def machine_line(today: date | None = None) -> str:
    """Date, CPU model, cores, RAM, OS/arch, Python: one line, in italics."""
    ram = total_ram_gib()
    parts = [str(today or date.today()), cpu_model(), f"{os.cpu_count()} cores",
             f"{ram:.1f} GiB RAM" if ram is not None else "RAM unknown",
             f"{platform.system()} {platform.release()} {platform.machine()}", f"Python {platform.python_version()}"]
    return "_Measured " + " · ".join(parts) + "_"
