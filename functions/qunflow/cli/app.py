"""The click group, and how errors reach the user: a sentence, never a traceback."""
from __future__ import annotations

import sys

import click

SOURCE_HELP = ("SOURCE is a path to an .xlsx file (default qunflow.xlsx), a Google Sheets URL, or "
               "gsheets:SPREADSHEET_ID. $QUNFLOW_SOURCE can supply it.")


class QunflowGroup(click.Group):
    """A job that refuses (`qunflow.jobs.errors.Refused`), and every failure the operator can fix (a bad --now,
    Google Sheets' quota used up after the retries, a workbook missing or unreadable: `jobs.errors.explain`),
    exits with its sentence on stderr in the operator's language, the way a command's own `fail` does: also
    under click's test runner, which does not go through `run_cli`. Anything else is a bug (`run_cli`)."""

    def invoke(self, ctx: click.Context):
        from ..jobs.errors import explain, operator_language
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - an expected failure is said plainly; a bug goes on up
            refused = explain(exc, speaking())
            if refused is None:
                raise
            raise fail(str(refused), refused.code) from None


@click.group(cls=QunflowGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="qunflow")
@click.option("--lang", "lang", type=click.Choice(["zh", "zh-CN", "en"]), default=None, expose_value=True,
              help="The language qunflow answers in (default: the workbook's own; $QUNFLOW_LANG too). "
                   "Cells are always written in the workbook's language.")
def cli(lang: str | None) -> None:
    """qunflow: run your chat groups' SOP calendar, member rituals and metrics from one spreadsheet.

    \b
    Example:
      qunflow init shop.xlsx --demo && qunflow validate shop.xlsx
    """
    global _LANG
    _LANG = None if lang is None else ("zh-CN" if lang.startswith("zh") else "en")


_LANG: str | None = None


def speaking(workbook_lang: str | None = None) -> str:
    """The language of what the CLI says to the operator: `qunflow --lang`, else $QUNFLOW_LANG, else the
    workbook's own language, else the locale's. Engineer-facing --help stays English."""
    import os

    from ..jobs.errors import operator_language
    if _LANG:
        return _LANG
    if (os.environ.get("QUNFLOW_LANG") or "").strip():
        return operator_language()
    return workbook_lang or operator_language()


_MASKER = None


def log_masker():
    """The Masker behind every log handler of this process: webhook keys never reach a log whole,
    even urllib3's DEBUG lines. Commands add the secrets they resolve to it."""
    global _MASKER
    if _MASKER is None:
        from ..jobs.logmask import masked_logging
        _MASKER = masked_logging()
    return _MASKER


def fail(message: str, code: int = 2) -> "click.exceptions.Exit":
    click.echo(f"qunflow: {message}", err=True)
    return click.exceptions.Exit(code)


def run_cli(group: click.Group) -> int:
    from ..jobs.errors import explain, internal_error, operator_language
    try:
        # without standalone mode, click returns a command's Exit code instead of raising it
        code = group.main(standalone_mode=False)
        return code if isinstance(code, int) and not isinstance(code, bool) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # outside a command (QunflowGroup explains those): expected, or a bug of ours
        import os
        lang = operator_language()
        refused = explain(exc, lang)
        if refused is not None:
            click.echo(f"qunflow: {refused}", err=True)
            return refused.code
        if os.environ.get("QUNFLOW_DEBUG"):
            raise
        click.echo(f"qunflow: {internal_error(exc, lang)}", err=True)  # QUNFLOW_DEBUG=1 shows the traceback
        return 3
