"""Webhook and signing-secret references in the Groups tab.

- `env:NAME`    : the environment variable NAME. Only names that start with `QUNFLOW_` (the function's own
                  settings are not secrets a sheet may read), or names the engineer lists in
                  $QUNFLOW_ENV_ALLOW (comma-separated), so a sheet editor cannot pick any variable of the
                  process (the ingest key, the cloud's own variables).
- `secret:NAME` : a Secret Manager secret. In Cloud Functions, Terraform exposes each secret to the
                  function as the environment variable NAME (secret_environment_variables), or as a
                  file NAME in a mounted secrets folder ($QUNFLOW_SECRETS_DIR). Locally, the secrets
                  file ($QUNFLOW_SECRETS_FILE, default `.qunflow-secrets`: NAME=VALUE lines, kept out of git).
                  In the cloud, when $QUNFLOW_SECRET_PROJECT is set and neither has NAME, Secret Manager's
                  secret `qunflow-NAME` (version latest), read at run time with a 60 s cache
                  (delivery/secret_manager.py): `qunflow secrets set NAME` reaches the next tick, no apply.
                  NAME is a plain name (letters, digits, `_` and `-`, as Secret Manager allows): no path
                  separator and no `..`, so it never leaves the secrets folder.
- anything else is the value itself (a full webhook URL: allowed, but a warning in a Google sheet).

A reference that is refused raises `RefusedReference` (an `UnresolvedSecret`), so every caller that reports
an unset reference at its cell reports a refused one the same way, with what to write instead.
Values are never logged or written anywhere by qunflow; errors name the reference, never the value.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import secret_manager as sm

ENV_PREFIX = "QUNFLOW_"
ENV_ALLOW = "QUNFLOW_ENV_ALLOW"
RESERVED = {"INGEST_HMAC_SECRET", ENV_ALLOW}   # qunflow's own keys: never a webhook or a signing secret
# checkov:skip=CKV_SECRET_6: the name of the environment variable, not a secret
SECRET_PROJECT = "QUNFLOW_SECRET_PROJECT"     # the project whose Secret Manager holds qunflow-NAME
PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


class UnresolvedSecret(LookupError):
    def __init__(self, reference: str, where: str, message: str | None = None):
        super().__init__(message or f"{reference} is not set ({where})")
        self.reference = reference
        self.where = where


class RefusedReference(UnresolvedSecret):
    """A reference qunflow will not read: `where` says what to write instead."""

    def __init__(self, reference: str, where: str):
        super().__init__(reference, where, f"{reference} is refused ({where})")


def read_secrets_file(path: Path) -> dict[str, str]:
    values = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                name, value = line.split("=", 1)
                values[name.strip()] = value.strip().strip('"').strip("'")
    return values


def _suggested_name(name: str) -> str:
    """A plain name close to what was written: the last path part, without what a name may not hold."""
    tail = re.split(r"[/\\]", name)[-1]
    return re.sub(r"[^A-Za-z0-9_-]", "_", tail).strip("_") or "NAME"


@dataclass
class SecretResolver:
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    secrets_file: Path | None = None
    secrets_dir: Path | None = None
    secret_manager: Any = None       # a secret_manager.SecretManager; from_environment: $QUNFLOW_SECRET_PROJECT's

    @classmethod
    def from_environment(cls) -> SecretResolver:
        env = dict(os.environ)
        project = env.get(SECRET_PROJECT, "").strip()
        return cls(env=env, secrets_file=Path(env.get("QUNFLOW_SECRETS_FILE", ".qunflow-secrets")),
                   secrets_dir=Path(env["QUNFLOW_SECRETS_DIR"]) if env.get("QUNFLOW_SECRETS_DIR") else None,
                   secret_manager=sm.shared(project) if project else None)

    def env_allowed(self, name: str) -> bool:
        """May a sheet read the environment variable `name`? QUNFLOW_ names, and those in $QUNFLOW_ENV_ALLOW."""
        if name in RESERVED or not PLAIN_NAME.fullmatch(name):
            return False
        allow = {n.strip() for n in self.env.get(ENV_ALLOW, "").split(",") if n.strip()}
        return name.startswith(ENV_PREFIX) or name in allow

    def _mounted(self) -> set[str]:
        """The secrets the deployment mounts as environment variables (Terraform sets QUNFLOW_SECRET_NAMES from
        var.secrets): `secret:NAME` reads the environment for those names only, never any other variable."""
        return {n.strip() for n in self.env.get("QUNFLOW_SECRET_NAMES", "").split(",") if n.strip()} - RESERVED

    def resolve(self, reference: str | None) -> str | None:
        if not reference:
            return None
        reference = reference.strip()
        if reference.startswith("env:"):
            name = reference[4:]
            if not self.env_allowed(name):
                raise RefusedReference(reference, self._env_refusal(name))
            if self.env.get(name):
                return self.env[name]
            raise UnresolvedSecret(reference, f"set the environment variable {name}")
        if reference.startswith("secret:"):
            name = reference[7:]
            if not PLAIN_NAME.fullmatch(name) or name in RESERVED:
                raise RefusedReference(reference, self._secret_refusal(name))
            if name in self._mounted() and self.env.get(name):   # Secret Manager, mounted as a variable
                return self.env[name]
            if self.secrets_dir and (self.secrets_dir / name).is_file():
                return (self.secrets_dir / name).read_text(encoding="utf-8").strip()
            if self.secrets_file:
                value = read_secrets_file(self.secrets_file).get(name)
                if value:
                    return value
            if self.secret_manager is not None:
                return self._from_secret_manager(reference, name)
            raise UnresolvedSecret(reference, f"add the secret {name} (`qunflow secrets set {name}` in the cloud, "
                                              f"or a line {name}=... in {self.secrets_file or '.qunflow-secrets'} locally)")
        return reference

    def _from_secret_manager(self, reference: str, name: str) -> str:
        try:
            value = self.secret_manager.get(name)
        except sm.SecretManagerError as err:
            raise UnresolvedSecret(reference, str(err)) from None
        if not value:
            raise UnresolvedSecret(reference, f"secret {sm.secret_id(name)} does not exist in project "
                                              f"{self.secret_manager.project}: run `qunflow secrets set {name}`")
        return value

    @staticmethod
    def _env_refusal(name: str) -> str:
        if name in RESERVED:
            return f"{name} is qunflow's own key, not a webhook or a signing secret; write env:{ENV_PREFIX}... instead"
        plain = _suggested_name(name)
        better = plain if plain.startswith(ENV_PREFIX) else ENV_PREFIX + plain
        return (f"env: reads only variables whose name starts with {ENV_PREFIX}: write env:{better} and set "
                f"{better}, or ask the engineer to list {plain} in {ENV_ALLOW}")

    @staticmethod
    def _secret_refusal(name: str) -> str:
        if name in RESERVED:
            return f"{name} is qunflow's own key, not a webhook or a signing secret; use a secret of its own"
        return (f"a secret: name is a plain name (letters, digits, _ and -), with no / and no ..: "
                f"write secret:{_suggested_name(name)}")

    def all_values(self) -> list[str]:
        """Every secret value this resolver can see, for masking."""
        values = list(read_secrets_file(self.secrets_file).values()) if self.secrets_file else []
        if self.secret_manager is not None:
            values += self.secret_manager.values()
        return values
