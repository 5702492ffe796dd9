"""Where qunflow's shipped data lives: the tab schemas, the playbooks and the job definitions.

The repository keeps them at its top level, their single source of truth: `sheets_schema/*.yaml`,
`workflows/jobs.yaml` and `workflows/playbooks/*.yaml`. An installed qunflow carries the same folders
inside the package, as `qunflow/data/sheets_schema/` and `qunflow/data/workflows/`: pyproject.toml's
package-dir mapping puts them there in a wheel, and infra/function.tf in the Cloud Function archive.

`shipped()` finds a file or folder of that data, in this order:

1. inside the imported package, with `importlib.resources` (a wheel install, the Cloud Function);
2. only when the package carries no data because it is a source checkout (an editable install, or
   `PYTHONPATH=functions`): the repository's own folder, found from this file's place in
   `functions/qunflow/` — the one checkout whose code is running, never another one.

The current folder never matters. The explicit overrides ($QUNFLOW_SCHEMA_DIR, $QUNFLOW_PLAYBOOKS,
$QUNFLOW_JOBS_FILE) are read by the callers (`sheet.schema`, `sop.playbooks`, `jobs.scheduler`), before
they ask here. It lives in sop/, the lowest room, so that every room can use it.
"""
from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

PACKAGE = "qunflow"
DATA = "data"  # qunflow/data/<top-level folder of the repository>/...


def _checkout() -> Path | None:
    """The repository root, when this module runs from a source checkout's functions/qunflow/sop/."""
    package = Path(__file__).resolve().parents[1]
    return package.parents[1] if package.parent.name == "functions" else None


def shipped(*parts: str) -> Traversable:
    """A shipped file or folder, by its path in the repository: shipped("sheets_schema"),
    shipped("workflows", "jobs.yaml"). Raises FileNotFoundError when neither the package nor a source
    checkout has it."""
    packaged = files(PACKAGE).joinpath(DATA, *parts)
    if packaged.is_dir() or packaged.is_file():
        return packaged
    root = _checkout()
    if root is not None and (root.joinpath(*parts).exists()):
        return root.joinpath(*parts)
    raise FileNotFoundError(f"{'/'.join(parts)} is not in the installed qunflow package "
                            f"({PACKAGE}/{DATA}/{'/'.join(parts)}) nor in a source checkout")


def override(value: str, variable: str, folder: bool) -> Path:
    """An explicit override from $variable: the folder (or file) it names, which must exist."""
    path = Path(value)
    if not (path.is_dir() if folder else path.is_file()):
        raise FileNotFoundError(f"${variable} is {value!r}, which is not an existing {'folder' if folder else 'file'}")
    return path


def yaml_files(folder: Traversable) -> list[Traversable]:
    """The *.yaml files of a shipped folder, sorted by name (a stable order on every platform)."""
    return sorted((f for f in folder.iterdir() if f.name.endswith(".yaml") and f.is_file()), key=lambda f: f.name)
