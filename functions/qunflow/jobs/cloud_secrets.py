"""Secrets in Secret Manager for the cloud functions: the events function's platform keys, and
`qunflow secrets set NAME`.

- `platform_keys(env)`: events/base.py's Keys. FEISHU_ENCRYPT_KEY is $QUNFLOW_FEISHU_ENCRYPT_KEY when set, else
  Secret Manager's `qunflow-FEISHU_ENCRYPT_KEY` in $QUNFLOW_SECRET_PROJECT (cached 60 s), else None (the receiver
  refuses, naming the key). A Secret Manager that cannot be read raises: the events route answers 503 and the
  platform retries.
- `set_secret(name, value, project)`: create `qunflow-NAME` if missing and add a version. Returns what may be
  printed: the version's name and a masked fingerprint, never the value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..delivery import secret_manager as sm
from ..delivery.masking import mask_secret
from ..delivery.secrets import PLAIN_NAME, RESERVED, SECRET_PROJECT
from ..events.base import Keys


def platform_keys(env: Mapping[str, str], manager: Any = None) -> Keys:
    def keys(name: str) -> str | None:
        value = env.get(f"QUNFLOW_{name}", "")
        if value:
            return value
        project = (env.get(SECRET_PROJECT) or "").strip()
        found = manager if manager is not None else (sm.shared(project) if project else None)
        return (found.get(name) or None) if found is not None else None

    return keys


class SecretsError(Exception):
    """What `qunflow secrets set` says when it cannot: names the secret and the fix, never the value."""


def check_name(name: str) -> str:
    if not PLAIN_NAME.fullmatch(name or ""):
        raise SecretsError(f"{name!r} is not a secret name: use letters, digits, _ and - (at most 255), the NAME "
                           "of secret:NAME in the Groups tab")
    if name in RESERVED:
        raise SecretsError(f"{name} is qunflow's own key, not a webhook or a signing secret; Terraform manages it")
    if len(sm.secret_id(name)) > 255:
        raise SecretsError(f"{name} is too long: Secret Manager ids have at most 255 characters with the "
                           f"{sm.PREFIX} prefix")
    return name


@dataclass
class SetResult:
    secret: str            # projects/P/secrets/qunflow-NAME
    version: str           # projects/N/secrets/qunflow-NAME/versions/K
    created: bool
    fingerprint: str       # the masked value: enough to tell two apart, nothing to use

    def lines(self) -> list[str]:
        first = f"{'Created' if self.created else 'Updated'} {self.secret}"
        return [first, f"  version {self.version}", f"  value {self.fingerprint}",
                "The functions read it within a minute (the next tick); no terraform apply needed."]


def set_secret(name: str, value: str, project: str | None, *,
               manager_for: Callable[[str], Any] | None = None) -> SetResult:
    check_name(name)
    if not project:
        raise SecretsError(f"which project? pass --project or set {SECRET_PROJECT} (or GOOGLE_CLOUD_PROJECT)")
    value = (value or "").strip()
    if not value:
        raise SecretsError(f"the value for {name} is empty: nothing was written")
    manager = (manager_for or sm.SecretManager)(project)
    try:
        version, created = manager.add_version(name, value)
    except sm.SecretManagerError as err:
        raise SecretsError(str(err)) from None
    return SetResult(f"projects/{project}/secrets/{sm.secret_id(name)}", version, created, mask_secret(value))
