"""infra/ checked offline: terraform fmt, its structure (python-hcl2), and checkov.

`terraform init/validate/plan` need the provider registry, which these machines cannot reach, so the checks
that matter are made on the parsed .tf files: one Scheduler job per job in workflows/jobs.yaml, each with an
OIDC token whose audience is exactly the function's URI; run.invoker (not cloudfunctions.invoker) for the
invoker, on each function's service; one accessor binding per secret; nothing public; a source object named
after the archive's md5, and an archive that carries sheets_schema/ and workflows/ inside the package
(qunflow/data/..., as a wheel does; tests/test_packaging.py builds it and imports from it). checkov runs
from its own venv (`make checkov`); both it and terraform are skipped, with a message, where they are missing.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import hcl2
import pytest
import yaml
from croniter import croniter
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
JOBS = yaml.safe_load((ROOT / "workflows" / "jobs.yaml").read_text(encoding="utf-8"))
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)


def _load(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return hcl2.load(f, serialization_options=OPTIONS)


def _collect() -> dict:
    """{"resource": {type: {name: body}}, "data": {...}, "variable": {...}, "output": {...}, "locals": {...},
    "terraform": [...]} over every .tf file in infra/."""
    out: dict = {"resource": {}, "data": {}, "variable": {}, "output": {}, "locals": {}, "terraform": []}
    for path in sorted(INFRA.glob("*.tf")):
        doc = _load(path)
        for kind in ("resource", "data"):
            for block in doc.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        assert name not in out[kind].setdefault(rtype, {}), f"{rtype}.{name} is declared twice"
                        out[kind][rtype][name] = body
        for kind in ("variable", "output"):
            for block in doc.get(kind, []):
                out[kind].update(block)
        for block in doc.get("locals", []):
            out["locals"].update({k: v for k, v in block.items() if k != "__comments__"})
        out["terraform"] += doc.get("terraform", [])
    return out


TF = _collect()
RES = TF["resource"]
FN = "google_cloudfunctions2_function.fn[each.value.function]"
FN_URI = "${" + FN + ".service_config[0].uri}"


def _one(body: dict, key: str) -> dict:
    """A nested block, as python-hcl2 gives it (a list of one dict)."""
    value = body[key]
    assert isinstance(value, list) and len(value) == 1, f"{key}: expected one block, got {value!r}"
    return value[0]


def _tf_text() -> str:
    """Every .tf file's text, comments included (for the checkov skip comments)."""
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(INFRA.glob("*.tf")))


def _tf_code() -> str:
    """Every .tf file's parsed code without its comments, as JSON text (for "never anywhere" checks)."""
    bare = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
    docs = []
    for path in sorted(INFRA.glob("*.tf")):
        with path.open(encoding="utf-8") as f:
            docs.append(hcl2.load(f, serialization_options=bare))
    return json.dumps(docs)


# --- terraform fmt ---------------------------------------------------------------------------------------

