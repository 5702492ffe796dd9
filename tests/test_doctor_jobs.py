"""`qunflow doctor` and `qunflow jobs`: checklists with fixes, Scheduler calls through an injected client,
and errors that are sentences (missing credentials, permission denied, not found), never tracebacks."""
from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from google.api_core import exceptions as api
from google.auth.exceptions import DefaultCredentialsError
from google.cloud.scheduler_v1 import Job

from helpers import BASE, make_raw, write_xlsx
from qunflow.cli import cli
from qunflow.jobs.doctor import DoctorDeps
from qunflow.jobs.scheduler import DEFAULT_REGION, declared_jobs
from sheets_fake import FakeSheetsServer

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_SA = "qunflow-runtime@proj.iam.gserviceaccount.com"
HOOK_G01 = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=0a1b2c3d-secret-key-G01-9f8e7d"
HOOK_G02 = "https://oapi.dingtalk.com/robot/send?access_token=tok-secret-G02-5a4b3c2d1e"
SIGN_G02 = "SECsigning-secret-G02-0123456789"
PARENT = "projects/my-shop/locations/asia-east2"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("QUNFLOW_SOURCE", "QUNFLOW_SHEETS_API", "QUNFLOW_RUNTIME_SA", "GOOGLE_CLOUD_PROJECT", "QUNFLOW_REGION",
                 "QUNFLOW_HOOK_G01", "QUNFLOW_HOOK_G02", "QUNFLOW_SIGN_G02", "QUNFLOW_SECRETS_DIR", "QUNFLOW_SERVICE_ACCOUNT_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUNFLOW_SECRETS_FILE", str(tmp_path / "no-secrets-file"))
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # belt and braces: never probe a metadata server from a test


def set_refs(monkeypatch, *, skip: str = "") -> None:
    for name, value in (("QUNFLOW_HOOK_G01", HOOK_G01), ("QUNFLOW_HOOK_G02", HOOK_G02), ("QUNFLOW_SIGN_G02", SIGN_G02)):
        if name != skip:
            monkeypatch.setenv(name, value)


def no_credentials():
    raise DefaultCredentialsError("Could not automatically determine credentials.")


def invoke(args, **obj):
    result = CliRunner().invoke(cli, args, obj=obj or None)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def lines(output: str) -> dict[str, str]:
    """{check name: its line and its fix line} from doctor's checklist."""
    out, last = {}, None
    for line in output.splitlines():
        m = re.match(r"^([✓✗!–]) (.+?)\s{2,}(.*)$", line)
        if m:
            last = m[2].strip()
            out[last] = line
        elif last and line.strip().startswith("fix:"):
            out[last] += "\n" + line
    return out


@pytest.fixture
def xlsx(tmp_path):
    path = tmp_path / "shop.xlsx"
    write_xlsx(make_raw(copy.deepcopy(BASE)), path)
    return path


# --- doctor ------------------------------------------------------------------------------------------------

def test_doctor_names_the_email_to_share_an_unshared_sheet_with(monkeypatch):
    with FakeSheetsServer() as server:
        server.create_spreadsheet("UNSHARED", make_raw(copy.deepcopy(BASE)), shared=False)
        monkeypatch.setenv("QUNFLOW_SHEETS_API", server.base_url)
        monkeypatch.setenv("QUNFLOW_RUNTIME_SA", RUNTIME_SA)
        result = invoke(["doctor", "gsheets:UNSHARED"])
    assert result.exit_code == 1, result.output
    checks = lines(result.output)
    assert checks["credentials"].startswith("✓") and "QUNFLOW_SHEETS_API" in checks["credentials"]
    assert checks["sheet"].startswith("✗")
    assert f"fix: share the sheet with {RUNTIME_SA} as Editor" in checks["sheet"]
    for skipped in ("tabs and headers", "webhooks", "time zones"):
        assert checks[skipped].startswith("–")
    assert "1 check(s) failed" in result.output


def test_doctor_without_a_known_email_points_at_the_terraform_output(monkeypatch):
    with FakeSheetsServer() as server:
        server.create_spreadsheet("UNSHARED", make_raw(copy.deepcopy(BASE)), shared=False)
        monkeypatch.setenv("QUNFLOW_SHEETS_API", server.base_url)
        result = invoke(["doctor", "gsheets:UNSHARED", "--json"])
    sheet = {c["check"]: c for c in json.loads(result.output)}["sheet"]
    assert sheet["status"] == "fail"
    assert "terraform output runtime_service_account_email" in sheet["fix"]


