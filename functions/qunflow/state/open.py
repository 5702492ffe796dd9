"""Which state store a run uses, from settings, never from code: $QUNFLOW_STATE, else a file beside the workbook.

- `firestore:DATABASE` — Firestore (Native mode), the database Terraform creates (infra/state.tf);
  `FIRESTORE_EMULATOR_HOST` points the client at an emulator.
- a path — SQLite at that path.
- unset — SQLite beside the workbook: `shop.xlsx` → `shop.qunflow-state.sqlite`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def state_spec(workbook: str | Path | None, environ: dict[str, str] | None = None) -> str:
    """What to open, as text: the setting when there is one, else the file beside the workbook."""
    env = os.environ if environ is None else environ
    spec = (env.get("QUNFLOW_STATE") or "").strip()
    if spec:
        return spec
    if workbook is None:
        raise ValueError("no state store: set QUNFLOW_STATE (firestore:DATABASE, or a file path)")
    path = Path(workbook)
    return str(path.with_name(path.stem + ".qunflow-state.sqlite"))


def open_state(spec: str, *, project: str | None = None, client: Any = None) -> Any:
    """A SqliteState or a FirestoreState for `spec` (see `state_spec`)."""
    if spec.startswith("firestore:"):
        from .firestore import FirestoreState
        if client is None:
            from google.cloud import firestore
            client = firestore.Client(project=project, database=spec.split(":", 1)[1] or "(default)")
        return FirestoreState(client)
    from .sqlite import SqliteState
    return SqliteState(spec)
