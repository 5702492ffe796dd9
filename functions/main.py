"""Cloud Functions entry points (functions-framework). Each is a few lines: read the request, build the
store and senders, call the core, return a JSON summary. Imports are lazy and clients live in module
globals, for cold starts.

`now` comes from X-CloudScheduler-ScheduleTime when present, so a repeated delivery of the same job and
schedule time finds an empty window (last tick = that time) and sends nothing twice.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime, timezone
from typing import Any

import functions_framework

_CLIENTS: dict[str, Any] = {}


def _log(severity: str, message: str, *, exc: BaseException | None = None,
         where: tuple[str, int, str] | None = None, **fields: Any) -> None:
    """One structured line Cloud Logging understands; every value passes through the masker. An ERROR line
    is also an event Cloud Error Reporting groups: with `exc`, its type and stack trace; without, the place it
    was logged (`where`, default the caller)."""
    from qunflow.jobs.logmask import ERROR_SEVERITIES, error_report, masked_fields
    masker = _masker()
    if severity in ERROR_SEVERITIES:
        if exc is None and where is None:
            caller = sys._getframe(1)
            where = (caller.f_code.co_filename, caller.f_lineno, caller.f_code.co_name)
        fields = {**fields, **error_report(exc, where)}
    line = {"severity": severity, "message": masker.mask(message), **masked_fields(masker, fields)}
    print(json.dumps(line, ensure_ascii=False, default=str), file=sys.stdout, flush=True)


def _failed(job: str, now: datetime, exc: BaseException) -> tuple[dict, int]:
    """A run that could not finish (the sheet unreachable, say): one ERROR line with the exception's type and
    stack trace (for Error Reporting; masked), a reply that says why without a traceback, and 503 so Cloud
    Scheduler retries. Nothing is lost by failing: the next tick's window starts at the last tick that
    finished, and the SendLog/journal keep what was already sent."""
    what = f"{type(exc).__name__}: {exc}"[:500]
    _log("ERROR", f"{job} failed: {what}", exc=exc, job=job, schedule_time=now.isoformat())
    return {"error": _masker().mask(what)}, 503


def _now(request: Any) -> datetime:
    stamp = request.headers.get("X-CloudScheduler-ScheduleTime")
    if stamp:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(timezone.utc)
    from qunflow.clock import utc_now
    return utc_now()


def _store() -> Any:
    if "store" not in _CLIENTS:
        import os
        from qunflow.stores import open_store
        options = {}
        if _state() is not None and os.environ.get("QUNFLOW_SOURCE", "").startswith("gsheets:"):
            from qunflow.stores.lease import StateLease
            options["lease"] = StateLease(_state(), time.time)  # one run at a time: a record beside the ledger
        _CLIENTS["store"] = open_store(None, **options)
    return _CLIENTS["store"]


def _state() -> Any:
    """qunflow's memory: the Firestore database named by QUNFLOW_STATE (Terraform sets it); None without one."""
    if "state" not in _CLIENTS:
        import os
        from qunflow.state.open import open_state
        spec = os.environ.get("QUNFLOW_STATE")
        _CLIENTS["state"] = open_state(spec, project=os.environ.get("GOOGLE_CLOUD_PROJECT")) if spec else None
    return _CLIENTS["state"]


class JsonLines(logging.Handler):
    """Log records (the libraries', and Flask's "Exception on / [POST]" for an exception no entry point caught)
    as JSON lines with a severity, like _log's; a record with an exception carries its type and stack trace."""

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        message = record.getMessage()
        if exc is not None:
            message = f"{message}: {type(exc).__name__}: {exc}"[:1000]
        _log(record.levelname, message, exc=exc, where=(record.pathname, record.lineno, record.funcName),
             logger=record.name)


def _json_logging() -> None:
    """As deployed the root logger has no handler: give it JsonLines now, before Flask first logs (it adds a
    plain-text handler of its own to a logger that has none to reach). A test runner's handlers are left alone."""
    root = logging.getLogger()
    if not root.handlers:
        root.setLevel(logging.INFO)
        root.addHandler(JsonLines())


_json_logging()


def _masker() -> Any:
    """One Masker on every log handler: secrets the tick resolves are added to it."""
    if "masker" not in _CLIENTS:
        from qunflow.jobs.logmask import masked_logging
        _CLIENTS["masker"] = masked_logging(JsonLines(), logging.INFO)
    return _CLIENTS["masker"]


def _session() -> Any:
    if "session" not in _CLIENTS:
        import requests
        _CLIENTS["session"] = requests.Session()
    return _CLIENTS["session"]


