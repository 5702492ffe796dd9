"""delivery/fetch.py: only public https (http only to 127.0.0.1 when allowed), every hop checked, bytes sniffed."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qunflow.delivery.fetch import FetchError, ImageFetcher, blocked, sniff

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture()
def server():
    routes: dict[str, tuple[int, dict, bytes]] = {}
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            status, headers, body = routes.get(self.path, (404, {}, b""))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", routes, hits
    httpd.shutdown()
    httpd.server_close()


def never_open(*args, **kwargs):
    raise AssertionError("a refused address must never be connected to")


@pytest.mark.parametrize("url", ["https://127.0.0.1/a.png", "https://10.0.0.1/a.png", "https://169.254.169.254/latest",
                                 "https://[::1]/a.png", "https://[fd00::1]/a.png", "https://172.16.3.4/a.png",
                                 "https://192.168.1.1/a.png", "https://100.64.0.1/a.png", "https://0.0.0.0/a.png",
                                 "https://[::ffff:10.0.0.1]/a.png"])
def test_private_and_metadata_addresses_are_refused(url):
    fetcher = ImageFetcher(opener=never_open, resolver=lambda h, p: pytest.fail("literal: no lookup"))
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(url)
    assert exc.value.code == "address"


def test_a_host_resolving_to_a_private_address_is_refused():
    fetcher = ImageFetcher(opener=never_open, resolver=lambda h, p: ["93.184.216.34", "10.1.2.3"])
    with pytest.raises(FetchError) as exc:
        fetcher.fetch("https://posters.example.com/a.png")
    assert exc.value.code == "address" and "10.1.2.3" in exc.value.reason


def test_http_and_loopback_only_with_the_flag(server):
    base, routes, _ = server
    routes["/p.png"] = (200, {"Content-Type": "text/html"}, PNG)
    with pytest.raises(FetchError) as exc:
        ImageFetcher().fetch(base + "/p.png")
    assert exc.value.code == "scheme"
    image = ImageFetcher(allow_loopback_http=True).fetch(base + "/p.png")
    assert image.format == "png" and image.data == PNG     # the header said text/html: the bytes decide


def test_a_redirect_to_a_private_address_is_refused(server):
    base, routes, hits = server
    routes["/r1"] = (302, {"Location": "http://10.0.0.1/secret"}, b"")
    routes["/r2"] = (302, {"Location": "https://evil.example/x"}, b"")
    fetcher = ImageFetcher(allow_loopback_http=True, resolver=lambda h, p: ["192.168.0.9"])
    for path in ("/r1", "/r2"):
        with pytest.raises(FetchError) as exc:
            fetcher.fetch(base + path)
        assert exc.value.code in ("scheme", "address")
    routes["/r3"] = (302, {"Location": "https://169.254.169.254/latest/meta-data/"}, b"")
    with pytest.raises(FetchError) as exc:
        ImageFetcher(allow_loopback_http=True, opener=None).fetch(base + "/r3")
    assert exc.value.code == "address" and "metadata" in exc.value.reason and hits.count("/r3") == 1


def test_redirects_are_counted_and_size_capped(server):
    base, routes, _ = server
    for i in range(5):
        routes[f"/loop{i}"] = (302, {"Location": f"/loop{i + 1}"}, b"")
    routes["/big"] = (200, {}, PNG + b"\x00" * 2000)
    routes["/text"] = (200, {"Content-Type": "image/png"}, b"<html>not an image</html>")
    fetcher = ImageFetcher(allow_loopback_http=True, max_bytes=1000)
    for path, code in (("/loop0", "redirects"), ("/big", "too-large"), ("/text", "not-image")):
        with pytest.raises(FetchError) as exc:
            fetcher.fetch(base + path)
        assert exc.value.code == code


def test_one_download_per_tick_for_many_groups(server):
    base, routes, hits = server
    routes["/poster.png"] = (200, {}, PNG)
    routes["/same.png"] = (200, {}, PNG)
    fetcher = ImageFetcher(allow_loopback_http=True)
    images = [fetcher.fetch(base + "/poster.png") for _ in range(200)]
    assert hits.count("/poster.png") == 1 and fetcher.downloads == 1
    assert fetcher.fetch(base + "/same.png") is images[0]      # one content, one image


def test_sniff_and_blocked():
    assert sniff(b"GIF89a...") == "gif" and sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert sniff(b"\xff\xd8\xff\xe0") == "jpeg" and sniff(b"hello") is None
    assert blocked("8.8.8.8") is None and blocked("169.254.169.254").startswith("link-local")
