"""qunflow installs anywhere: its declared dependencies, and its data found wherever the package runs.

The data (sheets_schema/, workflows/jobs.yaml, workflows/playbooks/) lives at the repository's top level and
travels inside the package as qunflow/data/... (see qunflow/sop/resources.py). Checked here, each from an
empty current folder, with no PYTHONPATH and no QUNFLOW_* override:
- a wheel built from the repository, installed into a fresh venv: `qunflow init --demo`, `validate`, a dry-run
  `tick`;
- an editable install (`pip install --no-deps -e .`, as the Makefile does): the checkout's own folders;
- the Cloud Function archive as infra/function.tf lays it out, unpacked and as a zip on sys.path;
- a source checkout on PYTHONPATH=functions, with decoy folders in the current folder that must not be read.

The fresh venvs have no pip and no system site-packages (a venv made from a venv gets the base interpreter's,
not this one's): pip runs from this interpreter (`pip --python`), with no index and no build isolation, and the
dependencies (setuptools for the build included) come from this interpreter's site-packages through a .pth
file, after the venv's own. Plain paths: an editable qunflow installed here does not come along, and each test
checks `qunflow.__file__`. Nothing is downloaded. About 10 s in all.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import site
import subprocess
import sys
import tomllib
import venv
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import hcl2
import pytest
import yaml
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
DATA = {"sheets_schema": sorted((ROOT / "sheets_schema").glob("*.yaml")),
        "workflows": sorted((ROOT / "workflows").rglob("*.yaml"))}
TIMEOUT = 60  # seconds, for any one step; the whole file takes about 10 s

# Run by the Python under test: where qunflow and each piece of its data were found, and what was loaded.
WHERE = """
import json, qunflow
from qunflow.sheet.schema import load_schemas, schema_dir
from qunflow.sop.playbooks import load_playbooks, playbook_dir
from qunflow.jobs.scheduler import declared_jobs, jobs_file
print(json.dumps({"package": qunflow.__file__, "schemas": str(schema_dir()), "playbooks": str(playbook_dir()),
                  "jobs": str(jobs_file()), "tabs": sorted(load_schemas()), "books": sorted(load_playbooks()),
                  "declared": sorted(declared_jobs())}))
"""


def _requirements() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without PYTHONPATH and the QUNFLOW_* overrides, so only the install under test counts."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"} and not k.startswith("QUNFLOW_")}
    return {**env, "PYTHONWARNINGS": "ignore", **extra}


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_clean_env(**env), capture_output=True, text=True, timeout=TIMEOUT)


def _where(python: str, cwd: Path, **env: str) -> dict:
    done = _run([python, "-c", WHERE], cwd, **env)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _expected_loads() -> dict:
    """What the repository's folders hold: the tab keys, playbook names and job names (read here directly)."""
    tabs = [yaml.safe_load(p.read_text(encoding="utf-8"))["tab"] for p in DATA["sheets_schema"]]
    books = [yaml.safe_load(p.read_text(encoding="utf-8"))["name"]
             for p in (ROOT / "workflows" / "playbooks").glob("*.yaml")]
    jobs = yaml.safe_load((ROOT / "workflows" / "jobs.yaml").read_text(encoding="utf-8"))["jobs"]
    return {"tabs": sorted(tabs), "books": sorted(books), "declared": sorted(jobs)}


def _inside(path: str, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def _source_copy(tmp_path: Path) -> Path:
    """What a build reads (pyproject.toml, functions/, sheets_schema/, workflows/), copied, so the build's own
    files (build/, *.egg-info) never land in the repository."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("functions", "sheets_schema", "workflows"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "requirements.txt"):
        shutil.copy2(ROOT / name, src / name)
    return src


def _fresh_venv(folder: Path) -> Path:
    """A venv with nothing in it; returns its python."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(folder)
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _pip_install(python: Path, *args: str) -> None:
    """pip (this interpreter's) installing into the fresh venv, offline. --ignore-installed: the lent
    site-packages may hold another qunflow install, which pip must neither take as this one nor touch."""
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                           "--no-build-isolation", "--ignore-installed", "--disable-pip-version-check", "--quiet",
                           *args],
                          env=_clean_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr


def _lend_dependencies(python: Path) -> None:
    """This interpreter's site-packages, appended to the fresh venv's sys.path (after its own)."""
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], ROOT)
    assert purelib.returncode == 0, purelib.stderr
    ours = [*site.getsitepackages(), *([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])]
    lines = [p for p in dict.fromkeys(ours) if Path(p).is_dir()]
    (Path(purelib.stdout.strip()) / "zz_test_dependencies.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- what pyproject.toml declares ------------------------------------------------------------------------------

def test_pyproject_dependencies_are_requirements_txt():
    assert PYPROJECT["project"]["dependencies"] == _requirements()
    assert any(r.startswith("filelock==") for r in _requirements())
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][A-Za-z0-9.]*", r) for r in _requirements()), "pin every one"


