import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py, tests/sheets_fake.py

# secret_sweep: no webhook key or secret may appear whole in any log, sheet or transcript (tests/secret_sweep.py).
# pytester: the sweep's own tests run a tiny inner session.
pytest_plugins = ["secret_sweep", "pytester"]
