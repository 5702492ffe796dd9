"""`qunflow jobs list|run|pause|resume` (the Cloud Scheduler jobs) and `qunflow doctor` (ready to run?).

Tests inject what talks to Google through click's context object:
`CliRunner().invoke(cli, [...], obj={"scheduler_client": factory, "doctor_deps": DoctorDeps(...)})`.
"""
from __future__ import annotations

import json

import click

from .app import SOURCE_HELP, cli, fail

PLACE = ("Jobs are projects/P/locations/R/jobs/qunflow-NAME; --project defaults to $GOOGLE_CLOUD_PROJECT and "
         "--region to $QUNFLOW_REGION (else asia-east2, infra/variables.tf's default).")

JOBS_HELP = f"""The Cloud Scheduler jobs Terraform creates from workflows/jobs.yaml.

Terraform creates and changes them; these commands list them, run one now, pause and resume. {PLACE}

\b
Example:
  qunflow jobs list --project my-shop-prod
  qunflow jobs run tick
"""

LIST_HELP = f"""List the jobs workflows/jobs.yaml declares and, with credentials, their state in Cloud Scheduler.

Shows each job's schedule, time zone, state (ENABLED, PAUSED; MISSING when not deployed), last attempt and
its result, and the next run. Without Google credentials it lists what jobs.yaml declares, with a note.
{PLACE}

\b
Example:
  qunflow jobs list --project my-shop-prod --region asia-east2
"""

RUN_HELP = f"""Run job NAME now (as Cloud Scheduler would, with its OIDC token), whatever its schedule.

The run is asynchronous: see its result with `qunflow jobs list` or in Cloud Logging. {PLACE}

\b
Example:
  qunflow jobs run tick
"""

PAUSE_HELP = f"""Pause job NAME: Cloud Scheduler stops calling it until `qunflow jobs resume NAME`. {PLACE}

\b
Example:
  qunflow jobs pause metrics
"""

RESUME_HELP = f"""Resume paused job NAME.

Cloud Scheduler does not replay the runs it skipped; the next tick posts what fell due meanwhile within the
catch_up setting and records older sends as missed. {PLACE}

\b
Example:
  qunflow jobs resume metrics
"""

DOCTOR_HELP = f"""Check that SOURCE is ready to run, here or in the cloud: a checklist, each failure with its fix.

Checks Google credentials (for a Google sheet), that the sheet opens (if not, names the email to share it
with: the credentials' service account, $QUNFLOW_RUNTIME_SA, or the runtime service account from
`terraform output runtime_service_account_email`), the tabs and headers, each group's webhook and secret
reference (env:QUNFLOW_NAME, secret:NAME; values are never shown), the time zones, each event platform's keys
(for the platforms whose groups name a chat_id: $QUNFLOW_NAME or Secret Manager's qunflow-NAME), with
--events-url that the events function answers each platform's URL check and refuses a forged one, and with
--check-jobs the Cloud Scheduler jobs. Nothing is written or sent. Exits 1 if a check fails. {SOURCE_HELP}

\b
Example:
  qunflow doctor gsheets:1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 --check-jobs
  qunflow doctor shop.xlsx
  qunflow doctor gsheets:1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 --events-url "$(terraform output -raw events_url)"
"""


def _place_options(fn):
    fn = click.option("--region", help="Region of the jobs [default: $QUNFLOW_REGION, else asia-east2].")(fn)
    return click.option("--project", help="Google Cloud project [default: $GOOGLE_CLOUD_PROJECT].")(fn)


def _scheduler(project: str | None, region: str | None):
    from ..jobs.scheduler import SchedulerJobs, default_client
    obj = click.get_current_context().obj or {}
    return SchedulerJobs(project, region, obj.get("scheduler_client") or default_client)


@cli.group(help=JOBS_HELP)
def jobs() -> None:
    pass


