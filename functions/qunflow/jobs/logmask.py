"""The process-wide log mask every shell installs first: no key reaches a log whole, even urllib3's DEBUG lines.

And the shape of an ERROR line in the cloud: Cloud Error Reporting groups a JSON log line when it carries
`"@type": "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"` and either a
stack trace in `stack_trace` (Python's, as `traceback.format_exc()` writes it) or, for an error that is not an
exception, the place it was reported (`context.reportLocation`). `error_report` builds those fields; the shell
that prints the line masks them like every other field.
"""
from __future__ import annotations

import logging
import traceback
from typing import Any

from ..delivery.masking import Masker, attach_masking

ERROR_EVENT_TYPE = "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"
ERROR_SEVERITIES = {"ERROR", "CRITICAL", "ALERT", "EMERGENCY"}


def masked_logging(handler: logging.Handler | None = None, level: int = logging.WARNING) -> Masker:
    """A Masker on every handler of the root logger. With `handler`, it is added (and the level set) when the
    root logger has none yet; without, a plain stderr format is configured (`logging.basicConfig`). Jobs add
    the secrets they resolve to the returned Masker."""
    root = logging.getLogger()
    if handler is not None:
        if not root.handlers:
            root.setLevel(level)
            root.addHandler(handler)
    else:
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    masker = Masker()
    attach_masking(masker)
    return masker


def type_name(exc: BaseException) -> str:
    """`ValueError`, `gspread.exceptions.APIError`: builtins by their name, the rest with their module."""
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def error_report(exc: BaseException | None, where: tuple[str, int, str] | None = None) -> dict[str, Any]:
    """The fields that make an ERROR line an event Error Reporting groups. With an exception: its type
    (`error_type`) and its traceback, chained causes included (`stack_trace`). Without one: where it was
    logged (file, line, function), which Error Reporting needs when there is no stack. Not masked: the caller
    masks every string it prints."""
    fields: dict[str, Any] = {"@type": ERROR_EVENT_TYPE}
    if exc is not None:
        fields["error_type"] = type_name(exc)
        fields["stack_trace"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    elif where is not None:
        fields["context"] = {"reportLocation": {"filePath": where[0], "lineNumber": where[1],
                                                "functionName": where[2]}}
    return fields


def masked_fields(masker: Masker, fields: dict[str, Any]) -> dict[str, Any]:
    """Every string in `fields` (nested dicts too) through the masker."""
    return {key: masker.mask(value) if isinstance(value, str) else
            masked_fields(masker, value) if isinstance(value, dict) else value for key, value in fields.items()}
