"""A fake Secret Manager (REST v1) on 127.0.0.1, written from Google's REST reference, importing nothing from qunflow.

    GET  /v1/projects/P/secrets/S/versions/latest:access  -> {"name", "payload": {"data": b64, "dataCrc32c": "int"}}
    POST /v1/projects/P/secrets?secretId=S  {"replication": {"automatic": {}}}  -> the Secret; 409 ALREADY_EXISTS
    POST /v1/projects/P/secrets/S:addVersion  {"payload": {"data", "dataCrc32c"}}  -> the SecretVersion

Errors are {"error": {"code", "message", "status"}}: 404 NOT_FOUND, 403 PERMISSION_DENIED (for secrets in
`denied`), 400 INVALID_ARGUMENT (a checksum that does not match the data). `corrupt` holds secrets whose access
answers a wrong dataCrc32c. Every request is in `requests` as (method, path).
"""
from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def crc32c(data: bytes) -> int:
    """CRC-32C, bit by bit (reflected polynomial 0x82F63B78)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


class FakeSecretManager:
    PROJECT_NUMBER = "123456789012"

    def __init__(self):
        self.secrets: dict[tuple[str, str], list[bytes]] = {}     # (project, secret id) -> versions' data
        self.replication: dict[tuple[str, str], dict] = {}
        self.denied: set[str] = set()
        self.corrupt: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def put(self, project: str, secret: str, value: str) -> None:
        self.secrets.setdefault((project, secret), []).append(value.encode("utf-8"))

    # -- the API

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        size = int(h.headers.get("Content-Length") or 0)
        body = json.loads(h.rfile.read(size) or b"{}") if size else {}
        with self._lock:
            self.requests.append((method, parts.path))
            status, answer = self._route(method, parts.path, parse_qs(parts.query), body)
        out = json.dumps(answer).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(out)))
        h.end_headers()
        h.wfile.write(out)

    @staticmethod
    def _error(code: int, status: str, message: str) -> tuple[int, dict]:
        return code, {"error": {"code": code, "message": message, "status": status}}

    def _route(self, method: str, path: str, query: dict, body: dict) -> tuple[int, dict]:
        m = re.fullmatch(r"/v1/projects/([^/]+)/secrets/([^/:]+)/versions/([^/:]+):access", path)
        if m and method == "GET":
            return self._access(*m.groups())
        m = re.fullmatch(r"/v1/projects/([^/]+)/secrets", path)
        if m and method == "POST":
            return self._create(m.group(1), (query.get("secretId") or [""])[0], body)
        m = re.fullmatch(r"/v1/projects/([^/]+)/secrets/([^/:]+):addVersion", path)
        if m and method == "POST":
            return self._add(m.group(1), m.group(2), body)
        return self._error(404, "NOT_FOUND", "Method not found.")

    def _denied(self, secret: str, permission: str) -> tuple[int, dict] | None:
        if secret in self.denied:
            return self._error(403, "PERMISSION_DENIED", f"Permission '{permission}' denied for resource")
        return None

    def _access(self, project: str, secret: str, version: str) -> tuple[int, dict]:
        denied = self._denied(secret, "secretmanager.versions.access")
        if denied:
            return denied
        versions = self.secrets.get((project, secret))
        if not versions:
            return self._error(404, "NOT_FOUND", f"Secret [projects/{self.PROJECT_NUMBER}/secrets/{secret}] not found "
                                                 "or has no versions.")
        number = len(versions) if version == "latest" else int(version)
        data = versions[number - 1]
        crc = crc32c(data) ^ (1 if secret in self.corrupt else 0)
        return 200, {"name": f"projects/{self.PROJECT_NUMBER}/secrets/{secret}/versions/{number}",
                     "payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(crc)}}

    def _create(self, project: str, secret: str, body: dict) -> tuple[int, dict]:
        denied = self._denied(secret, "secretmanager.secrets.create")
        if denied:
            return denied
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", secret):
            return self._error(400, "INVALID_ARGUMENT", "invalid secret id")
        if (project, secret) in self.replication:
            return self._error(409, "ALREADY_EXISTS", f"Secret [projects/{self.PROJECT_NUMBER}/secrets/{secret}] "
                                                      "already exists.")
        if "automatic" not in body.get("replication", {}) and "userManaged" not in body.get("replication", {}):
            return self._error(400, "INVALID_ARGUMENT", "replication is required")
        self.replication[(project, secret)] = body["replication"]
        self.secrets.setdefault((project, secret), [])
        return 200, {"name": f"projects/{self.PROJECT_NUMBER}/secrets/{secret}", "replication": body["replication"]}

    def _add(self, project: str, secret: str, body: dict) -> tuple[int, dict]:
        denied = self._denied(secret, "secretmanager.versions.add")
        if denied:
            return denied
        if (project, secret) not in self.replication:
            return self._error(404, "NOT_FOUND", f"Secret [projects/{self.PROJECT_NUMBER}/secrets/{secret}] not found.")
        payload = body.get("payload", {})
        data = base64.b64decode(payload.get("data", ""))
        if "dataCrc32c" in payload and int(payload["dataCrc32c"]) != crc32c(data):
            return self._error(400, "INVALID_ARGUMENT", "Checksum mismatch.")
        self.secrets[(project, secret)].append(data)
        number = len(self.secrets[(project, secret)])
        return 200, {"name": f"projects/{self.PROJECT_NUMBER}/secrets/{secret}/versions/{number}", "state": "ENABLED"}
