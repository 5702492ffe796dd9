import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py, tests/sheets_fake.py

# secret_sweep: no webhook key or secret may appear whole in any log, sheet or transcript (tests/secret_sweep.py).
# pytester: the sweep's own tests run a tiny inner session.
pytest_plugins = ["secret_sweep", "pytester"]


@pytest.fixture(scope="session")
def firestore_emulator():
    """The real Firestore emulator on 127.0.0.1 for the whole session (tests/firestore_emulator.py); a skip
    with what to install where it cannot start."""
    pytest.importorskip("google.cloud.firestore",
                        reason="google-cloud-firestore is not installed: pip install -r requirements.txt")
    import firestore_emulator as fe

    try:
        emulator = fe.start()
    except fe.Unavailable as exc:
        pytest.skip(str(exc))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(params=["sqlite", "firestore"])
def state(request, tmp_path):
    """A state store of each kind: SQLite in a real file, and Firestore on the real emulator (its own prefix)."""
    if request.param == "sqlite":
        from qunflow.state.sqlite import SqliteState
        store = SqliteState(tmp_path / "shop.qunflow-state.sqlite")
        yield store
        store.close()
    else:
        emulator = request.getfixturevalue("firestore_emulator")
        from qunflow.state.firestore import FirestoreState
        yield FirestoreState(emulator.client(), prefix=f"t{abs(hash(request.node.nodeid))}")