def test_doctor_on_a_shared_google_sheet_passes(monkeypatch):
    set_refs(monkeypatch)
    with FakeSheetsServer() as server:
        server.create_spreadsheet("SHOP", make_raw(copy.deepcopy(BASE)))
        monkeypatch.setenv("QUNFLOW_SHEETS_API", server.base_url)
        result = invoke(["doctor", f"https://docs.google.com/spreadsheets/d/SHOP/edit"])
        assert server.count("values.batchUpdate") == server.count("values.append") == 0  # doctor writes nothing
    assert result.exit_code == 0, result.output
    assert lines(result.output)["sheet"].startswith("✓")


def test_doctor_on_a_good_workbook_with_every_reference_set_passes(monkeypatch, xlsx):
    set_refs(monkeypatch)
    result = invoke(["doctor", str(xlsx)])
    assert result.exit_code == 0, result.output
    checks = lines(result.output)
    assert checks["credentials"].startswith("–")  # not needed for a local workbook
    for name in ("workbook", "tabs and headers", "group G01", "group G02", "time zones"):
        assert checks[name].startswith("✓"), checks[name]
    assert "env:QUNFLOW_HOOK_G01" in checks["group G01"] and "qyapi.weixin.qq.com" in checks["group G01"]
    assert "secret env:QUNFLOW_SIGN_G02 set" in checks["group G02"]
    assert checks["scheduler jobs"].startswith("–") and "--check-jobs" in checks["scheduler jobs"]
    assert "All checks passed." in result.output
    for secret in (HOOK_G01, HOOK_G02, SIGN_G02, "secret-key-G01", "secret-G02", "signing-secret"):
        assert secret not in result.output  # named and masked, never shown


def test_doctor_fails_the_group_whose_reference_is_unset_with_the_fix(monkeypatch, xlsx):
    set_refs(monkeypatch, skip="QUNFLOW_SIGN_G02")
    result = invoke(["doctor", str(xlsx)])
    assert result.exit_code == 1, result.output
    checks = lines(result.output)
    assert checks["group G01"].startswith("✓")
    assert checks["group G02"].startswith("✗")
    assert "secret env:QUNFLOW_SIGN_G02 is not set" in checks["group G02"]
    assert "fix: set the environment variable QUNFLOW_SIGN_G02" in checks["group G02"]
    assert HOOK_G02 not in result.output


def test_doctor_reports_missing_tabs_and_columns(monkeypatch, tmp_path):
    set_refs(monkeypatch)
    raw = make_raw(copy.deepcopy(BASE))
    del raw["Tags"]
    groups = raw["Groups"]
    col = groups[0].index("kind")
    for row in groups:
        del row[col]
    path = tmp_path / "broken.xlsx"
    write_xlsx(raw, path)
    result = invoke(["doctor", str(path)])
    assert result.exit_code == 1
    checks = lines(result.output)
    assert checks["tabs and headers"].startswith("✗")
    assert "Tags" in checks["tabs and headers"] and "kind" in checks["tabs and headers"]
    assert "qunflow init" in checks["tabs and headers"] and "headers in row 1" in checks["tabs and headers"]


def test_doctor_reports_a_bad_time_zone(monkeypatch, tmp_path):
    set_refs(monkeypatch)
    rows = copy.deepcopy(BASE)
    rows["groups"][0]["timezone"] = "Asia/Shanghia"
    path = tmp_path / "tz.xlsx"
    write_xlsx(make_raw(rows), path)
    result = invoke(["doctor", str(path)])
    assert result.exit_code == 1
    checks = lines(result.output)
    assert checks["time zones"].startswith("✗") and "Groups row 2 column timezone: 'Asia/Shanghia'" in checks["time zones"]
    assert "fix: write an IANA name such as Asia/Shanghai" in checks["time zones"]
    assert checks["tabs and headers"].startswith("!")  # the row is skipped meanwhile


def test_doctor_without_credentials_says_how_to_log_in():
    from qunflow.jobs.doctor import run_doctor
    from qunflow.delivery.secrets import SecretResolver
    deps = DoctorDeps(env={}, resolver=SecretResolver(env={}), credentials=no_credentials, open_store=_raising_store)
    checks = {c.name: c for c in run_doctor("gsheets:S", datetime.now(timezone.utc), deps)}
    assert checks["credentials"].status == "fail" and "gcloud auth application-default login" in checks["credentials"].fix
    assert checks["sheet"].status == "fail" and "terraform output runtime_service_account_email" in checks["sheet"].fix


def _raising_store(source):
    from qunflow.stores.gsheets import SheetAccessError
    raise SheetAccessError("No Google credentials found.")


