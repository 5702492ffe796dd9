"""`qunflow doctor`: is this workbook ready to run, here or in the cloud? A checklist, each failure with its fix.

Checks, in order: Google credentials (Google sources), the sheet opens (else: whom to share it with), tabs
and headers, each group's webhook and secret reference, time zones, each event platform's keys (and with
--events-url its handshake: jobs/events_doctor.py), and (with --check-jobs) the Cloud Scheduler jobs. Nothing is written, nothing is sent, and no secret value is ever shown: references are
named, values only said to be set (a webhook shows its host, its key masked).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from .scheduler import LOGIN_FIX, NoCredentials, JobsError, SchedulerJobs, declared_jobs
from ..delivery.secrets import SecretResolver, UnresolvedSecret
from ..stores.source import parse_source

OK, FAIL, WARN, SKIP = "ok", "fail", "warn", "skip"
MARKS = {OK: "✓", FAIL: "✗", WARN: "!", SKIP: "–"}
SCHEMA_CODES = {"missing_tab", "missing_column", "duplicate_header"}
RUNTIME_SA_HINT = "the runtime service account (terraform output runtime_service_account_email)"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""
    lang: str = "en"     # the workbook's checks speak its language; the cloud's are the engineer's, in English

    def as_json(self) -> dict:
        return {"check": self.name, "status": self.status, "detail": self.detail, "fix": self.fix or None}


@dataclass
class DoctorDeps:
    """What doctor talks to, injected. `credentials()` returns (credentials, service-account email or "",
    project or "") and raises when there are none; `scheduler(project, region)` gives a SchedulerJobs."""
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    resolver: SecretResolver | None = None
    say_in: Callable[[str], str] | None = None    # the workbook's language -> the one to answer in (qunflow --lang)
    open_store: Callable[[str | None], Any] | None = None
    credentials: Callable[[], tuple[Any, str, str]] | None = None
    scheduler: Callable[[str | None, str | None], SchedulerJobs] | None = None
    session: Any = None                           # HTTP for WeCom's reachability check (jobs/wecom_doctor.py)
    keys: Any = None                              # the event platforms' keys (events.base.Keys) for jobs/events_doctor.py


def google_credentials(env: Mapping[str, str]) -> tuple[Any, str, str]:
    """The credentials qunflow would use for a Google sheet, as GoogleSheetsStore finds them."""
    import google.auth
    from google.oauth2 import service_account

    from ..stores.gsheets import SCOPES
    path = env.get("QUNFLOW_SERVICE_ACCOUNT_FILE")
    if path:
        creds = service_account.Credentials.from_service_account_file(path, scopes=SCOPES)
        return creds, creds.service_account_email, creds.project_id or ""
    creds, project = google.auth.default(scopes=SCOPES)
    email = getattr(creds, "service_account_email", "") or ""
    return creds, "" if email == "default" else email, project or ""


def run_doctor(source: str | None, now: datetime, deps: DoctorDeps, *, check_jobs: bool = False,
               project: str | None = None, region: str | None = None, events_url: str | None = None) -> list[Check]:
    env = deps.env
    resolver = deps.resolver or SecretResolver.from_environment()
    kind, where = parse_source(source)
    checks: list[Check] = []

    email, cred_project, have_creds = "", "", False
    if kind == "google":
        check, email, cred_project, have_creds = _credentials(env, deps)
        checks.append(check)
    else:
        checks.append(Check("credentials", SKIP, "not needed for a local workbook"))

    snapshot, store, check = _open(source, kind, where, email, env, deps)
    checks.append(check)
    if snapshot is None:
        checks += [Check(name, SKIP, "the workbook could not be read") for name in
                   ("tabs and headers", "webhooks", "time zones")]
    else:
        checks += _workbook_checks(snapshot, store, now, resolver, deps.say_in, deps)
        checks += _event_checks(snapshot, deps, project, events_url)

    checks.append(_jobs(check_jobs, project or env.get("GOOGLE_CLOUD_PROJECT") or cred_project,
                        region or env.get("QUNFLOW_REGION"), deps, have_creds or kind != "google"))
    return checks


def _event_checks(snapshot: Any, deps: DoctorDeps, project: str | None, url: str | None) -> list[Check]:
    """Each event platform's keys and, with --events-url, its handshake (jobs/events_doctor.py), in English."""
    from ..sheet.load import load_workbook
    from .events_doctor import event_checks, event_platforms, keys_for
    platforms = event_platforms(load_workbook(snapshot.raw).groups.values())
    if not platforms:
        return [Check("events", SKIP, "no enabled group names its chat_id: no platform events expected")] if url else []
    keys = deps.keys or keys_for(deps.env, project)
    return [Check(*check) for check in event_checks(platforms, keys, url, deps.session)]