@functions_framework.http
def tick(request: Any) -> tuple[dict, int]:
    """Post everything due on the SOP calendar since the last tick; write back."""
    from qunflow.stores.lease import LeaseBusy
    from qunflow.jobs.tick import TickDeps, run_tick
    started, now = time.monotonic(), _now(request)
    job = request.headers.get("X-CloudScheduler-JobName", "tick")
    try:
        report = run_tick(_store(), now, TickDeps(session=_session(), clock=time.time, sleep=time.sleep,
                                                  masker=_masker(), state=_state()))
    except LeaseBusy as busy:
        _log("WARNING", str(busy), job=job, schedule_time=now.isoformat())
        return {"skipped": str(busy)}, 200
    except Exception as exc:  # noqa: BLE001 - logged as one line; Scheduler retries
        return _failed(job, now, exc)
    summary = report.as_json()
    severity = "ERROR" if report.failed or report.unknown or report.blocked else \
        "WARNING" if report.retry else "INFO"
    extra = {"blocked": report.blocked} if report.blocked else {}  # a tab or column the tick cannot use
    _log(severity, "tick done", job=job, schedule_time=now.isoformat(),
         duration_ms=round((time.monotonic() - started) * 1000), **extra, **{k: summary[k] for k in
         ("due", "sent", "failed", "skipped", "missed", "unknown", "deferred", "retry", "problems",
          "sheets_requests")})
    return summary, 200


@functions_framework.http
def ingest(request: Any) -> tuple[dict, int]:
    """Signed member events (HMAC-SHA256, INGEST_HMAC_SECRET): verify, skip known ids, keep the new ones: in the
    state store's inbox (answered at once; the next tick appends them to Events), or without one in Events."""
    import os
    from qunflow.jobs.ingest import MAX_BODY, ingest_into
    from qunflow.stores.lease import LeaseBusy
    started = time.monotonic()
    body = request.stream.read(MAX_BODY + 1)
    try:
        result = ingest_into(_store(), request.headers, body, os.environ.get("INGEST_HMAC_SECRET", ""), time.time(),
                             state=_state())
    except LeaseBusy as busy:
        _log("WARNING", str(busy), job="ingest")
        return {"error": "busy, retry in a minute"}, 503
    except Exception as exc:  # noqa: BLE001 - the sheet or the state store unreachable: one ERROR line, 503, retried
        return _failed("ingest", datetime.now(timezone.utc), exc)
    _log("INFO" if result.ok else "WARNING", "ingest done" if result.ok else "ingest refused", job="ingest",
         status=result.status, duration_ms=round((time.monotonic() - started) * 1000), **result.body())
    return result.body(), result.status


@functions_framework.http
def metrics(request: Any) -> tuple[dict, int]:
    """Roll up yesterday and today so far (Metrics, Cohorts, RulesReport); post the daily report to
    Settings ops_group once per day, when it is set."""
    from qunflow.stores.lease import LeaseBusy
    from qunflow.jobs.metrics_job import run_metrics
    from qunflow.jobs.tick import TickDeps
    started, now = time.monotonic(), _now(request)
    try:
        report = run_metrics(_store(), now, TickDeps(session=_session(), clock=time.time, sleep=time.sleep,
                                                     masker=_masker(), state=_state()), post=True)
    except LeaseBusy as busy:
        _log("WARNING", str(busy), job="metrics", schedule_time=now.isoformat())
        return {"skipped": str(busy)}, 200
    except Exception as exc:  # noqa: BLE001
        return _failed("metrics", now, exc)
    summary = {k: v for k, v in report.as_json().items() if k != "report"}
    _log("ERROR" if report.posted in ("failed", "unknown") else "INFO", "metrics done", job="metrics",
         schedule_time=now.isoformat(), duration_ms=round((time.monotonic() - started) * 1000), **summary)
    return summary, 200


@functions_framework.http
def housekeeping(request: Any) -> tuple[dict, int]:
    """Move SendLog and Events rows older than keep_days (the job's body, default 90) to archive tabs."""
    from qunflow.jobs.housekeeping import run_housekeeping
    from qunflow.stores.lease import LeaseBusy
    started, now = time.monotonic(), _now(request)
    body = request.get_json(silent=True) or {}
    try:
        summary = run_housekeeping(_store(), now, int(body.get("keep_days", 90)))
    except LeaseBusy as busy:
        _log("WARNING", str(busy), job="housekeeping")
        return {"skipped": str(busy)}, 200
    except ValueError as exc:
        _log("ERROR", str(exc), exc=exc, job="housekeeping")
        return {"error": str(exc)}, 400
    _log("INFO", "housekeeping done", job="housekeeping", duration_ms=round((time.monotonic() - started) * 1000),
         moved=summary["moved"])
    return summary, 200


