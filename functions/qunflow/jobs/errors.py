"""What a job says when it cannot do what it was asked: a plain sentence, and the exit code for the CLI.

`Refused` is a job's own refusal. `explain` turns the failures an operator can meet and fix (a `--now` that is
not a moment, Google Sheets' quota used up after the retries, a workbook that is missing or cannot be read, a
sheet not shared) into a `Refused` in the operator's language; anything else is a bug of ours, and the CLI
says so. The operator's language is $QUNFLOW_LANG, else the locale ($LC_ALL, $LC_MESSAGES, $LANG), else en.
"""
from __future__ import annotations

import os
import zipfile
from typing import Mapping
from xml.etree.ElementTree import ParseError

from ..clock import BadMoment
from ..sheet.i18n import message

QUOTA_STATUS = {403, 429}   # 403 counts only when Google says rateLimitExceeded (stores.retry.is_retryable)


class Refused(Exception):
    """The job stopped before doing anything harmful; `str(exc)` says why and what to do instead.

    `code` is the CLI's exit code: 2 when the request cannot be carried out (an unknown group, a missing
    webhook, a malformed option), 1 when it was carried out and the platform said no.
    """

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def operator_language(env: Mapping[str, str] | None = None) -> str:
    """zh-CN or en: $QUNFLOW_LANG if set, else the first locale variable that is set."""
    env = os.environ if env is None else env
    for name in ("QUNFLOW_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = (env.get(name) or "").strip().lower()
        if value:
            return "zh-CN" if value.startswith("zh") or value == "中文" else "en"
    return "en"


def _unreadable_types() -> tuple[type[BaseException], ...]:
    """What the readers raise for a file that is not a workbook (or not a whole one)."""
    kinds: list[type[BaseException]] = [zipfile.BadZipFile, ParseError]
    try:
        from python_calamine import CalamineError
        kinds.append(CalamineError)
    except ImportError:  # pragma: no cover - a dependency of qunflow
        pass
    try:
        from openpyxl.utils.exceptions import InvalidFileException
        kinds.append(InvalidFileException)
    except ImportError:  # pragma: no cover
        pass
    return tuple(kinds)


def _service(exc: BaseException) -> str:
    """Who did not answer: Google Sheets for gspread's errors and Google's hosts, else the host."""
    if type(exc).__module__.startswith("gspread"):
        return "Google Sheets"
    url = str(getattr(getattr(exc, "request", None), "url", "") or "")
    host = url.split("/")[2] if url.count("/") >= 2 else ""
    return "Google Sheets" if not host or host.endswith("googleapis.com") else host.split("@")[-1]


def explain(exc: BaseException, lang: str) -> Refused | None:
    """The failure as a plain sentence in `lang` (exit code 2), or None when it is a bug of ours."""
    from ..stores.gsheets import SheetAccessError   # here, not above: every job imports Refused
    from ..stores.lease import LeaseBusy
    from ..stores.retry import is_retryable, status_of
    if isinstance(exc, Refused):
        return exc
    if isinstance(exc, BadMoment):
        return Refused(message("cli_bad_time", lang, value=exc.text))
    if isinstance(exc, (SheetAccessError, LeaseBusy)):
        return Refused(str(exc))
    if is_retryable(exc):   # 429/5xx/timeouts/connection errors that outlasted the retries
        status = status_of(exc)
        if status in QUOTA_STATUS:
            return Refused(message("cli_sheets_quota", lang, status=status))
        detail = f"HTTP {status}" if status else type(exc).__name__
        return Refused(message("cli_service_unavailable", lang, service=_service(exc), detail=detail))
    if isinstance(exc, FileNotFoundError):
        path = exc.filename or str(exc).split(" does not exist", 1)[0]
        if lang == "en" and exc.filename is None:
            return Refused(str(exc))   # the store's own sentence, which names the command to run
        return Refused(message("cli_missing_workbook", lang, path=path))
    the_file = message("cli_the_file", lang)
    if isinstance(exc, PermissionError):
        return Refused(message("cli_file_denied", lang, path=exc.filename or the_file))
    if isinstance(exc, (IsADirectoryError, NotADirectoryError)):
        return Refused(message("cli_not_a_file", lang, path=exc.filename or the_file))
    if isinstance(exc, _unreadable_types()):
        return Refused(message("cli_unreadable_file", lang, path=the_file, detail=f"{type(exc).__name__}: {exc}"[:300]))
    return None


def bad_days(value: int, most: int) -> Refused:
    """A --days outside 1..most, said in the operator's language (exit 2)."""
    return Refused(message("cli_bad_days", operator_language(), value=value, most=most))


def internal_error(exc: BaseException, lang: str) -> str:
    """What the CLI says for a bug: its type, and how to see the details."""
    return message("cli_internal_error", lang, kind=type(exc).__name__)