def _credentials(env: Mapping[str, str], deps: DoctorDeps) -> tuple[Check, str, str, bool]:
    gateway = env.get("QUNFLOW_SHEETS_API")
    if gateway:
        return Check("credentials", OK, f"not needed: QUNFLOW_SHEETS_API sends the Sheets requests to {gateway}"), \
            "", "", False
    load = deps.credentials or (lambda: google_credentials(env))
    try:
        _, email, project = load()
    except Exception as exc:  # google.auth raises several kinds
        return Check("credentials", FAIL, f"no Google credentials ({type(exc).__name__})", LOGIN_FIX), "", "", False
    who = f"service account {email}" if email else "your application-default credentials"
    return Check("credentials", OK, who + (f", project {project}" if project else "")), email, project, True


def _open(source: str | None, kind: str, where: str, email: str, env: Mapping[str, str],
          deps: DoctorDeps) -> tuple[Any, Any, Check]:
    from ..stores import open_store
    from ..stores.gsheets import SheetAccessError
    name = "sheet" if kind == "google" else "workbook"
    store = None
    try:
        store = (deps.open_store or open_store)(source)
        snapshot = store.read()
    except SheetAccessError as exc:
        who = _share_with(email or getattr(store, "account_email", ""), env)
        return None, None, Check(name, FAIL, _first_sentence(str(exc)),
                                 f"share the sheet with {who} as Editor (Share, then paste the email)")
    except FileNotFoundError:
        return None, None, Check(name, FAIL, f"{where} does not exist", f"create it with `qunflow init {where}`")
    except Exception as exc:  # a network error, a corrupt file...
        return None, None, Check(name, FAIL, f"{where} cannot be read ({type(exc).__name__}: {exc})",
                                 "check the path or the network, then run doctor again")
    tabs = len(snapshot.raw)
    detail = f"{where} opens ({tabs} tabs)"
    if kind == "google":
        detail += "; qunflow also needs Editor to write back"
    return snapshot, store, Check(name, OK, detail)


def _share_with(email: str, env: Mapping[str, str]) -> str:
    names = [e for e in (email, env.get("QUNFLOW_RUNTIME_SA", "")) if e]
    if not names:
        return RUNTIME_SA_HINT
    return " and ".join(dict.fromkeys(names))


def _first_sentence(text: str) -> str:
    return text.split(". Share")[0].rstrip(".")