def test_doctor_with_credentials_names_their_service_account(monkeypatch):
    from qunflow.jobs.doctor import run_doctor
    from qunflow.delivery.secrets import SecretResolver
    email = "ops-laptop@proj.iam.gserviceaccount.com"
    deps = DoctorDeps(env={"QUNFLOW_RUNTIME_SA": RUNTIME_SA}, resolver=SecretResolver(env={}),
                      credentials=lambda: (object(), email, "proj"), open_store=_raising_store)
    checks = {c.name: c for c in run_doctor("gsheets:S", datetime.now(timezone.utc), deps)}
    assert checks["credentials"].status == "ok" and email in checks["credentials"].detail
    assert email in checks["sheet"].fix and RUNTIME_SA in checks["sheet"].fix


def test_doctor_check_jobs(monkeypatch, xlsx):
    set_refs(monkeypatch)
    enabled = FakeScheduler([job(name) for name in declared_jobs()])
    result = invoke(["doctor", str(xlsx), "--check-jobs", "--project", "my-shop"], scheduler_client=lambda: enabled)
    assert result.exit_code == 0, result.output
    assert lines(result.output)["scheduler jobs"].startswith("✓")
    assert enabled.calls == [("list_jobs", PARENT)]

    paused = FakeScheduler([job("tick", state=Job.State.PAUSED)])
    result = invoke(["doctor", str(xlsx), "--check-jobs", "--project", "my-shop"], scheduler_client=lambda: paused)
    assert result.exit_code == 1
    line = lines(result.output)["scheduler jobs"]
    assert line.startswith("✗") and "metrics" in line and "terraform apply" in line
    assert "qunflow jobs resume tick" in line

    result = invoke(["doctor", str(xlsx), "--check-jobs", "--project", "my-shop"], scheduler_client=no_credentials)
    assert result.exit_code == 0 and lines(result.output)["scheduler jobs"].startswith("–")
    assert "no Google credentials" in lines(result.output)["scheduler jobs"]


# --- jobs --------------------------------------------------------------------------------------------------

class FakeScheduler:
    """The four CloudSchedulerClient methods qunflow uses, over Job messages; records every call."""

    def __init__(self, jobs=(), error: Exception | None = None):
        self.jobs = {j.name: j for j in jobs}
        self.error = error
        self.calls: list[tuple[str, str]] = []

    def _do(self, method: str, name: str):
        self.calls.append((method, name))
        if self.error:
            raise self.error
        if name not in self.jobs:
            raise api.NotFound(f"Job not found: {name}")
        return self.jobs[name]

    def list_jobs(self, parent: str):
        self.calls.append(("list_jobs", parent))
        if self.error:
            raise self.error
        return iter([j for j in self.jobs.values() if j.name.startswith(parent + "/jobs/")])

    def run_job(self, name: str):
        return self._do("run_job", name)

    def pause_job(self, name: str):
        found = self._do("pause_job", name)
        found.state = Job.State.PAUSED
        return found

    def resume_job(self, name: str):
        found = self._do("resume_job", name)
        found.state = Job.State.ENABLED
        return found


def job(name: str, parent: str = PARENT, state=Job.State.ENABLED, **fields) -> Job:
    spec = declared_jobs().get(name)
    values = {"schedule": spec.schedule, "time_zone": spec.time_zone} if spec else {"schedule": "0 * * * *",
                                                                                      "time_zone": "UTC"}
    values.update(fields)
    return Job(name=f"{parent}/jobs/qunflow-{name}", state=state, **values)


def test_the_default_region_is_terraforms():
    import hcl2
    from hcl2 import SerializationOptions
    with (ROOT / "infra" / "variables.tf").open() as f:
        variables = hcl2.load(f, serialization_options=SerializationOptions(strip_string_quotes=True,
                                                                             explicit_blocks=False))
    region = next(v["region"] for v in variables["variable"] if "region" in v)
    assert region["default"] == DEFAULT_REGION