def test_terraform_fmt():
    terraform = shutil.which("terraform")
    if not terraform:
        pytest.skip("terraform is not on PATH: `terraform fmt -check -recursive infra` not run")
    done = subprocess.run([terraform, "fmt", "-check", "-recursive", "-diff", "infra"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"run `terraform fmt -recursive infra`:\n{done.stdout}{done.stderr}"


# --- workflows/jobs.yaml, the one source of truth for cron --------------------------------------------------

def test_jobs_yaml_is_complete_and_every_job_calls_a_declared_function():
    functions, jobs = JOBS["functions"], JOBS["jobs"]
    assert jobs and functions
    for name, fn in functions.items():
        assert {"entry_point", "timeout_seconds", "memory", "max_instances", "concurrency"} <= set(fn), name
        assert 1 <= fn["timeout_seconds"] <= 3600, name  # gen2 HTTP functions: at most 60 minutes
    for name, job in jobs.items():
        assert job["function"] in functions, f"job {name} calls {job['function']!r}, not in jobs.yaml functions"
        assert croniter.is_valid(job["schedule"]), f"job {name}: bad cron {job['schedule']!r}"
        ZoneInfo(job["time_zone"])  # a real IANA zone, set explicitly (never the Scheduler's default)
        assert isinstance(job["body"], dict), name
        assert {"retry_count", "min_backoff", "max_backoff", "max_doublings"} <= set(job["retry"]), name
        for key in ("min_backoff", "max_backoff"):
            assert re.fullmatch(r"\d+s", job["retry"][key]), f"job {name}: {key} must be seconds like 30s"
        assert int(job["retry"]["min_backoff"][:-1]) <= int(job["retry"]["max_backoff"][:-1]), name
        assert re.fullmatch(r"[a-z][a-z0-9-]*", name) and len(f"qunflow-{name}") <= 500, name


def test_the_tf_reads_jobs_yaml_with_yamldecode():
    variable = TF["variable"]["jobs_file"]
    assert (INFRA / variable["default"]).resolve() == (ROOT / "workflows" / "jobs.yaml").resolve()
    assert TF["locals"]["workflow"] == "${yamldecode(file(var.jobs_file))}"
    assert TF["locals"]["functions"] == "${local.workflow.functions}"
    assert TF["locals"]["jobs"] == "${local.workflow.jobs}"


def test_one_function_per_declared_function():
    fn = RES["google_cloudfunctions2_function"]["fn"]
    assert fn["for_each"] == "${local.functions}"
    assert fn["name"] == "qunflow-${each.key}"
    build, service = _one(fn, "build_config"), _one(fn, "service_config")
    assert build["entry_point"] == "${each.value.entry_point}"
    assert re.fullmatch(r"python3\d+", build["runtime"])
    assert service["timeout_seconds"] == "${each.value.timeout_seconds}"
    assert service["max_instance_count"] == "${each.value.max_instances}"
    assert service["max_instance_request_concurrency"] == "${each.value.concurrency}"
    assert service["service_account_email"] == "${google_service_account.runtime.email}"
    storage = _one(_one(build, "source"), "storage_source")
    assert storage["object"] == "${google_storage_bucket_object.source.name}"


def test_one_scheduler_job_per_job_with_oidc_to_the_function_uri():
    job = RES["google_cloud_scheduler_job"]["job"]
    assert job["for_each"] == "${local.jobs}"  # so every job in jobs.yaml becomes a Scheduler job
    assert job["name"] == "qunflow-${each.key}"  # what `qunflow jobs` addresses
    assert job["schedule"] == "${each.value.schedule}"
    assert job["time_zone"] == "${each.value.time_zone}"
    assert all(j.get("time_zone") for j in JOBS["jobs"].values())
    target = _one(job, "http_target")
    assert target["uri"] == FN_URI
    assert target["http_method"] == "POST"
    assert target["headers"] == {"Content-Type": "application/json"}  # else the body is octet-stream
    assert target["body"] == "${base64encode(jsonencode(each.value.body))}"
    oidc = _one(target, "oidc_token")
    assert oidc["service_account_email"] == "${google_service_account.invoker.email}"
    assert oidc["audience"] == target["uri"], "the OIDC audience must be exactly the function URI (else 401)"
    assert "oauth_token" not in target
    retry = _one(job, "retry_config")
    assert retry == {"retry_count": "${each.value.retry.retry_count}",
                     "min_backoff_duration": "${each.value.retry.min_backoff}",
                     "max_backoff_duration": "${each.value.retry.max_backoff}",
                     "max_doublings": "${each.value.retry.max_doublings}"}


def test_attempt_deadline_covers_the_function_timeout():
    job = RES["google_cloud_scheduler_job"]["job"]
    m = re.fullmatch(r"\$\{local\.functions\[each\.value\.function\]\.timeout_seconds \+ (\d+)\}s",
                     job["attempt_deadline"])
    assert m, f"attempt_deadline should be the function's timeout plus a margin: {job['attempt_deadline']!r}"
    for name, spec in JOBS["jobs"].items():
        timeout = JOBS["functions"][spec["function"]]["timeout_seconds"]
        deadline = timeout + int(m[1])
        assert timeout <= deadline <= 1800, f"job {name}: attempt_deadline {deadline}s (HTTP targets: 15s..30min)"
        assert deadline >= 15


def test_the_invoker_gets_run_invoker_on_each_scheduled_function_only():
    binding = RES["google_cloud_run_v2_service_iam_member"]["invoker"]
    assert binding["for_each"] == "${local.jobs}"
    assert binding["role"] == "roles/run.invoker"  # gen2 functions are Cloud Run services
    assert binding["member"] == "serviceAccount:${google_service_account.invoker.email}"
    assert binding["name"] == "${" + FN + ".service_config[0].service}"
    assert "cloudfunctions.invoker" not in _tf_code()
    ingest = RES["google_cloud_run_v2_service_iam_member"]["ingest_caller"]
    assert ingest["role"] == "roles/run.invoker"
    assert ingest["member"] == "serviceAccount:${google_service_account.ingest_caller.email}"


def test_separate_service_accounts_and_nothing_project_wide_that_a_resource_binding_can_do():
    accounts = RES["google_service_account"]
    assert {"runtime", "invoker", "builder"} <= set(accounts)
    assert len({a["account_id"] for a in accounts.values()}) == len(accounts)
    for name, binding in RES.get("google_project_iam_member", {}).items():
        if binding["role"] == "roles/datastore.user":      # Firestore IAM is per project: narrowed by condition
            continue
        assert binding["role"] in {"roles/logging.logWriter", "roles/artifactregistry.writer"}, \
            f"{name}: {binding['role']} project-wide; bind it on the one resource that needs it"
    for rtype in ("google_project_iam_binding", "google_project_iam_policy"):
        assert rtype not in RES, f"{rtype} replaces project-wide IAM; use *_iam_member on single resources"


def test_the_state_database_is_firestore_native_and_only_the_runtime_reaches_it():
    db = RES["google_firestore_database"]["state"]
    assert db["type"] == "FIRESTORE_NATIVE" and db["delete_protection_state"] == "DELETE_PROTECTION_ENABLED"
    assert db["point_in_time_recovery_enablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
    grants = [b for b in RES["google_project_iam_member"].values() if b["role"] == "roles/datastore.user"]
    assert len(grants) == 1 and grants[0]["member"] == "serviceAccount:${google_service_account.runtime.email}"
    condition = _one(grants[0], "condition")
    assert "${google_firestore_database.state.name}" in condition["expression"]
    function = RES["google_cloudfunctions2_function"]
    env = _one(next(iter(function.values())), "service_config")["environment_variables"]
    assert env["QUNFLOW_STATE"] == "firestore:${google_firestore_database.state.name}"
    assert "firestore.googleapis.com" in RES["google_project_service"]["apis"]["for_each"]


def test_each_secret_has_its_own_accessor_binding_and_no_value_in_terraform():
    secret = RES["google_secret_manager_secret"]["secret"]
    assert secret["for_each"] == "${var.secrets}"
    assert _one(secret, "replication") == {"auto": [{}]}
    readers = RES["google_secret_manager_secret_iam_member"]
    assert len(readers) == 1, "one per-secret binding resource (for_each over var.secrets)"
    reader = next(iter(readers.values()))
    assert reader["for_each"] == "${var.secrets}"
    assert reader["secret_id"] == "${google_secret_manager_secret.secret[each.value].id}"
    assert reader["role"] == "roles/secretmanager.secretAccessor"
    assert reader["member"] == "serviceAccount:${google_service_account.runtime.email}"
    assert "google_secret_manager_secret_version" not in RES
    assert "secret_data" not in _tf_code(), "secret values go in with gcloud, never through Terraform state"
    assert "INGEST_HMAC_SECRET" in TF["variable"]["secrets"]["default"]
    service = _one(RES["google_cloudfunctions2_function"]["fn"], "service_config")
    env = service["dynamic"][0]["secret_environment_variables"]
    assert env["for_each"] == "${var.secrets}"


def test_nothing_is_public():
    text = _tf_code()
    for member in ("allUsers", "allAuthenticatedUsers"):
        assert member not in text
    for rtype, named in RES.items():
        if rtype.endswith(("_iam_member", "_iam_binding")):
            for name, binding in named.items():
                members = binding.get("members") or [binding.get("member")]
                assert all(str(m).startswith("serviceAccount:") for m in members), f"{rtype}.{name}: {members}"
    for name, bucket in RES["google_storage_bucket"].items():
        assert bucket["uniform_bucket_level_access"] is True, name
        assert bucket["public_access_prevention"] == "enforced", name


def test_code_changes_redeploy_and_unchanged_code_does_not():
    archive = TF["data"]["archive_file"]["source"]
    assert archive["output_file_mode"] == "0666"  # a stable zip hash on every OS
    obj = RES["google_storage_bucket_object"]["source"]
    assert "${data.archive_file.source.output_md5}" in obj["name"]  # a new object (a redeploy) per change
    assert obj["source"] == "${data.archive_file.source.output_path}"
    shipped = {s["filename"] for s in archive["source"]}
    assert {"main.py", "requirements.txt"} <= shipped
    dynamic = [next(iter(d.values())) for d in archive["dynamic"]]
    for folder in ("functions/qunflow", "sheets_schema", "workflows"):
        assert any(f"/../{folder}\"" in d["for_each"] for d in dynamic), f"{folder} is not in the archive"


def test_the_archive_puts_the_data_inside_the_package_where_importlib_resources_finds_it():
    # the layout of a wheel (pyproject.toml's package-dir): qunflow/data/sheets_schema/, qunflow/data/workflows/
    archive = TF["data"]["archive_file"]["source"]
    placed = {}
    for block in archive["dynamic"]:
        source = block["source"]
        folder = re.search(r'fileset\("\$\{path\.module\}/\.\./([^"]+)"', source["for_each"])[1]
        content = _one(source, "content")
        assert content["content"] == '${file("${path.module}/../' + folder + '/${source.value}")}', folder
        placed[folder] = content["filename"]
    assert placed == {"functions/qunflow": "qunflow/${source.value}",
                      "sheets_schema": "qunflow/data/sheets_schema/${source.value}",
                      "workflows": "qunflow/data/workflows/${source.value}"}
    env = _one(RES["google_cloudfunctions2_function"]["fn"], "service_config")["environment_variables"]
    # no folder relative to the function's working directory: the package finds its own data
    assert not {"QUNFLOW_SCHEMA_DIR", "QUNFLOW_PLAYBOOKS", "QUNFLOW_JOBS_FILE"} & set(env)


def test_apis_versions_backend_and_outputs():
    apis = RES["google_project_service"]["apis"]
    assert apis["disable_on_destroy"] is False
    wanted = {"sheets", "cloudfunctions", "cloudbuild", "run", "artifactregistry", "cloudscheduler",
              "secretmanager", "iam", "storage"}
    assert {f"{a}.googleapis.com" for a in wanted} <= set(re.findall(r"[a-z]+\.googleapis\.com", apis["for_each"]))
    terraform = TF["terraform"][0]
    assert terraform["required_version"] == ">= 1.5"
    providers = _one(terraform, "required_providers")
    assert providers["google"]["version"] == "~> 6.50" and providers["archive"]["version"] == "~> 2.4"
    assert "gcs" in _one(terraform, "backend")
    assert {"function_uris", "runtime_service_account_email", "invoker_service_account_email"} <= set(TF["output"])
    assert TF["output"]["runtime_service_account_email"]["value"] == "${google_service_account.runtime.email}"
    example = {k: v for k, v in _load(INFRA / "terraform.tfvars.example").items() if k != "__comments__"}
    assert {"project_id", "region", "spreadsheet_id", "secrets"} <= set(example)
    assert set(example) <= set(TF["variable"])


def test_every_checkov_skip_is_inline_with_a_reason():
    skips = re.findall(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?", _tf_text())
    assert skips, "expected the documented CKV_GCP_124 skip (ALLOW_ALL ingress, IAM-only)"
    for check, reason in skips:
        assert reason and len(reason.strip()) >= 20, f"checkov skip {check} needs its reason"
    assert "CKV_GCP_124" in {c for c, _ in skips}


# --- checkov (its own venv: `make checkov`) ------------------------------------------------------------------

def _checkov(*args: str) -> list[dict]:
    if not CHECKOV.exists():
        pytest.skip(f"checkov is not installed in {CHECKOV.parent.parent.name}/ (run `make checkov`; "
                    "`make test` does it when PyPI is reachable)")
    done = subprocess.run([str(CHECKOV), *args, "--compact", "--quiet", "--skip-download", "-o", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    try:
        reports = json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"checkov gave no JSON (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return reports if isinstance(reports, list) else [reports]


def _failures(reports: list[dict]) -> list[str]:
    return [f"{f['check_id']} {f['check_name']} {f.get('resource') or ''} {f['file_path']}:{f['file_line_range']}"
            for r in reports for f in r.get("results", {}).get("failed_checks", [])]


def test_checkov_terraform_has_no_failed_checks():
    reports = _checkov("-d", "infra", "--framework", "terraform")
    summary = reports[0].get("summary", reports[0])
    assert summary["failed"] == 0 and summary["parsing_errors"] == 0, "\n".join(_failures(reports))
    assert summary.get("resource_count", 0) >= 20, summary  # it did read the .tf files
    assert summary["passed"] > 0


# Generated, cached or local-only paths: never in the repository (and git ignores most of them).
_NOT_SOURCE = re.compile(r"^(\.venv[^/]*|\.git|\.hypothesis|\.pytest_cache|demo-out|out|infra/\.terraform|"
                         r"infra/\.build)(/|$)|(^|/)__pycache__/|\.egg-info/")


def _repo_files() -> list[str]:
    """The files git holds or would add (tracked + untracked, not ignored); [] outside a git checkout."""
    git = shutil.which("git")
    if not git:
        return []
    done = subprocess.run([git, "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                          capture_output=True, timeout=60)
    if done.returncode != 0:
        return []
    return [p for p in done.stdout.decode().split("\0") if p and not _NOT_SOURCE.search(p) and (ROOT / p).is_file()]


def test_checkov_secrets_finds_nothing_in_the_repository():
    # checkov's default secrets scan: config-like files (.tf, .yaml, .json...) across the repository
    skips = [a for p in (r"\.venv", r"\.venv-checkov", r"\.hypothesis", r"\.pytest_cache", "demo-out",
                         r"infra/\.terraform", r"infra/\.build") for a in ("--skip-path", p)]
    reports = _checkov("-d", ".", "--framework", "secrets", *skips)
    assert not _failures(reports), "\n".join(_failures(reports))
    # and every other source file (Python, Markdown, Makefile, tfvars...), tests/ included: its fake webhook tokens
    # are low-entropy and obviously fake, and the few that must look real (hooks.slack.com URLs) carry an inline
    # `# checkov:skip=CKV_SECRET_14: <reason>` on the line above
    files = _repo_files()
    assert any(p.startswith("tests/") for p in files) or not files, "tests/ must be scanned too"
    if files:
        reports = _checkov("--framework", "secrets", "-f", *files)
        assert not _failures(reports), "\n".join(_failures(reports))