def _workbook_checks(snapshot: Any, store: Any, now: datetime, resolver: SecretResolver,
                     say_in: Callable[[str], str] | None = None, deps: DoctorDeps | None = None) -> list[Check]:
    """The checks of the workbook itself, in its language (or the one `say_in` picks): the operator's to fix."""
    from ..sheet.load import load_workbook
    from ..sheet.tables import detect_language
    from ..sheet.schema import load_schemas
    lang = detect_language(snapshot.raw, load_schemas())
    wb = load_workbook(snapshot.raw, today=now.date(), grid_rows=snapshot.grid_rows,
                       shared_sheet=store.kind == "google", lang=say_in(lang) if say_in else None)
    checks = [_schema(wb)]
    checks += _groups(wb, resolver)
    from .wecom_doctor import wecom_check            # wecom-customer groups' prerequisites (None without any)
    wecom = wecom_check(wb, deps.env if deps else {}, resolver, getattr(deps, "session", None))
    checks += [Check(*wecom)] if wecom else []
    from .feishu_doctor import feishu_check          # the Feishu app that uploads images (None without any)
    feishu = feishu_check(wb, deps.env if deps else {}, resolver, getattr(deps, "session", None))
    checks += [Check(*feishu)] if feishu else []
    checks.append(_time_zones(wb))
    for check in checks:
        check.lang = wb.lang
    return checks


def _say(wb: Any, code: str, **params: Any) -> str:
    from ..sheet.i18n import message
    return message(code, wb.lang, **params)


def _where(p: Any, wb: Any) -> str:
    return p.tab + (_say(wb, "doctor_row", row=p.row) if p.row else "") + \
        (_say(wb, "doctor_column", column=p.column) if p.column else "")


def _schema(wb: Any) -> Check:
    structural = [p for p in wb.problems if p.code in SCHEMA_CODES and p.severity == "error"]
    rows = [p for p in wb.errors if p.code not in SCHEMA_CODES]
    name = _say(wb, "doctor_tabs")
    if structural:
        codes = {p.code for p in structural}
        fixes = ([_say(wb, "doctor_fix_init")] if "missing_tab" in codes else []) + \
                ([_say(wb, "doctor_fix_headers")] if "missing_column" in codes else []) + \
                ([_say(wb, "doctor_fix_one_column")] if "duplicate_header" in codes else [])
        return Check(name, FAIL, " ".join(f"{_where(p, wb)}: {p.message}" for p in structural), "; ".join(fixes))
    detail = _say(wb, "doctor_tabs_ok", tabs=len(wb.tables))
    if rows:
        return Check(name, WARN, _say(wb, "doctor_rows_bad", detail=detail, rows=len(rows)),
                     _say(wb, "doctor_fix_validate"))
    return Check(name, OK, detail)


def _groups(wb: Any, resolver: SecretResolver) -> list[Check]:
    from ..delivery.masking import mask_url
    if not wb.groups:
        return [Check(_say(wb, "doctor_webhooks"), WARN, _say(wb, "doctor_no_groups"), _say(wb, "doctor_fix_add_group"))]
    checks = []
    groups_tab = wb.tables["groups"]
    for group in wb.groups.values():
        label = _say(wb, "doctor_group", group=group.group_id)
        found, fixes = [], []
        for key in ("webhook", "secret"):
            reference = getattr(group, key)
            said = key if wb.lang == "en" else groups_tab.schema.column(key).header(wb.lang)
            if not reference:
                if key == "webhook":
                    fixes.append(_say(wb, "doctor_fix_webhook"))
                    found.append(_say(wb, "doctor_no_webhook"))
                continue
            try:
                value = resolver.resolve(reference)
            except UnresolvedSecret as exc:
                found.append(_say(wb, "doctor_not_set", key=said, reference=reference))
                from ..sheet.vocabulary import say_reason
                fix = say_reason(exc.where, wb.lang)
                if reference.startswith("secret:"):
                    fix += f"; for the cloud, set it with `qunflow secrets set {reference[7:]}` (no terraform apply)"
                fixes.append(fix)
                continue
            customer = group.platform == "wecom-customer"    # its webhook is the app's secret, never shown
            if key == "webhook" and not customer and not (value or "").startswith(("https://", "http://")):
                found.append(_say(wb, "doctor_not_url", reference=reference))
                fixes.append(_say(wb, "doctor_fix_url", reference=reference))
                continue
            shown = f" → {mask_url(value)}" if key == "webhook" and not customer else ""
            reference = reference if _is_ref(reference) else _say(wb, "doctor_typed")
            found.append(_say(wb, "doctor_set", key=said, reference=reference, shown=shown))
        status = OK if not fixes else FAIL if group.enabled else WARN  # a disabled group posts nothing yet
        state = "" if group.enabled else _say(wb, "doctor_disabled")
        platform = group.platform if wb.lang == "en" else label_of(groups_tab, group.platform, wb.lang)
        checks.append(Check(label, status, f"({platform}{state}) " + ("，" if wb.lang == "zh-CN" else ", ").join(found),
                            "; ".join(fixes)))
    return checks