@jobs.command("list", help=LIST_HELP)
@_place_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_cmd(project: str | None, region: str | None, as_json: bool) -> None:
    from ..jobs.scheduler import JobsError, NoCredentials, declared_jobs, job_rows
    declared = declared_jobs()
    scheduler = _scheduler(project, region)
    note, error = "", ""
    try:
        rows = job_rows(declared, scheduler.list())
    except NoCredentials as exc:
        rows, note = job_rows(declared, None), f"showing workflows/jobs.yaml only: {exc}"
    except JobsError as exc:
        rows, error = job_rows(declared, None), str(exc)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in rows], ensure_ascii=False, indent=2))
    else:
        _print_rows(rows, "" if note or error else scheduler.parent)
    if note:
        click.echo(f"note: {note}", err=True)
    if error:
        raise fail(error)


def _print_rows(rows, parent: str) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table(title=f"qunflow jobs · {parent}" if parent else "qunflow jobs (workflows/jobs.yaml)")
    heads = ("job", "schedule", "time zone", "function") + (("state", "last attempt", "result", "next run")
                                                             if parent else ())
    for head in heads:
        table.add_column(head, overflow="fold")
    for r in rows:
        cells = (r.name, r.schedule, r.time_zone, r.function or "-", r.state or "?", _when(r.last_attempt),
                 r.last_status or "", _when(r.next_run))
        table.add_row(*cells[:len(heads)])
    console = Console()
    console.print(table)
    for r in rows:
        if r.drift:
            console.print(f"[yellow]{r.name}: {r.drift}[/yellow]")


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else ""


def _act(verb: str, name: str, project: str | None, region: str | None, done: str) -> None:
    from ..jobs.scheduler import JobsError, declared_jobs, short_name
    declared = declared_jobs()
    name = short_name(name)
    if name not in declared:
        raise fail(f"no job {name!r} in workflows/jobs.yaml; jobs: {', '.join(declared)}")
    scheduler = _scheduler(project, region)
    try:
        job = getattr(scheduler, verb)(name)
    except JobsError as exc:
        raise fail(str(exc))
    state = getattr(getattr(job, "state", None), "name", "")
    click.echo(f"{done} {scheduler.job_name(name)}" + (f" (now {state})" if state else ""))


@jobs.command("run", help=RUN_HELP)
@click.argument("name")
@_place_options
def run_cmd(name: str, project: str | None, region: str | None) -> None:
    _act("run", name, project, region, "Started")
    click.echo("See the result with `qunflow jobs list` (last attempt) or in Cloud Logging.")


@jobs.command("pause", help=PAUSE_HELP)
@click.argument("name")
@_place_options
def pause_cmd(name: str, project: str | None, region: str | None) -> None:
    _act("pause", name, project, region, "Paused")


@jobs.command("resume", help=RESUME_HELP)
@click.argument("name")
@_place_options
def resume_cmd(name: str, project: str | None, region: str | None) -> None:
    _act("resume", name, project, region, "Resumed")


@cli.command(help=DOCTOR_HELP)
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--check-jobs", is_flag=True, help="Also check the Cloud Scheduler jobs (needs credentials).")
@_place_options
@click.option("--events-url", metavar="URL", help="The events function's URL (terraform output -raw events_url): "
              "make each platform's URL check against it.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def doctor(source: str | None, check_jobs: bool, project: str | None, region: str | None, events_url: str | None,
           as_json: bool) -> None:
    from ..clock import utc_now
    from ..jobs.doctor import DoctorDeps, failed, format_checks, run_doctor
    from ..jobs.scheduler import SchedulerJobs
    from ..stores.source import parse_source
    obj = click.get_current_context().obj or {}
    from dataclasses import replace

    from .app import speaking
    deps = replace(obj.get("doctor_deps") or DoctorDeps(), say_in=speaking)
    if deps.scheduler is None and obj.get("scheduler_client"):
        deps.scheduler = lambda p, r: SchedulerJobs(p, r, obj["scheduler_client"])
    checks = run_doctor(source, utc_now(), deps, check_jobs=check_jobs, project=project, region=region,
                        events_url=events_url)
    if as_json:
        click.echo(json.dumps([c.as_json() for c in checks], ensure_ascii=False, indent=2))
    else:
        kind, where = parse_source(source)
        click.echo(f"qunflow doctor · {'gsheets:' + where if kind == 'google' else where}")
        click.echo(format_checks(checks))
    raise click.exceptions.Exit(1 if failed(checks) else 0)
