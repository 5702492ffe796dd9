"""Secret Manager at run time, through its REST API, with a short cache.

A `secret:NAME` reference (delivery/secrets.py) that is neither mounted nor in the secrets folder or file is read
here when $QUNFLOW_SECRET_PROJECT names the project: secret id `qunflow-NAME`, version `latest`, by

    GET {base}/v1/projects/P/secrets/qunflow-NAME/versions/latest:access
    -> {"name": "projects/N/secrets/qunflow-NAME/versions/3",
        "payload": {"data": "<base64>", "dataCrc32c": "<int64 as a string>"}}

The payload's CRC32C is checked when present; a mismatch is refused. Values (and misses) are kept for TTL
seconds on the injected clock, so `qunflow secrets set NAME` reaches the next tick without a `terraform apply`.
`add_version` (for `qunflow secrets set`) creates the secret with automatic replication when it is missing
(POST .../secrets?secretId=ID, 409 when it exists) and adds a version (POST .../secrets/ID:addVersion).

Credentials come from google.auth.default() in production; tests inject a requests session and a base URL.
Errors name the secret and what to do, never the value.
"""
from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

BASE_URL = "https://secretmanager.googleapis.com"
PREFIX = "qunflow-"
TTL = 60.0
TIMEOUT = 10
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
MISSING, DENIED, CORRUPT, UNAVAILABLE = "missing", "denied", "corrupt", "unavailable"


class SecretManagerError(Exception):
    """`kind` is MISSING (404), DENIED (403), CORRUPT (a CRC32C mismatch or an unreadable payload) or
    UNAVAILABLE (anything else: the caller may try again). The message never holds the value."""

    def __init__(self, kind: str, secret_id: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.secret_id = secret_id


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as Secret Manager's dataCrc32c; crc32c(b"123456789") == 0xE3069283."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def secret_id(name: str) -> str:
    return PREFIX + name


def _default_session() -> tuple[Any, str]:
    """An authorized session from the application-default credentials, and the account they act as."""
    import google.auth
    from google.auth.transport.requests import AuthorizedSession
    creds, _ = google.auth.default(scopes=list(SCOPES))
    account = getattr(creds, "service_account_email", "") or ""
    return AuthorizedSession(creds), "" if account == "default" else account


@dataclass
class SecretManager:
    project: str
    session: Any = None                    # a requests.Session; None: google.auth.default() on first use
    base_url: str = BASE_URL
    clock: Callable[[], float] = time.monotonic
    ttl: float = TTL
    account: str = ""                      # who the credentials act as, for a 403's message
    _cache: dict[str, tuple[float, str | None]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _http(self) -> Any:
        if self.session is None:
            self.session, account = _default_session()
            self.account = self.account or account
        return self.session

    def _url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/v1/projects/{self.project}/{path}"

    def _who(self) -> str:
        return f"the account {self.account}" if self.account else "the credentials' account (the runtime service account)"

    def _fail(self, response: Any, sid: str, doing: str) -> SecretManagerError:
        status = response.status_code
        if status == 404:
            return SecretManagerError(MISSING, sid, f"secret {sid} does not exist in project {self.project}")
        if status == 403:
            return SecretManagerError(DENIED, sid, (
                f"{self._who()} may not {doing} secret {sid} in project {self.project}: grant it "
                f"roles/secretmanager.{'secretAccessor' if doing == 'read' else 'admin'} on that secret"))
        return SecretManagerError(UNAVAILABLE, sid, f"Secret Manager answered {status} to {doing} {sid}; try again")

    def _request(self, method: str, url: str, sid: str, doing: str, **kwargs: Any) -> Any:
        try:
            return self._http().request(method, url, timeout=TIMEOUT, **kwargs)
        except SecretManagerError:
            raise
        except Exception as exc:  # noqa: BLE001 - no network, no credentials: say which, never more
            raise SecretManagerError(UNAVAILABLE, sid, f"could not reach Secret Manager to {doing} {sid} "
                                                       f"({type(exc).__name__}); try again") from None

    def fetch(self, name: str) -> str:
        """The latest version of secret qunflow-NAME, uncached. Raises SecretManagerError."""
        sid = secret_id(name)
        response = self._request("GET", self._url(f"secrets/{sid}/versions/latest:access"), sid, "read")
        if response.status_code != 200:
            raise self._fail(response, sid, "read")
        try:
            payload = response.json()["payload"]
            data = base64.b64decode(payload["data"], validate=True)
            expected = payload.get("dataCrc32c")
            if expected is not None and int(expected) != crc32c(data):
                raise ValueError("crc")
            return data.decode("utf-8").strip()
        except (KeyError, TypeError, ValueError):
            raise SecretManagerError(CORRUPT, sid, f"the payload of {sid} failed its CRC32C check or could not "
                                                   "be read; refused: add a new version") from None

    def get(self, name: str) -> str | None:
        """The value, or None when the secret (or its version) does not exist; cached for `ttl` seconds either
        way. DENIED, CORRUPT and UNAVAILABLE raise and are not cached."""
        now = self.clock()
        with self._lock:
            hit = self._cache.get(name)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]
        try:
            value: str | None = self.fetch(name)
        except SecretManagerError as err:
            if err.kind != MISSING:
                raise
            value = None
        with self._lock:
            self._cache[name] = (now, value)
        return value

    def values(self) -> list[str]:
        """The values in the cache, for masking."""
        with self._lock:
            return [v for _, v in self._cache.values() if v]

    def add_version(self, name: str, value: str) -> tuple[str, bool]:
        """Create secret qunflow-NAME (automatic replication) if missing, add `value` as its new version.
        Returns (the version's resource name, whether the secret was created)."""
        sid = secret_id(name)
        created = False
        response = self._request("POST", self._url(f"secrets?secretId={sid}"), sid, "create",
                                 json={"replication": {"automatic": {}}, "labels": {"app": "qunflow"}})
        if response.status_code == 200:
            created = True
        elif response.status_code != 409:
            raise self._fail(response, sid, "create")
        data = value.encode("utf-8")
        response = self._request("POST", self._url(f"secrets/{sid}:addVersion"), sid, "add a version to",
                                 json={"payload": {"data": base64.b64encode(data).decode("ascii"),
                                                   "dataCrc32c": str(crc32c(data))}})
        if response.status_code != 200:
            raise self._fail(response, sid, "add a version to")
        with self._lock:
            self._cache.pop(name, None)
        return str(response.json().get("name", "")), created


_SHARED: dict[str, SecretManager] = {}
_SHARED_LOCK = threading.Lock()


def shared(project: str) -> SecretManager:
    """One SecretManager per project per process, so its cache outlives a tick's resolver."""
    with _SHARED_LOCK:
        if project not in _SHARED:
            _SHARED[project] = SecretManager(project)
        return _SHARED[project]