def test_pyproject_packages_every_room_and_the_data():
    tool = PYPROJECT["tool"]["setuptools"]
    rooms = {".".join(p.parent.relative_to(ROOT / "functions").parts)
             for p in (ROOT / "functions" / "qunflow").rglob("__init__.py")}
    data = {"qunflow.data.sheets_schema", "qunflow.data.workflows", "qunflow.data.workflows.playbooks"}
    assert set(tool["packages"]) == rooms | data, "a room is missing from pyproject.toml's packages"
    assert tool["package-dir"] == {"": "functions", "qunflow.data.sheets_schema": "sheets_schema",
                                   "qunflow.data.workflows": "workflows"}
    assert not (ROOT / "functions" / "qunflow" / "data").exists(), "the data stays at the top level only"


# --- a wheel in a fresh venv -------------------------------------------------------------------------------------

@pytest.mark.slow  # an integration test (about 4 s); `make test` runs it, `-m 'not slow'` leaves it out
def test_a_wheel_in_a_fresh_venv_works_from_an_empty_folder(tmp_path):
    src, dist = _source_copy(tmp_path), tmp_path / "dist"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "--disable-pip-version-check", "--quiet", "-w", str(dist), str(src)],
                          env=_clean_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = dist.glob("qunflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for paths in DATA.values():
        for path in paths:
            assert f"qunflow/data/{path.relative_to(ROOT).as_posix()}" in names, f"{path.name} is not in the wheel"
    assert "qunflow/stores/xlsx.py" in names and "main.py" not in names

    python = _fresh_venv(tmp_path / "venv")
    _lend_dependencies(python)
    _pip_install(python, str(wheel))
    work = tmp_path / "empty"
    work.mkdir()
    where = _where(str(python), work)
    assert _inside(where["package"], tmp_path / "venv"), f"not the wheel's qunflow: {where['package']}"
    for key in ("schemas", "playbooks", "jobs"):
        assert _inside(where[key], Path(where["package"]).parent / "data"), (key, where[key])
    assert {k: where[k] for k in ("tabs", "books", "declared")} == _expected_loads()

    qunflow = str(tmp_path / "venv" / ("Scripts/qunflow.exe" if os.name == "nt" else "bin/qunflow"))
    done = _run([qunflow, "init", "x.xlsx", "--demo"], work)
    assert done.returncode == 0 and (work / "x.xlsx").is_file(), done.stdout + done.stderr
    done = _run([qunflow, "validate", "x.xlsx", "--json"], work)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == {"problems": []}
    before = hashlib.sha256((work / "x.xlsx").read_bytes()).hexdigest()
    # the demo is built around today; no webhook env var is set, so what is due counts as failed (exit 1)
    noon = datetime.now(timezone.utc).strftime("%Y-%m-%dT12:00:00Z")
    done = _run([qunflow, "tick", "x.xlsx", "--dry-run", "--now", noon, "--json"], work)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert done.returncode == (1 if summary["failed"] or summary["unknown"] or summary["retry"] else 0)
    assert summary["note"].startswith("dry run") and summary["sheets_requests"] == {"read": 1, "write": 0}
    assert hashlib.sha256((work / "x.xlsx").read_bytes()).hexdigest() == before  # nothing written
    assert sorted(p.name for p in work.iterdir()) == ["x.xlsx"]  # no lock file, no temporary file


# --- an editable install, and a plain source checkout -----------------------------------------------------------

@pytest.mark.slow  # about 2 s
def test_an_editable_install_reads_its_own_checkout(tmp_path):
    src = _source_copy(tmp_path)
    python = _fresh_venv(tmp_path / "venv")
    _lend_dependencies(python)  # setuptools too: the editable build runs in the fresh venv
    _pip_install(python, "-e", str(src))
    work = tmp_path / "empty"
    work.mkdir()
    where = _where(str(python), work)
    assert _inside(where["package"], src / "functions" / "qunflow"), where["package"]
    assert Path(where["schemas"]).resolve() == (src / "sheets_schema").resolve()
    assert Path(where["playbooks"]).resolve() == (src / "workflows" / "playbooks").resolve()
    assert Path(where["jobs"]).resolve() == (src / "workflows" / "jobs.yaml").resolve()
    assert {k: where[k] for k in ("tabs", "books", "declared")} == _expected_loads()


def test_a_source_checkout_never_reads_the_current_folder(tmp_path):
    work = tmp_path / "elsewhere"
    for decoy in ("sheets_schema", "workflows/playbooks", "functions/qunflow/data/sheets_schema"):
        (work / decoy).mkdir(parents=True)
        (work / decoy / "bogus.yaml").write_text("tab: bogus\n", encoding="utf-8")
    (work / "workflows" / "jobs.yaml").write_text("jobs: {bogus: {}}\n", encoding="utf-8")
    where = _where(sys.executable, work, PYTHONPATH=str(ROOT / "functions"))
    assert _inside(where["package"], ROOT / "functions")
    assert Path(where["schemas"]) == ROOT / "sheets_schema"
    assert Path(where["playbooks"]) == ROOT / "workflows" / "playbooks"
    assert Path(where["jobs"]) == ROOT / "workflows" / "jobs.yaml"
    assert {k: where[k] for k in ("tabs", "books", "declared")} == _expected_loads()


def test_the_overrides_name_other_folders_and_must_exist(tmp_path):
    schemas, books = tmp_path / "schemas", tmp_path / "books"
    shutil.copytree(ROOT / "sheets_schema", schemas)
    books.mkdir()
    shutil.copy2(ROOT / "workflows" / "playbooks" / "preheat.yaml", books)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  nightly:\n    function: tick\n    schedule: '0 3 * * *'\n    time_zone: UTC\n",
                    encoding="utf-8")
    where = _where(sys.executable, tmp_path, PYTHONPATH=str(ROOT / "functions"), QUNFLOW_SCHEMA_DIR=str(schemas),
                   QUNFLOW_PLAYBOOKS=str(books), QUNFLOW_JOBS_FILE=str(jobs))
    assert (where["schemas"], where["playbooks"], where["jobs"]) == (str(schemas), str(books), str(jobs))
    assert where["books"] == ["preheat"] and where["declared"] == ["nightly"]
    done = _run([sys.executable, "-c", WHERE], tmp_path, PYTHONPATH=str(ROOT / "functions"),
                QUNFLOW_SCHEMA_DIR=str(tmp_path / "nowhere"))
    assert done.returncode != 0 and "$QUNFLOW_SCHEMA_DIR is" in done.stderr and "not an existing folder" in done.stderr


