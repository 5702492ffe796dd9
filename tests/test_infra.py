"""infra/ checked offline: terraform fmt, its structure (python-hcl2), and checkov.

`terraform init/validate/plan` need the provider registry, which these machines cannot reach, so the checks
that matter are made on the parsed .tf files: one Scheduler job per job in workflows/jobs.yaml, each with an
OIDC token whose audience is exactly the function's URI; run.invoker (not cloudfunctions.invoker) for the
invoker, on each function's service; one accessor binding per secret, each function mounting only its own;
nothing public but the events function; a source object named after the archive's md5, and an archive that
carries sheets_schema/ and workflows/ inside the package (qunflow/data/..., as a wheel does;
tests/test_packaging.py builds it and imports from it); labels, the ERROR-line alert, the static egress option
and the provider lock file. Where terraform is installed, `terraform console` (which needs no provider)
evaluates the variables and the per-function settings for both static_egress states. checkov runs from its own
venv (`make checkov`); both it and terraform are skipped, with a message, where they are missing.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
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
        assert {"entry_point", "timeout_seconds", "memory", "max_instances", "concurrency", "cpu", "secrets",
                "calls_wecom", "public"} <= set(fn), name
        assert 1 <= fn["timeout_seconds"] <= 3600, name  # gen2 HTTP functions: at most 60 minutes
        assert fn["secrets"] in {"webhooks", "ingest", "platform_keys", "none"}, name
        assert isinstance(fn["calls_wecom"], bool) and isinstance(fn["public"], bool), name
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


def _mebibytes(memory: str) -> float:
    """Cloud Functions' memory quantity ("256M", "1Gi") in MiB."""
    m = re.fullmatch(r"(\d+)(M|Mi|G|Gi)", memory)
    assert m, f"memory {memory!r}: use M, Mi, G or Gi"
    factor = {"M": 1e6 / 2**20, "Mi": 1, "G": 1e9 / 2**20, "Gi": 1024}[m[2]]
    return int(m[1]) * factor


def test_every_function_has_the_cpu_its_concurrency_and_memory_need():
    # Cloud Run: below 1 vCPU, concurrency must be 1; more than 512 MiB needs 0.5 vCPU, more than 1 GiB needs 1;
    # above 1, whole vCPUs (cloud.google.com/run/docs/configuring/cpu, for services). ingest (concurrency 4) had none.
    for name, fn in JOBS["functions"].items():
        assert isinstance(fn["cpu"], str), f"{name}: cpu is a string in Terraform (\"1\", \"0.333\")"
        cpu, memory = float(fn["cpu"]), _mebibytes(fn["memory"])
        assert 0.08 <= cpu <= 8, name
        if fn["concurrency"] > 1:
            assert cpu >= 1, f"{name}: concurrency {fn['concurrency']} needs at least 1 vCPU, not {fn['cpu']}"
        if cpu < 1:
            assert memory <= 1024 and (memory <= 512 or cpu >= 0.5), f"{name}: {fn['memory']} with {fn['cpu']} vCPU"
        else:
            assert cpu == int(cpu) and memory <= 4096 * cpu, name
    assert float(JOBS["functions"]["ingest"]["cpu"]) >= 1
    service = _one(RES["google_cloudfunctions2_function"]["fn"], "service_config")
    assert service["available_cpu"] == "${each.value.cpu}"


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
    assert service["service_account_email"] == ('${each.key == "events" ? google_service_account.events.email : '
                                                'google_service_account.runtime.email}')
    assert JOBS["functions"]["events"]["entry_point"] == "events"
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


RUNTIME = "serviceAccount:${google_service_account.runtime.email}"
EVENTS = "serviceAccount:${google_service_account.events.email}"
ACCESSOR = "roles/secretmanager.secretAccessor"


