"""The emulator's sockets: a threading HTTP server on 127.0.0.1 that hands each request to the Emulator (routing to
the platforms, or to its admin endpoints) and writes the reply. Bodies are capped at MAX_BODY."""
from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .base import Reply, Request, text_reply

MAX_BODY = 8 * 1024 * 1024


class EmulatorServer(ThreadingHTTPServer):
    # A platform's front end takes many connections at once. socketserver's default backlog of 5 made a sender
    # with 64 workers lose SYNs and wait the kernel's 1 s retransmit: a delay no real platform adds.
    request_queue_size = 1024

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-request (a killed sender, a timeout) is normal here: no traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "qunflow-emulator"
    sys_version = ""
    timeout = 60
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls

    def setup(self) -> None:
        super().setup()
        emulator = self.server.emulator
        with emulator._lock:
            emulator._conns.add(self.connection)

    def finish(self) -> None:
        emulator = self.server.emulator
        with emulator._lock:
            emulator._conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, dated by the platform's clock (the emulator's signing clock), as a real platform's
        own servers date theirs: a sender whose clock is off can see it there."""
        emulator = self.server.emulator
        if timestamp is None:
            timestamp = (emulator.wall_clock or emulator.clock)()
        return super().date_time_string(timestamp)

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        emulator = self.server.emulator
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = self._read_body()
        if body is None:
            self.close_connection = True
            return self._send(text_reply(413, "413 request entity too large"))
        if url.path.startswith("/_emulator/"):
            reply = emulator.admin(method, url.path, query, body)
        else:
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = emulator.handle(Request(method, url.path, query, headers, body))
        if emulator._stopping.is_set():
            self.close_connection = True
        self._send(reply)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            if reply.status != 204:
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if reply.status != 204:
                self.wfile.write(reply.body)
        except OSError:  # the client gave up (a timeout fault) or stop() closed the socket
            self.close_connection = True

    def log_message(self, format: str, *args) -> None:
        pass  # the request line carries tokens; the emulator logs masked lines itself