def test_jobs_list_shows_state_last_attempt_drift_and_undeclared_jobs():
    last = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
    fake = FakeScheduler([
        job("metrics", state=Job.State.PAUSED, schedule="0 1 * * *", last_attempt_time=last,
            status={"code": 7, "message": "PERMISSION_DENIED"}),
        job("old-report"),
        job("tick", parent="projects/my-shop/locations/us-central1"),  # another region: not listed
    ])
    result = invoke(["jobs", "list", "--project", "my-shop", "--json"], scheduler_client=lambda: fake)
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert fake.calls == [("list_jobs", PARENT)]
    assert list(rows) == ["tick", "metrics", "housekeeping", "wecom-sync", "wecom-hints", "old-report"]
    assert rows["metrics"]["state"] == "PAUSED" and rows["metrics"]["last_status"] == "error 7: PERMISSION_DENIED"
    assert rows["metrics"]["last_attempt"].startswith("2026-12-01T02:00")
    assert "schedule is '0 1 * * *'" in rows["metrics"]["drift"] and "terraform apply" in rows["metrics"]["drift"]
    assert rows["tick"]["state"] == "MISSING" and "terraform apply" in rows["tick"]["drift"]
    assert rows["housekeeping"]["state"] == "MISSING"
    assert rows["old-report"]["declared"] is False

    table = invoke(["jobs", "list", "--project", "my-shop"], scheduler_client=lambda: fake)
    assert table.exit_code == 0 and PARENT in table.output and "PAUSED" in table.output
    assert "metrics: schedule is '0 1 * * *'" in table.output


def test_jobs_list_without_credentials_shows_jobs_yaml_with_a_note(monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-shop")
    result = invoke(["jobs", "list"], scheduler_client=no_credentials)
    assert result.exit_code == 0, result.output
    for name, spec in declared_jobs().items():
        assert name in result.output and spec.schedule in result.output
    assert "note: showing workflows/jobs.yaml only: no Google credentials" in result.output
    assert "gcloud auth application-default login" in result.output
    # and without a project at all
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    result = invoke(["jobs", "list", "--json"], scheduler_client=lambda: pytest.fail("no client without a project"))
    assert result.exit_code == 0 and "--project" in result.output


def test_jobs_run_pause_resume_address_the_full_job_name_from_env_defaults(monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-shop")
    monkeypatch.setenv("QUNFLOW_REGION", "europe-west1")
    parent = "projects/my-shop/locations/europe-west1"
    fake = FakeScheduler([job("tick", parent=parent), job("metrics", parent=parent)])
    factory = lambda: fake  # noqa: E731
    assert invoke(["jobs", "run", "tick"], scheduler_client=factory).exit_code == 0
    paused = invoke(["jobs", "pause", "qunflow-metrics"], scheduler_client=factory)
    assert paused.exit_code == 0 and "(now PAUSED)" in paused.output
    resumed = invoke(["jobs", "resume", "metrics", "--region", "europe-west1"], scheduler_client=factory)
    assert resumed.exit_code == 0 and "(now ENABLED)" in resumed.output
    assert fake.calls == [("run_job", f"{parent}/jobs/qunflow-tick"), ("pause_job", f"{parent}/jobs/qunflow-metrics"),
                          ("resume_job", f"{parent}/jobs/qunflow-metrics")]


@pytest.mark.parametrize("error, expected", [
    (DefaultCredentialsError("Could not automatically determine credentials."), "gcloud auth application-default login"),
    (api.PermissionDenied('The principal lacks IAM permission "cloudscheduler.jobs.run"'),
     "permission denied on projects/my-shop/locations/asia-east2/jobs/qunflow-tick: your account needs "
     "roles/cloudscheduler.viewer to list and roles/cloudscheduler.admin to run"),
    (api.NotFound("Job not found."), "no job qunflow-tick in projects/my-shop/locations/asia-east2: run "
                                      "`terraform apply` in infra/"),
    (api.ServiceUnavailable("try later"), "Cloud Scheduler answered 503"),
])
def test_jobs_errors_are_sentences(error, expected):
    fake = FakeScheduler([job("tick")], error=error)
    factory = no_credentials if isinstance(error, DefaultCredentialsError) else (lambda: fake)
    result = invoke(["jobs", "run", "tick", "--project", "my-shop"], scheduler_client=factory)
    assert result.exit_code == 2
    assert expected in result.output, result.output
    assert result.output.startswith("qunflow: ")


def test_jobs_refuses_a_job_jobs_yaml_does_not_declare():
    result = invoke(["jobs", "run", "nightly", "--project", "my-shop"],
                    scheduler_client=lambda: pytest.fail("no call for an unknown job"))
    assert result.exit_code == 2 and "no job 'nightly' in workflows/jobs.yaml" in result.output
    assert "tick" in result.output


def test_jobs_list_permission_denied_still_lists_jobs_yaml_then_fails():
    fake = FakeScheduler(error=api.PermissionDenied("denied"))
    result = invoke(["jobs", "list", "--project", "my-shop"], scheduler_client=lambda: fake)
    assert result.exit_code == 2
    assert "tick" in result.output and "roles/cloudscheduler.viewer" in result.output
