"""The `events` function in-process, on 127.0.0.1: what `qunflow demo` (and anyone without functions-framework at
hand) points the emulated platforms at. The same two steps as functions/main.py `events`: verify and map
through events.route, keep in the inbox (jobs/events_inbox.keep), answer; on an injected clock.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from ..events.base import Inbound, Keys
from ..events.route import MAX_BODY, receive
from .events_inbox import keep


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        size = min(int(self.headers.get("Content-Length") or 0), MAX_BODY + 1)
        body = self.rfile.read(size) if size else b""
        parts = urlsplit(self.path)
        inbound = Inbound(method, parts.path, {k.lower(): v for k, v in self.headers.items()},
                          dict(parse_qsl(parts.query)), body)
        owner = self.server.owner
        now = owner.clock()
        answer = receive(inbound, owner.keys, now)
        status, out = answer.status, answer.body
        if answer.events:
            try:
                owner.kept += keep(owner.state, answer.events, now)
            except Exception as exc:  # noqa: BLE001 - the platform retries; the event ids dedup then
                status, out = 503, b'{"error": "try again"}'
                owner.reasons.append(f"store: {type(exc).__name__}")
        if answer.reason:
            owner.reasons.append(answer.reason)
        self.send_response(status)
        self.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:       # quiet: the demo prints its own progress
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "EventsServer"


class EventsServer:
    """`with EventsServer(state, keys, clock) as url:` the events function at `url` until the block ends."""

    def __init__(self, state: Any, keys: Keys, clock: Callable[[], float]):
        self.state, self.keys, self.clock = state, keys, clock
        self.kept = 0
        self.reasons: list[str] = []          # refusals, handshakes, poison: what main.py would log
        self._server: _Server | None = None

    def __enter__(self) -> str:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __exit__(self, *exc: Any) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
