"""The Cloud Scheduler jobs Terraform creates from workflows/jobs.yaml: list them, run one now, pause, resume.

Terraform owns creating and changing the jobs (creating them from code would drift from it); this module is
for operators. Each job is `projects/P/locations/R/jobs/qunflow-NAME`. The Scheduler client is made by a
factory (default: google-cloud-scheduler's CloudSchedulerClient), so tests pass a fake, and every Google
error becomes a JobsError: a sentence that says what to do.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from ..sop.resources import override, shipped

JOB_PREFIX = "qunflow-"
DEFAULT_REGION = "asia-east2"  # infra/variables.tf's default region
LOGIN_FIX = ("run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS "
             "to a service-account key file")


class JobsError(Exception):
    """A Scheduler call failed; the message says why and what to do."""


class NoCredentials(JobsError):
    """No Google credentials (or no project): only what workflows/jobs.yaml declares can be shown."""


@dataclass(frozen=True)
class DeclaredJob:
    name: str
    function: str
    schedule: str
    time_zone: str


@dataclass(frozen=True)
class JobRow:
    """A job as `qunflow jobs list` shows it: what jobs.yaml declares and, when known, what is deployed."""
    name: str
    schedule: str
    time_zone: str
    function: str = ""
    declared: bool = True
    state: str = ""                      # ENABLED, PAUSED, ... ; "" = unknown (offline); "MISSING" = not deployed
    last_attempt: datetime | None = None
    last_status: str = ""                # "ok", or the last attempt's error
    next_run: datetime | None = None
    drift: str = ""                      # how the deployed job differs from jobs.yaml

    def as_json(self) -> dict:
        return {"name": self.name, "schedule": self.schedule, "time_zone": self.time_zone,
                "function": self.function, "declared": self.declared, "state": self.state or None,
                "last_attempt": self.last_attempt.isoformat() if self.last_attempt else None,
                "last_status": self.last_status or None,
                "next_run": self.next_run.isoformat() if self.next_run else None, "drift": self.drift or None}


def jobs_file() -> Traversable:
    """workflows/jobs.yaml: $QUNFLOW_JOBS_FILE (an explicit override), else the one the package ships
    (`sop.resources.shipped`: importlib.resources, or the repository in a source checkout)."""
    env = os.environ.get("QUNFLOW_JOBS_FILE")
    return override(env, "QUNFLOW_JOBS_FILE", folder=False) if env else shipped("workflows", "jobs.yaml")


def declared_jobs(path: Path | Traversable | None = None) -> dict[str, DeclaredJob]:
    data = yaml.safe_load((path or jobs_file()).read_text(encoding="utf-8")) or {}
    return {name: DeclaredJob(name, spec.get("function", ""), str(spec.get("schedule", "")),
                              str(spec.get("time_zone", "")))
            for name, spec in (data.get("jobs") or {}).items()}


def short_name(name: str) -> str:
    """"tick" from "tick", "qunflow-tick" or "projects/P/locations/R/jobs/qunflow-tick"."""
    name = name.rsplit("/", 1)[-1]
    return name[len(JOB_PREFIX):] if name.startswith(JOB_PREFIX) else name


def default_client() -> Any:
    from google.cloud.scheduler_v1 import CloudSchedulerClient
    return CloudSchedulerClient()


class SchedulerJobs:
    """The qunflow jobs of one project and region, through an injected Scheduler client factory."""

    def __init__(self, project: str | None, region: str | None,
                 client_factory: Callable[[], Any] = default_client):
        self.project = project or os.environ.get("GOOGLE_CLOUD_PROJECT") or ""
        self.region = region or os.environ.get("QUNFLOW_REGION") or DEFAULT_REGION
        self._factory = client_factory
        self._client: Any = None

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    def job_name(self, name: str) -> str:
        return f"{self.parent}/jobs/{JOB_PREFIX}{short_name(name)}"

    def client(self) -> Any:
        if not self.project:
            raise NoCredentials("no project: pass --project or set GOOGLE_CLOUD_PROJECT")
        if self._client is None:
            self._client = self._call(self._factory, "")
        return self._client

    def list(self) -> list[Any]:
        """The deployed qunflow-* jobs (Job messages)."""
        client = self.client()
        return [job for job in self._call(lambda: list(client.list_jobs(parent=self.parent)), "")
                if job.name.rsplit("/", 1)[-1].startswith(JOB_PREFIX)]

    def run(self, name: str) -> Any:
        client = self.client()
        return self._call(lambda: client.run_job(name=self.job_name(name)), name)

    def pause(self, name: str) -> Any:
        client = self.client()
        return self._call(lambda: client.pause_job(name=self.job_name(name)), name)

    def resume(self, name: str) -> Any:
        client = self.client()
        return self._call(lambda: client.resume_job(name=self.job_name(name)), name)

    def _call(self, fn: Callable[[], Any], name: str) -> Any:
        from google.api_core import exceptions as api
        from google.auth import exceptions as auth
        where = self.job_name(name) if name else self.parent
        try:
            return fn()
        except auth.DefaultCredentialsError:
            raise NoCredentials(f"no Google credentials: {LOGIN_FIX}") from None
        except auth.RefreshError:
            raise JobsError(f"your Google credentials were refused or have expired: {LOGIN_FIX}") from None
        except api.PermissionDenied:
            raise JobsError(f"permission denied on {where}: your account needs roles/cloudscheduler.viewer to "
                            f"list and roles/cloudscheduler.admin to run, pause or resume, on project "
                            f"{self.project} (and the Cloud Scheduler API enabled: `terraform apply` does it)") \
                from None
        except api.NotFound:
            if name:
                raise JobsError(f"no job {JOB_PREFIX}{short_name(name)} in {self.parent}: run `terraform apply` "
                                f"in infra/, or check --project and --region") from None
            raise JobsError(f"{self.parent} was not found: check --project and --region") from None
        except api.GoogleAPICallError as exc:
            raise JobsError(f"Cloud Scheduler answered {exc.code} on {where}: {exc.message}") from None
        except api.RetryError:
            raise JobsError(f"Cloud Scheduler did not answer in time on {where}; try again") from None


def job_rows(declared: dict[str, DeclaredJob], deployed: Iterable[Any] | None) -> list[JobRow]:
    """Declared jobs first (in jobs.yaml's order), with what is deployed; then deployed jobs jobs.yaml lacks.
    `deployed=None`: offline, declared only."""
    if deployed is None:
        return [JobRow(d.name, d.schedule, d.time_zone, d.function) for d in declared.values()]
    live = {short_name(job.name): job for job in deployed}
    rows = []
    for d in declared.values():
        job = live.pop(d.name, None)
        if job is None:
            rows.append(JobRow(d.name, d.schedule, d.time_zone, d.function, state="MISSING",
                               drift="not deployed: run `terraform apply` in infra/"))
            continue
        drift = [f"{what} is {got!r} (jobs.yaml: {want!r})" for what, got, want in
                 (("schedule", job.schedule, d.schedule), ("time zone", job.time_zone, d.time_zone)) if got != want]
        rows.append(_row(job, d.function, True, "; ".join(drift) + ("; run `terraform apply`" if drift else "")))
    rows += [_row(job, "", False, "not in workflows/jobs.yaml") for job in live.values()]
    return rows


def _row(job: Any, function: str, declared: bool, drift: str) -> JobRow:
    status = ""
    if job.last_attempt_time:
        code = job.status.code if job.status else 0
        status = "ok" if code == 0 else f"error {code}" + (f": {job.status.message}" if job.status.message else "")
    return JobRow(short_name(job.name), job.schedule, job.time_zone, function, declared, _state(job),
                  job.last_attempt_time or None, status, job.schedule_time or None, drift)


def _state(job: Any) -> str:
    state = job.state
    return getattr(state, "name", None) or str(state)
