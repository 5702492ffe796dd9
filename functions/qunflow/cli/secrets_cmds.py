"""`qunflow secrets set NAME`: a new Secret Manager version of `qunflow-NAME`, which the functions read at run time
(delivery/secret_manager.py), so a group added in the sheet needs no `terraform apply`.

Tests inject the Secret Manager through click's context object:
`CliRunner().invoke(cli, ["secrets", "set", NAME], input=VALUE, obj={"secret_manager_for": factory})`.
"""
from __future__ import annotations

import os
import sys

import click

from .app import cli, fail

SECRETS_HELP = """Secrets the Groups tab names as secret:NAME, and the events function's platform keys, in Secret Manager.

In the cloud, `secret:NAME` is read at run time from the secret qunflow-NAME of $QUNFLOW_SECRET_PROJECT (cached
for a minute), so adding a group needs this one command and no `terraform apply`.

\b
Example:
  qunflow secrets set wecom-g07 --project my-shop-prod
"""

SET_HELP = """Write VALUE as the newest version of Secret Manager secret qunflow-NAME (created if missing).

The value is read from standard input (a pipe), or asked for without echo; never from the command line, where
the shell history would keep it. Prints the version and a masked fingerprint, never the value. The functions use
it from their next run (within a minute). --project defaults to $QUNFLOW_SECRET_PROJECT, else
$GOOGLE_CLOUD_PROJECT.

\b
Example:
  qunflow secrets set wecom-g07 --project my-shop-prod      (then paste the webhook URL)
  printf %s "$SLACK_SIGNING_SECRET" | qunflow secrets set SLACK_SIGNING_SECRET
"""


@cli.group(help=SECRETS_HELP)
def secrets() -> None:
    pass


def _value() -> str:
    if sys.stdin is not None and not sys.stdin.isatty():
        return sys.stdin.read()
    return click.prompt("Value (not shown)", hide_input=True, default="", show_default=False)


@secrets.command("set", help=SET_HELP)
@click.argument("name")
@click.option("--project", help="Google Cloud project [default: $QUNFLOW_SECRET_PROJECT, else $GOOGLE_CLOUD_PROJECT].")
def set_cmd(name: str, project: str | None) -> None:
    from ..jobs.cloud_secrets import SecretsError, check_name, set_secret
    obj = click.get_current_context().obj or {}
    project = project or os.environ.get("QUNFLOW_SECRET_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")
    try:
        check_name(name)
        result = set_secret(name, _value(), project, manager_for=obj.get("secret_manager_for"))
    except SecretsError as exc:
        raise fail(str(exc))
    for line in result.lines():
        click.echo(line)