def test_separate_service_accounts_and_nothing_project_wide_that_a_resource_binding_can_do():
    accounts = RES["google_service_account"]
    assert {"runtime", "events", "invoker", "builder"} <= set(accounts)
    assert len({a["account_id"] for a in accounts.values()}) == len(accounts)
    for name, binding in RES.get("google_project_iam_member", {}).items():
        if binding["role"] in {"roles/datastore.user", ACCESSOR}:  # granted per project: narrowed by a condition
            assert _one(binding, "condition")["expression"], name
            continue
        assert binding["role"] in {"roles/logging.logWriter", "roles/artifactregistry.writer"}, \
            f"{name}: {binding['role']} project-wide; bind it on the one resource that needs it"
        assert binding["member"] != EVENTS, f"{name}: the events function's account gets nothing project-wide"
    for rtype in ("google_project_iam_binding", "google_project_iam_policy"):
        assert rtype not in RES, f"{rtype} replaces project-wide IAM; use *_iam_member on single resources"


def test_the_state_database_is_firestore_native_and_only_qunflow_s_accounts_reach_it():
    db = RES["google_firestore_database"]["state"]
    assert db["type"] == "FIRESTORE_NATIVE" and db["delete_protection_state"] == "DELETE_PROTECTION_ENABLED"
    assert db["point_in_time_recovery_enablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
    grants = [b for b in RES["google_project_iam_member"].values() if b["role"] == "roles/datastore.user"]
    assert sorted(g["member"] for g in grants) == sorted([RUNTIME, EVENTS])
    for grant in grants:
        condition = _one(grant, "condition")
        assert condition["expression"] == ('resource.name == "projects/${var.project_id}/databases/'
                                           '${google_firestore_database.state.name}"'), condition
    function = RES["google_cloudfunctions2_function"]
    env = _one(next(iter(function.values())), "service_config")["environment_variables"]
    assert env["QUNFLOW_STATE"] == "firestore:${google_firestore_database.state.name}"
    assert "firestore.googleapis.com" in RES["google_project_service"]["apis"]["for_each"]


def test_each_secret_has_its_own_accessor_binding_and_no_value_in_terraform():
    secrets = RES["google_secret_manager_secret"]
    assert set(secrets) == {"ingest_hmac", "secret", "event_key"}
    for secret in secrets.values():
        assert _one(secret, "replication") == {"auto": [{}]}
    # the ids the functions read at run time and `qunflow secrets set NAME` writes: qunflow-NAME
    assert secrets["secret"]["for_each"] == "${var.secrets}"
    assert secrets["secret"]["secret_id"] == "qunflow-${each.value}"
    assert secrets["event_key"]["for_each"] == "${local.event_keys}"
    assert secrets["event_key"]["secret_id"] == "qunflow-${each.value}"
    # ingest's key has no qunflow- prefix, so the runtime's conditional read of qunflow-* does not reach it
    assert secrets["ingest_hmac"]["secret_id"] == "INGEST_HMAC_SECRET"
    readers = RES["google_secret_manager_secret_iam_member"]
    assert {name: (r.get("for_each"), r["secret_id"], r["member"]) for name, r in readers.items()} == {
        "ingest_reads": (None, "${google_secret_manager_secret.ingest_hmac.id}", RUNTIME),
        "runtime_reads": ("${var.secrets}", "${google_secret_manager_secret.secret[each.value].id}", RUNTIME),
        "events_reads": ("${local.event_keys}", "${google_secret_manager_secret.event_key[each.value].id}", EVENTS),
    }
    assert all(r["role"] == ACCESSOR for r in readers.values())
    assert "google_secret_manager_secret_version" not in RES
    assert "secret_data" not in _tf_code(), "secret values go in with gcloud, never through Terraform state"
    assert TF["variable"]["secrets"]["default"] == []
    moved = _load(INFRA / "secrets.tf")["moved"]  # an older deploy's INGEST_HMAC_SECRET keeps its value
    assert {"from": '${google_secret_manager_secret.secret["INGEST_HMAC_SECRET"]}',
            "to": "${google_secret_manager_secret.ingest_hmac}"} in [{k: m[k] for k in ("from", "to")} for m in moved]
    assert "INGEST_HMAC_SECRET" in _one(TF["variable"]["secrets"], "validation")["condition"]


def test_each_function_mounts_only_the_secrets_it_uses():
    service = _one(RES["google_cloudfunctions2_function"]["fn"], "service_config")
    mounted = service["dynamic"][0]["secret_environment_variables"]
    assert mounted["for_each"] == "${local.secret_mounts[each.value.secrets]}"
    assert _one(mounted, "content") == {"key": "${secret_environment_variables.key}", "project_id": "${var.project_id}",
                                        "secret": "${secret_environment_variables.value}", "version": "latest"}
    mounts = TF["locals"]["secret_mounts"]
    assert mounts["webhooks"] == "${{for name in var.secrets : name => google_secret_manager_secret.secret[name].secret_id}}"
    assert mounts["ingest"] == {"INGEST_HMAC_SECRET": "${google_secret_manager_secret.ingest_hmac.secret_id}"}
    assert mounts["platform_keys"] == ('${{for name in local.event_keys : "QUNFLOW_${name}" => '
                                       'google_secret_manager_secret.event_key[name].secret_id}}')
    assert mounts["none"] == {}
    kinds = {name: fn["secrets"] for name, fn in JOBS["functions"].items()}
    assert kinds["ingest"] == "ingest" and kinds["events"] == "platform_keys" and kinds["housekeeping"] == "none"
    assert kinds["tick"] == "webhooks"
    assert [n for n, k in kinds.items() if k == "ingest"] == ["ingest"]
    assert [n for n, k in kinds.items() if k == "platform_keys"] == ["events"]
    env = service["environment_variables"]
    assert env["QUNFLOW_SECRET_PROJECT"] == "${var.project_id}"  # secret:NAME -> qunflow-NAME at run time
    assert env["QUNFLOW_SECRET_NAMES"] == "${join(\",\", sort(keys(local.secret_mounts[each.value.secrets])))}"


def test_the_events_keys_are_the_receivers_own_names():
    # Terraform's per-platform key names are exactly what each receiver asks its Keys for (functions/main.py
    # keys(): $QUNFLOW_<NAME>, else qunflow-<NAME>), and every receiver's path has its platform
    from qunflow.events import dingtalk, feishu, route, slack, telegram, wecom
    assert TF["locals"]["platform_keys"] == {
        "feishu": [feishu.ENCRYPT_KEY, feishu.TOKEN], "slack": [slack.SECRET], "telegram": [telegram.SECRET],
        "dingtalk": [dingtalk.TOKEN, dingtalk.AES_KEY, dingtalk.APP_KEY],
        "wecom": [wecom.TOKEN, wecom.AES_KEY, wecom.CORP_ID]}
    assert {f"/{p}" for p in TF["locals"]["platform_keys"]} == set(route.RECEIVERS)
    variable = TF["variable"]["event_platforms"]
    assert variable["type"] == "${set(string)}" and variable["default"] == []
    for platform in TF["locals"]["platform_keys"]:
        assert f'"{platform}"' in _one(variable, "validation")["condition"], platform
    assert TF["locals"]["event_keys"] == \
        "${toset(flatten([for platform in var.event_platforms : local.platform_keys[platform]]))}"


def test_the_sending_functions_read_qunflow_secrets_at_run_time_and_nothing_else():
    grant = RES["google_project_iam_member"]["runtime_secrets"]
    assert grant["role"] == ACCESSOR and grant["member"] == RUNTIME
    assert _one(grant, "condition")["expression"] == "${local.runtime_secrets_condition}"
    assert TF["locals"]["secret_prefix"] == "projects/${data.google_project.this.number}/secrets/qunflow-"
    assert TF["data"]["google_project"]["this"]["project_id"] == "${var.project_id}"
    condition = TF["locals"]["runtime_secrets_condition"]
    assert 'resource.name.startsWith(\\"${local.secret_prefix}\\")' in condition
    assert '!resource.name.startsWith(\\"${local.secret_prefix}${key}/\\")' in condition  # minus the platform keys
    assert "values(local.platform_keys)" in condition


def test_only_the_events_function_is_public():
    public = [name for name, fn in JOBS["functions"].items() if fn["public"]]
    assert public == ["events"], f"only events may be public (the platforms call it without a Google identity): {public}"
    bindings = RES["google_cloud_run_v2_service_iam_member"]
    binding = bindings["public"]
    assert binding["for_each"] == "${{for name, fn in local.functions : name => fn if fn.public}}"
    assert binding["member"] == "allUsers" and binding["role"] == "roles/run.invoker"
    assert binding["name"] == "${google_cloudfunctions2_function.fn[each.key].service_config[0].service}"
    text = _tf_code()
    assert text.count("allUsers") == 1 and "allAuthenticatedUsers" not in text
    for rtype, named in RES.items():
        if rtype.endswith(("_iam_member", "_iam_binding")):
            for name, binding in named.items():
                if (rtype, name) == ("google_cloud_run_v2_service_iam_member", "public"):
                    continue
                members = binding.get("members") or [binding.get("member")]
                assert all(str(m).startswith("serviceAccount:") for m in members), f"{rtype}.{name}: {members}"
    for name, bucket in RES["google_storage_bucket"].items():
        assert bucket["uniform_bucket_level_access"] is True, name
        assert bucket["public_access_prevention"] == "enforced", name
    skip = re.search(r"#\s*checkov:skip=(CKV_GCP_102):(.*)", (INFRA / "iam.tf").read_text(encoding="utf-8"))
    assert skip and "signature" in skip[2], "the public invoker's checkov skip, with its reason, inline"
    assert TF["output"]["events_url"]["value"] == \
        '${google_cloudfunctions2_function.fn["events"].service_config[0].uri}'


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
    assert {"project_id", "region", "spreadsheet_id", "secrets", "event_platforms", "static_egress"} <= set(example)
    assert set(example) <= set(TF["variable"])
    assert {"events_url", "egress_ip", "events_service_account_email"} <= set(TF["output"])


def test_the_apis_the_readme_and_the_alert_need_and_the_egress_ones_only_with_static_egress():
    apis = RES["google_project_service"]["apis"]["for_each"]
    always, _, optional = apis.partition("var.static_egress ?")
    found = set(re.findall(r"[a-z]+\.googleapis\.com", always))
    # impersonation (README: --impersonate-service-account) needs IAM Credentials; project IAM and
    # data.google_project need Cloud Resource Manager; the ERROR-line alert needs Monitoring
    assert {"iamcredentials.googleapis.com", "cloudresourcemanager.googleapis.com",
            "monitoring.googleapis.com", "logging.googleapis.com"} <= found
    assert set(re.findall(r"[a-z]+\.googleapis\.com", optional)) == {"compute.googleapis.com",
                                                                    "vpcaccess.googleapis.com"}
    assert not {"compute.googleapis.com", "vpcaccess.googleapis.com"} & found


# Resource types that take labels in google provider 6.x, and the argument's name; every other type used here
# takes none (checked in the provider's docs), so a new type must be placed in one of the two.
LABELLED = {"google_storage_bucket": "labels", "google_cloudfunctions2_function": "labels",
            "google_secret_manager_secret": "labels", "google_compute_address": "labels",
            "google_monitoring_alert_policy": "user_labels"}
UNLABELLED = {"google_project_service", "google_service_account", "google_project_iam_member",
              "google_storage_bucket_iam_member", "google_cloud_run_v2_service_iam_member",
              "google_secret_manager_secret_iam_member", "google_storage_bucket_object", "google_cloud_scheduler_job",
              "google_firestore_database", "google_compute_network", "google_compute_subnetwork",
              "google_vpc_access_connector", "google_compute_router", "google_compute_router_nat",
              "google_compute_firewall"}


def test_every_resource_that_takes_labels_carries_them():
    assert TF["locals"]["labels"] == '${merge({app = "qunflow", managed-by = "terraform"}, var.labels)}'
    variable = TF["variable"]["labels"]
    assert variable["type"] == "${map(string)}" and variable["default"] == {}
    assert set(RES) <= set(LABELLED) | UNLABELLED, f"labels or not? {set(RES) - set(LABELLED) - UNLABELLED}"
    for rtype, argument in LABELLED.items():
        for name, body in RES.get(rtype, {}).items():
            assert body.get(argument) == "${local.labels}", f"{rtype}.{name}: {argument} = local.labels"


def test_an_alert_on_the_functions_error_lines_with_a_notification_channel_variable():
    policy = RES["google_monitoring_alert_policy"]["errors"]
    assert policy["notification_channels"] == "${var.notification_channels}"
    assert TF["variable"]["notification_channels"]["type"] == "${list(string)}"
    condition = _one(policy, "conditions")
    matched = _one(condition, "condition_matched_log")
    log_filter = matched["filter"]
    assert "severity>=ERROR" in log_filter
    assert 'resource.type="cloud_run_revision"' in log_filter  # gen2 functions log as their Cloud Run service
    assert 'resource.labels.service_name=~"^qunflow-"' in log_filter
    assert matched["label_extractors"]["job"] == "EXTRACT(jsonPayload.job)"  # functions/main.py _log(job=...)
    strategy = _one(policy, "alert_strategy")
    period = _one(strategy, "notification_rate_limit")["period"]  # required for log-based conditions
    assert re.fullmatch(r"\d+s", period) and int(period[:-1]) >= 300
    assert "monitoring.googleapis.com" in RES["google_project_service"]["apis"]["for_each"]


EGRESS = ("google_compute_network", "google_compute_subnetwork", "google_vpc_access_connector",
          "google_compute_router", "google_compute_address", "google_compute_router_nat", "google_compute_firewall")


def test_static_egress_is_off_by_default_and_every_egress_resource_exists_only_with_it():
    variable = TF["variable"]["static_egress"]
    assert variable["type"] == "bool" and variable["default"] is False
    for rtype in EGRESS:
        assert RES[rtype], rtype
        for name, body in RES[rtype].items():
            assert body["count"] == "${var.static_egress ? 1 : 0}", f"{rtype}.{name}"
    assert TF["locals"]["egress_connector"] == "${var.static_egress ? google_vpc_access_connector.egress[0].id : null}"
    assert TF["output"]["egress_ip"]["value"] == "${var.static_egress ? google_compute_address.egress[0].address : null}"


def test_with_static_egress_the_wecom_callers_leave_from_one_reserved_address():
    address = RES["google_compute_address"]["egress"]
    assert address["address_type"] == "EXTERNAL"
    nat = RES["google_compute_router_nat"]["egress"]
    assert nat["nat_ip_allocate_option"] == "MANUAL_ONLY"  # the reserved address, never an automatic one
    assert nat["nat_ips"] == ["${google_compute_address.egress[0].self_link}"]
    assert nat["router"] == "${google_compute_router.egress[0].name}"
    assert nat["source_subnetwork_ip_ranges_to_nat"] == "LIST_OF_SUBNETWORKS"
    assert _one(nat, "subnetwork") == {"name": "${google_compute_subnetwork.egress[0].id}",
                                       "source_ip_ranges_to_nat": ["ALL_IP_RANGES"]}
    subnet = RES["google_compute_subnetwork"]["egress"]
    assert subnet["network"] == RES["google_compute_router"]["egress"]["network"] == \
        "${google_compute_network.egress[0].id}"
    assert TF["variable"]["egress_cidr"]["default"].endswith("/28")  # what a connector's subnet must be
    connector = RES["google_vpc_access_connector"]["egress"]
    assert _one(connector, "subnet") == {"name": "${google_compute_subnetwork.egress[0].name}"}
    assert RES["google_compute_network"]["egress"]["auto_create_subnetworks"] is False
    service = _one(RES["google_cloudfunctions2_function"]["fn"], "service_config")
    assert service["vpc_connector"] == "${each.value.calls_wecom ? local.egress_connector : null}"
    assert service["vpc_connector_egress_settings"] == \
        '${each.value.calls_wecom && var.static_egress ? "ALL_TRAFFIC" : null}'  # all of it, not private ranges only
    callers = {name for name, fn in JOBS["functions"].items() if fn["calls_wecom"]}
    # every function that reaches qyapi.weixin.qq.com: the tick (customer-group tasks), the member sync, and the
    # daily report (it may go to a WeCom group); ingest, events and housekeeping call no one
    assert callers == {"tick", "wecom-sync", "metrics"}


# --- terraform console: the variables and the per-function settings, evaluated (no provider needed) ------------

_STUBS = {
    r"data\.google_project\.this\.number": '"123456789012"',
    r"google_vpc_access_connector\.egress\[0\]\.id": '"projects/p/locations/r/connectors/qunflow-egress"',
    r"google_compute_address\.egress\[0\]\.address": '"203.0.113.7"',
    r"google_service_account\.(\w+)\.email": r'"\1@p.iam.gserviceaccount.com"',
    r"google_firestore_database\.state\.name": '"qunflow"',
}


def _hcl(value: Any) -> str:
    """A python-hcl2 value as HCL text again (strings that are one ${...} become the bare expression)."""
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            depth = 0
            for i, ch in enumerate(value[1:], 1):
                depth += {"{": 1, "}": -1}.get(ch, 0)
                if depth == 0:
                    break
            if i == len(value) - 1:
                return "(" + value[2:-1] + ")"
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_hcl(v)}" for k, v in value.items() if k != "__comments__") + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_hcl(v) for v in value) + "]"
    return json.dumps(value)