def keys(name: str) -> str | None:
    """A platform's secret by name (events/base.py Keys): QUNFLOW_<NAME> in the environment, else Secret Manager's
    qunflow-<NAME> in $QUNFLOW_SECRET_PROJECT, read at run time and cached 60 s (jobs/cloud_secrets.py); None when
    neither has it. Raises when Secret Manager cannot be read (the route answers 503). Never logged."""
    import os
    if "keys" not in _CLIENTS:
        from qunflow.jobs.cloud_secrets import platform_keys
        _CLIENTS["keys"] = platform_keys(os.environ)
    value = _CLIENTS["keys"](name)
    if value:
        _masker().add(value)
    return value or None


@functions_framework.http
def events(request: Any) -> tuple[bytes, int, dict]:
    """What the platforms tell qunflow (/feishu, /slack, /telegram, /dingtalk): verify with the raw body
    (events.route), keep what it says in the state store's inbox, answer. The inbox write is the only work on
    the request path: the next tick makes sense of it (jobs/events_inbox.py). A refusal or a poison payload is
    logged with its reason; a store that cannot be written is a 503, so the platform sends it again."""
    from qunflow.events.base import Inbound
    from qunflow.events.route import MAX_BODY, receive
    from qunflow.jobs.events_inbox import keep
    started = time.monotonic()
    body = request.stream.read(MAX_BODY + 1)
    inbound = Inbound(request.method, request.path, {k.lower(): v for k, v in request.headers.items()},
                      dict(request.args), body)
    answer = receive(inbound, keys, time.time())
    kept = 0
    if answer.events:
        state = _state()
        if state is None:
            _log("ERROR", "events: no state store (QUNFLOW_STATE) to keep them in", job="events", path=inbound.path)
            return b'{"error": "not configured"}', 503, {"Content-Type": "application/json"}
        try:
            kept = keep(state, answer.events, time.time())
        except Exception as exc:  # noqa: BLE001 - the platform retries; the same event ids dedup then
            _failed("events", datetime.now(timezone.utc), exc)
            return b'{"error": "try again"}', 503, {"Content-Type": "application/json"}
    if answer.hints:                               # WeCom callbacks: the chats to sync soon (jobs/wecom_sync.py)
        from qunflow.jobs.wecom_sync import note_hints
        try:
            note_hints(_state(), answer.hints, time.time())
        except Exception as exc:  # noqa: BLE001 - WeCom retries; the hourly walk covers a hint lost anyway
            _failed("events", datetime.now(timezone.utc), exc)
            return b"", 503, {"Content-Type": answer.content_type}
    if answer.reason:
        _log("WARNING" if answer.status >= 400 else "INFO", f"events: {answer.reason}", job="events",
             path=inbound.path, status=answer.status)
    else:
        _log("INFO", "events kept", job="events", path=inbound.path, status=answer.status,
             received=len(answer.events), kept=kept, duration_ms=round((time.monotonic() - started) * 1000))
    return answer.body, answer.status, {"Content-Type": answer.content_type, **answer.headers}


@functions_framework.http
def wecom_sync(request: Any) -> tuple[dict, int]:
    """WeCom customer groups' members (jobs/wecom_sync.py): the hourly walk of groupchat/list and get, or, with
    the body {"hinted": true}, only the chats a callback named (nothing read when none is due). Differences become join and
    leave events in the state store's inbox; the tick makes rows of them."""
    import os
    from qunflow.jobs.wecom_sync import run_job
    started, now = time.monotonic(), _now(request)
    body = request.get_json(silent=True) or {}
    hinted = bool(body.get("hinted"))
    if _state() is None:
        _log("ERROR", "wecom_sync: no state store (QUNFLOW_STATE)", job="wecom_sync")
        return {"error": "not configured"}, 503
    try:
        report = run_job(_store(), _state(), _session(), now, env=dict(os.environ), hinted_only=hinted)
    except Exception as exc:  # noqa: BLE001 - 60020 and the like: logged as one line; Scheduler retries
        return _failed("wecom_sync", now, exc)
    summary = report.as_json()
    _log("WARNING" if report.errors else "INFO", "wecom_sync done", job="wecom_sync", hinted=hinted,
         duration_ms=round((time.monotonic() - started) * 1000), **{k: v for k, v in summary.items() if k != "errors"},
         errors=len(report.errors))
    return summary, 200