def _is_ref(reference: str) -> bool:
    return reference.startswith(("env:", "secret:"))


def _time_zones(wb: Any) -> Check:
    bad = [p for p in wb.problems if p.code == "bad_timezone"]
    name = _say(wb, "doctor_zones")
    if bad:
        return Check(name, FAIL, "; ".join(_say(wb, "doctor_bad_zone", where=_where(p, wb), value=p.value) for p in bad),
                     _say(wb, "doctor_fix_zone"))
    zones = {str(wb.settings.timezone)} | {str(g.timezone) for g in wb.groups.values() if g.timezone}
    return Check(name, OK, ", ".join(sorted(zones)))


def label_of(table: Any, platform: str, lang: str) -> str:
    from ..sheet.vocabulary import label
    return str(label(table.schema.column("platform"), platform, lang))


def _jobs(check_jobs: bool, project: str | None, region: str | None, deps: DoctorDeps, may_try: bool) -> Check:
    if not check_jobs:
        return Check("scheduler jobs", SKIP, "skipped (add --check-jobs to check the Cloud Scheduler jobs)")
    if not may_try:
        return Check("scheduler jobs", SKIP, "skipped: no Google credentials")
    scheduler = (deps.scheduler or (lambda p, r: SchedulerJobs(p, r)))(project, region)
    try:
        deployed = {job.name.rsplit("/", 1)[-1]: job for job in scheduler.list()}
    except NoCredentials as exc:
        return Check("scheduler jobs", SKIP, f"skipped: {exc}")
    except JobsError as exc:
        return Check("scheduler jobs", FAIL, str(exc), "fix the access above, then run doctor again")
    declared = declared_jobs()
    missing = [name for name in declared if f"qunflow-{name}" not in deployed]
    paused = [name for name in declared if f"qunflow-{name}" in deployed
              and getattr(deployed[f"qunflow-{name}"].state, "name", "") != "ENABLED"]
    if missing or paused:
        detail = "; ".join(([f"missing in {scheduler.parent}: {', '.join(missing)}"] if missing else []) +
                           ([f"not enabled: {', '.join(paused)}"] if paused else []))
        fix = "; ".join((["run `terraform apply` in infra/"] if missing else []) +
                        [f"`qunflow jobs resume {name}`" for name in paused])
        return Check("scheduler jobs", FAIL, detail, fix)
    return Check("scheduler jobs", OK, f"{', '.join(declared)} enabled in {scheduler.parent}")


def failed(checks: list[Check]) -> bool:
    return any(c.status == FAIL for c in checks)


def format_checks(checks: list[Check]) -> str:
    """The checklist, in the workbook's language when its checks say it (else English)."""
    from ..sheet.i18n import message
    from ..sheet.layout import display_width
    lang = next((c.lang for c in checks if c.lang != "en"), "en")
    width = max(display_width(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{MARKS[c.status]} {c.name}{' ' * (width - display_width(c.name))}  {c.detail}")
        if c.fix and c.status in (FAIL, WARN):
            lines.append(f"  {' ' * width}  {message('doctor_fix', lang, fix=c.fix)}")
    bad = sum(c.status == FAIL for c in checks)
    lines.append(message("doctor_failed", lang, count=bad) if bad else message("doctor_passed", lang))
    return "\n".join(lines)