def _stubbed(expression: str) -> str:
    for ref, literal in _STUBS.items():
        expression = re.sub(ref, literal, expression)
    for name, secret in RES["google_secret_manager_secret"].items():  # a secret's id, from its own definition
        pattern = rf"google_secret_manager_secret\.{name}(?:\[(\w+)\])?\.secret_id"
        expression = re.sub(pattern, lambda m: _hcl(secret["secret_id"]).replace("each.value", m[1] or ""), expression)
    return expression


def _evaluate(tmp_path: Path, variables: dict) -> dict:
    """Evaluate infra's locals and each function's service_config settings with `terraform console` in a module
    made of infra/variables.tf (verbatim, validations included) and the locals, resource references stubbed."""
    terraform = shutil.which("terraform")
    if not terraform:
        pytest.skip("terraform is not on PATH: the variables and locals are not evaluated")
    shutil.copy(INFRA / "variables.tf", tmp_path / "variables.tf")
    service = _one(RES["google_cloudfunctions2_function"]["fn"], "service_config")
    per_function = {key: service[key] for key in ("vpc_connector", "vpc_connector_egress_settings",
                                                  "service_account_email", "available_cpu")}
    per_function["env"] = service["environment_variables"]
    per_function["mounted"] = "${" + service["dynamic"][0]["secret_environment_variables"]["for_each"][2:-1] + "}"
    lines = [f"  {name} = {_stubbed(_hcl(value))}" for name, value in TF["locals"].items()]
    for key, value in per_function.items():
        text = _stubbed(_hcl(value)).replace("each.key", "n").replace("each.value", "f")
        lines.append(f"  fn_{key} = {{ for n, f in local.functions : n => {text} }}")
    lines.append(f"  apis = {_hcl(RES['google_project_service']['apis']['for_each'])}")
    lines.append(f"  egress_count = {_hcl(RES['google_compute_address']['egress']['count'])}")
    lines.append(f"  public = {_hcl(RES['google_cloud_run_v2_service_iam_member']['public']['for_each'])}")
    (tmp_path / "locals.tf").write_text("locals {\n" + "\n".join(lines) + "\n}\n", encoding="utf-8")
    values = {"project_id": "my-shop-prod", "spreadsheet_id": "sheet-1",
              "jobs_file": str(ROOT / "workflows" / "jobs.yaml"), **variables}
    (tmp_path / "test.tfvars.json").write_text(json.dumps(values), encoding="utf-8")
    names = [n for n in TF["locals"]] + [f"fn_{k}" for k in per_function] + ["apis", "egress_count", "public"]
    query = "jsonencode({" + ", ".join(f"{n} = local.{n}" for n in names) + "})\n"
    done = subprocess.run([terraform, "console", "-no-color", "-var-file=test.tfvars.json"], cwd=tmp_path, input=query,
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return {"error": done.stdout + done.stderr}
    return json.loads(json.loads(done.stdout.strip().replace("$${", "${")))


def test_terraform_evaluates_the_default_deploy(tmp_path):
    got = _evaluate(tmp_path, {})
    assert "error" not in got, got.get("error")
    assert got["egress_count"] == 0 and got["egress_connector"] is None
    assert all(v is None for v in got["fn_vpc_connector"].values())
    assert all(v is None for v in got["fn_vpc_connector_egress_settings"].values())
    assert "compute.googleapis.com" not in got["apis"] and "iamcredentials.googleapis.com" in got["apis"]
    # checkov:skip=CKV_SECRET_6: secret names (environment variables, Secret Manager ids), no value
    assert got["fn_mounted"]["ingest"] == {"INGEST_HMAC_SECRET": "INGEST_HMAC_SECRET"}
    assert got["fn_mounted"]["events"] == {} and got["fn_mounted"]["tick"] == {}  # read at run time instead
    assert got["fn_mounted"]["housekeeping"] == {}
    assert got["fn_service_account_email"]["events"] == "events@p.iam.gserviceaccount.com"
    assert {v for k, v in got["fn_service_account_email"].items() if k != "events"} == \
        {"runtime@p.iam.gserviceaccount.com"}
    # checkov:skip=CKV_SECRET_6: secret names (environment variables, Secret Manager ids), no value
    assert all(env["QUNFLOW_SECRET_PROJECT"] == "my-shop-prod" for env in got["fn_env"].values())
    assert got["fn_env"]["tick"]["QUNFLOW_STATE"] == "firestore:qunflow"
    assert list(got["public"]) == ["events"]
    assert got["labels"] == {"app": "qunflow", "managed-by": "terraform"}
    assert got["fn_available_cpu"]["ingest"] == "1"
    prefix = "projects/123456789012/secrets/qunflow-"
    assert got["runtime_secrets_condition"].startswith(f'resource.name.startsWith("{prefix}") && ')
    assert f'!resource.name.startsWith("{prefix}SLACK_SIGNING_SECRET/")' in got["runtime_secrets_condition"]
    assert got["runtime_secrets_condition"].count("!resource.name") == 10


def test_terraform_evaluates_static_egress_and_every_platform(tmp_path):
    got = _evaluate(tmp_path, {"static_egress": True, "secrets": ["WEBHOOK_G01"], "labels": {"shop": "wardrobe"},
                               "event_platforms": ["feishu", "slack", "telegram", "dingtalk", "wecom"]})
    assert "error" not in got, got.get("error")
    assert got["egress_count"] == 1
    connector = "projects/p/locations/r/connectors/qunflow-egress"
    wecom = {name for name, fn in JOBS["functions"].items() if fn["calls_wecom"]}
    assert {n for n, v in got["fn_vpc_connector"].items() if v == connector} == wecom
    assert {n for n, v in got["fn_vpc_connector_egress_settings"].items() if v == "ALL_TRAFFIC"} == wecom
    assert all(got["fn_vpc_connector"][n] is None for n in set(got["fn_vpc_connector"]) - wecom)
    assert {"compute.googleapis.com", "vpcaccess.googleapis.com"} <= set(got["apis"])
    events = got["fn_mounted"]["events"]
    assert len(events) == 10 and events["QUNFLOW_FEISHU_ENCRYPT_KEY"] == "qunflow-FEISHU_ENCRYPT_KEY"
    assert events["QUNFLOW_WECOM_CORP_ID"] == "qunflow-WECOM_CORP_ID"
    assert got["fn_mounted"]["tick"] == {"WEBHOOK_G01": "qunflow-WEBHOOK_G01"}
    # checkov:skip=CKV_SECRET_6: secret names (environment variables, Secret Manager ids), no value
    assert got["fn_env"]["tick"]["QUNFLOW_SECRET_NAMES"] == "WEBHOOK_G01"
    assert "WEBHOOK_G01" not in json.dumps(got["fn_mounted"]["ingest"]) + json.dumps(events)
    assert got["labels"] == {"app": "qunflow", "managed-by": "terraform", "shop": "wardrobe"}


@pytest.mark.parametrize("variables, message", [
    ({"secrets": ["INGEST_HMAC_SECRET"]}, "INGEST_HMAC_SECRET is created on its own"),
    ({"event_platforms": ["lark"]}, "Lark uses feishu"),
    ({"labels": {"Shop": "x"}}, "Label keys start with a lowercase letter"),
])
def test_terraform_refuses_bad_variables_with_the_fix(tmp_path, variables, message):
    got = _evaluate(tmp_path, variables)
    assert "error" in got and message in re.sub(r"\s+", " ", got["error"].replace("│", " ")), got


def test_the_provider_lock_file_is_committed_for_the_pinned_versions():
    lock = (INFRA / ".terraform.lock.hcl").read_text(encoding="utf-8")
    providers = dict(re.findall(r'provider "registry\.terraform\.io/hashicorp/(\w+)" \{\s+version\s+= "([\d.]+)"', lock))
    assert set(providers) == {"google", "archive"}
    assert providers["google"].startswith("6.") and int(providers["google"].split(".")[1]) >= 50  # ~> 6.50
    assert providers["archive"].startswith("2.") and int(providers["archive"].split(".")[1]) >= 4  # ~> 2.4
    for block in re.findall(r"provider [^{]+\{(.*?)\n\}", lock, re.S):
        hashes = re.findall(r'"((?:h1|zh):[^"]+)"', block)
        assert any(h.startswith("h1:") for h in hashes) and sum(h.startswith("zh:") for h in hashes) >= 10
    assert "infra/.terraform.lock.hcl" in _repo_files() or not _repo_files()  # not git-ignored


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


@pytest.mark.parametrize("variables", [None, {"static_egress": True, "secrets": ["WEBHOOK_G01"],
                                               "event_platforms": ["feishu", "slack", "telegram", "dingtalk", "wecom"]}],
                         ids=["defaults", "static-egress-and-every-platform"])
def test_checkov_terraform_has_no_failed_checks(tmp_path, variables):
    extra = []
    if variables:
        (tmp_path / "on.tfvars.json").write_text(json.dumps(variables), encoding="utf-8")
        extra = ["--var-file", str(tmp_path / "on.tfvars.json")]
    reports = _checkov("-d", "infra", "--framework", "terraform", *extra)
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


def test_the_readme_gives_each_platform_its_url_and_its_secrets():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for platform, names in TF["locals"]["platform_keys"].items():
        assert f"<events_url>/{platform}" in readme, platform
        for name in names:
            assert f"qunflow secrets set {name}" in readme, name
    for needed in ("terraform output -raw egress_ip", "static_egress = true", "客户联系 → 可调用接口的应用",
                   "备案", "crontab -e", "systemctl enable --now", "schtasks /Create", "qunflow tick shop.xlsx",
                   "gcloud secrets versions add qunflow-NAME"):
        assert needed in readme, needed
