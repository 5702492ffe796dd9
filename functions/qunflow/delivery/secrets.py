"""Webhook and signing-secret references in the Groups tab.

- `env:NAME`    : the environment variable NAME.
- `secret:NAME` : a Secret Manager secret. In Cloud Functions, Terraform exposes each secret to the
                  function as the environment variable NAME (secret_environment_variables), or as a
                  file NAME in a mounted secrets folder ($QUNFLOW_SECRETS_DIR). Locally, the secrets
                  file ($QUNFLOW_SECRETS_FILE, default `.qunflow-secrets`: NAME=VALUE lines, kept out of git).
- anything else is the value itself (a full webhook URL: allowed, but a warning in a Google sheet).

Values are never logged or written anywhere by qunflow; errors name the reference, never the value.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


class UnresolvedSecret(LookupError):
    def __init__(self, reference: str, where: str):
        super().__init__(f"{reference} is not set ({where})")
        self.reference = reference
        self.where = where


def read_secrets_file(path: Path) -> dict[str, str]:
    values = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                name, value = line.split("=", 1)
                values[name.strip()] = value.strip().strip('"').strip("'")
    return values


@dataclass
class SecretResolver:
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    secrets_file: Path | None = None
    secrets_dir: Path | None = None

    @classmethod
    def from_environment(cls) -> SecretResolver:
        env = dict(os.environ)
        return cls(env=env, secrets_file=Path(env.get("QUNFLOW_SECRETS_FILE", ".qunflow-secrets")),
                   secrets_dir=Path(env["QUNFLOW_SECRETS_DIR"]) if env.get("QUNFLOW_SECRETS_DIR") else None)

    def resolve(self, reference: str | None) -> str | None:
        if not reference:
            return None
        reference = reference.strip()
        if reference.startswith("env:"):
            name = reference[4:]
            if self.env.get(name):
                return self.env[name]
            raise UnresolvedSecret(reference, f"set the environment variable {name}")
        if reference.startswith("secret:"):
            name = reference[7:]
            if self.env.get(name):
                return self.env[name]
            if self.secrets_dir and (self.secrets_dir / name).is_file():
                return (self.secrets_dir / name).read_text(encoding="utf-8").strip()
            if self.secrets_file:
                value = read_secrets_file(self.secrets_file).get(name)
                if value:
                    return value
            raise UnresolvedSecret(reference, f"add the secret {name} (Secret Manager in the cloud, "
                                              f"or a line {name}=... in {self.secrets_file or '.qunflow-secrets'} locally)")
        return reference

    def all_values(self) -> list[str]:
        """Every secret value this resolver can see, for masking."""
        values = list(read_secrets_file(self.secrets_file).values()) if self.secrets_file else []
        return values