# --- the Cloud Function archive (infra/function.tf) --------------------------------------------------------------

def _fileset(folder: Path, pattern: str) -> list[str]:
    """Terraform's fileset(): `**` any depth (none included), one {a,b} alternation."""
    alternatives = re.fullmatch(r"(.*)\{([^}]*)\}(.*)", pattern)
    patterns = [alternatives[1] + a + alternatives[3] for a in alternatives[2].split(",")] if alternatives else [pattern]
    return sorted({p.relative_to(folder).as_posix() for pat in patterns for p in folder.glob(pat) if p.is_file()})


def _archive(path: Path) -> list[str]:
    """Build the zip that data "archive_file" "source" describes, as Terraform would; returns its names."""
    options = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
    with (ROOT / "infra" / "function.tf").open(encoding="utf-8") as f:
        (archive,) = [b["archive_file"]["source"] for b in hcl2.load(f, serialization_options=options)["data"]
                      if "archive_file" in b]
    files: dict[str, Path] = {}
    for source in archive["source"]:
        rel = re.fullmatch(r'\$\{file\("\$\{path\.module\}/\.\./([^"]+)"\)\}', source["content"])[1]
        files[source["filename"]] = ROOT / rel
    for block in archive["dynamic"]:
        spec = block["source"]
        folder, pattern = re.fullmatch(r'\$\{fileset\("\$\{path\.module\}/\.\./([^"]+)", "([^"]+)"\)\}',
                                       spec["for_each"]).groups()
        (content,) = spec["content"]
        for value in _fileset(ROOT / folder, pattern):
            name = content["filename"].replace("${source.value}", value)
            assert name not in files, f"{name} twice in the archive"
            files[name] = ROOT / folder / value
    with zipfile.ZipFile(path, "w") as zf:
        for name, source in sorted(files.items()):
            zf.write(source, name)
    return sorted(files)


@pytest.mark.parametrize("how", ["unpacked", "zipimport"])
def test_the_cloud_function_archive_finds_its_data_inside_the_package(tmp_path, how):
    names = _archive(tmp_path / "source.zip")
    assert {"main.py", "requirements.txt", "qunflow/data/workflows/jobs.yaml"} <= set(names)
    assert not [n for n in names if n.startswith(("sheets_schema/", "workflows/"))], "data outside the package"
    where_code = tmp_path / "source.zip"
    if how == "unpacked":  # what Cloud Functions does with it
        where_code = tmp_path / "workspace"
        zipfile.ZipFile(tmp_path / "source.zip").extractall(where_code)
    work = tmp_path / "cwd"
    work.mkdir()
    script = f"import sys; sys.path.insert(0, {str(where_code)!r}); import main\n" + WHERE
    done = _run([sys.executable, "-c", script], work)
    assert done.returncode == 0, done.stdout + done.stderr
    where = json.loads(done.stdout.strip().splitlines()[-1])
    assert where["package"].startswith(str(where_code)), where["package"]
    data = str(Path(where["package"]).parent / "data")
    for key in ("schemas", "playbooks", "jobs"):
        assert where[key].startswith(data), (key, where[key])
    assert {k: where[k] for k in ("tabs", "books", "declared")} == _expected_loads()
