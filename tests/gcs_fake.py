"""A small fake of the Cloud Storage JSON API (objects only), from Google's documented preconditions.

Enough for the lease: media upload with ifGenerationMatch, metadata and media GET, conditional DELETE.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


class FakeGcs:
    def __init__(self):
        self.objects: dict[tuple[str, str], tuple[int, bytes]] = {}
        self.generation = 1000
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body=None):
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _parse(self):
                parts = urlsplit(self.path)
                return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}

            def do_POST(self):
                path, q = self._parse()
                bucket = path.split("/b/")[1].split("/")[0]
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with fake.lock:
                    key = (bucket, q["name"])
                    match = q.get("ifGenerationMatch")
                    current = fake.objects.get(key)
                    if match is not None and (int(match) != (current[0] if current else 0)):
                        return self._reply(412, {"error": {"code": 412, "message": "conditionNotMet"}})
                    fake.generation += 1
                    fake.objects[key] = (fake.generation, body)
                    return self._reply(200, {"name": q["name"], "bucket": bucket, "generation": str(fake.generation)})

            def do_GET(self):
                path, q = self._parse()
                bucket, name = path.split("/b/")[1].split("/o/")
                key = (bucket, unquote(name))
                with fake.lock:
                    current = fake.objects.get(key)
                if current is None:
                    return self._reply(404, {"error": {"code": 404, "message": "No such object"}})
                if q.get("alt") == "media":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(current[1])))
                    self.end_headers()
                    self.wfile.write(current[1])
                    return None
                return self._reply(200, {"name": key[1], "generation": str(current[0])})

            def do_DELETE(self):
                path, q = self._parse()
                bucket, name = path.split("/b/")[1].split("/o/")
                key = (bucket, unquote(name))
                with fake.lock:
                    current = fake.objects.get(key)
                    if current is None:
                        return self._reply(404, {"error": {"code": 404}})
                    if "ifGenerationMatch" in q and int(q["ifGenerationMatch"]) != current[0]:
                        return self._reply(412, {"error": {"code": 412}})
                    del fake.objects[key]
                self.send_response(204)
                self.end_headers()
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
