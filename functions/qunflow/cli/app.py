"""The click group, and how errors reach the user: a sentence, never a traceback."""
from __future__ import annotations

import sys

import click

SOURCE_HELP = ("SOURCE is a path to an .xlsx file (default qunflow.xlsx), a Google Sheets URL, or "
               "gsheets:SPREADSHEET_ID. $QUNFLOW_SOURCE can supply it.")


class QunflowGroup(click.Group):
    """A job that refuses (`qunflow.jobs.errors.Refused`) exits with its code and its sentence on stderr, the way
    a command's own `fail` does: also under click's test runner, which does not go through `run_cli`."""

    def invoke(self, ctx: click.Context):
        from ..jobs.errors import Refused
        try:
            return super().invoke(ctx)
        except Refused as exc:
            raise fail(str(exc), exc.code) from None


@click.group(cls=QunflowGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="qunflow")
def cli() -> None:
    """qunflow: run your chat groups' SOP calendar, member rituals and metrics from one spreadsheet.

    \b
    Example:
      qunflow init shop.xlsx --demo && qunflow validate shop.xlsx
    """


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
    from ..stores.gsheets import SheetAccessError
    from ..stores.lease import LeaseBusy
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
    except (SheetAccessError, LeaseBusy, FileNotFoundError, PermissionError) as exc:
        click.echo(f"qunflow: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug of ours: say so plainly; QUNFLOW_DEBUG=1 shows the traceback
        import os
        if os.environ.get("QUNFLOW_DEBUG"):
            raise
        click.echo(f"qunflow: internal error ({type(exc).__name__}). Please report it; "
                   "run again with QUNFLOW_DEBUG=1 to see the details.", err=True)
        return 3
