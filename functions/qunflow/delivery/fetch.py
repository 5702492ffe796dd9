"""Fetching an image named by URL in the sheet, safely: an editor can type any address, and in the cloud the
function runs next to the metadata server (169.254.169.254) and other private services.

- Only https. http only to 127.0.0.1, and only when `allow_loopback_http` is set (tests and the demo).
- The host is resolved first; every address it resolves to must be public (not loopback, private, link-local,
  shared 100.64/10, unspecified, multicast, reserved or an IPv4-mapped form of one of them), and the connection
  goes to that very address (its certificate checked against the host name), so DNS rebinding cannot switch it.
- Redirects are followed by hand, at most MAX_REDIRECTS, each hop checked the same way.
- A size cap read in chunks, a connect/read timeout and a whole-fetch deadline.
- The format comes from the bytes (png, jpeg, gif, webp), never from the Content-Type header.
- One fetcher lives for one tick and remembers what it fetched: by URL (failures too) and by content hash, so 200
  groups posting one poster cost one download. Images are not kept in the state store: a poster is megabytes
  and a Firestore document holds at most 1 MiB, so the tick's memory is the cache.

The I/O (resolver, opener, clock) is injected; the defaults are socket.getaddrinfo and urllib3.
"""
from __future__ import annotations

import hashlib
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urljoin, urlsplit

MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 3
TIMEOUT = (5.0, 15.0)      # connect, read (each chunk) in seconds
DEADLINE = 30.0            # the whole fetch, redirects included
CHUNK = 64 * 1024
LOOPBACK = "127.0.0.1"
REDIRECTS = (301, 302, 303, 307, 308)
SHARED = ipaddress.ip_network("100.64.0.0/10")   # carrier-grade NAT: not global, not "private" in every Python

# what the bytes say -> (mime type, file extension)
FORMATS = {"png": ("image/png", "png"), "jpeg": ("image/jpeg", "jpg"), "gif": ("image/gif", "gif"),
           "webp": ("image/webp", "webp")}


def sniff(data: bytes) -> str | None:
    """The image format from its magic bytes: png, jpeg, gif, webp, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


class FetchError(Exception):
    """The image could not be fetched. `code` is one of: scheme, address, dns, redirects, http, too-large,
    timeout, network, not-image; `reason` says it in plain words (it names the host, never a query string)."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class Image:
    data: bytes
    format: str          # png | jpeg | gif | webp
    sha256: str
    url: str             # the address it was first fetched from (before redirects)

    @property
    def mime(self) -> str:
        return FORMATS[self.format][0]

    @property
    def extension(self) -> str:
        return FORMATS[self.format][1]

    def __repr__(self) -> str:
        return f"Image({self.format}, {len(self.data)} bytes, sha256={self.sha256[:12]}…)"


def blocked(ip: str) -> str | None:
    """Why an address may not be fetched from (a short word), or None when it is a public address."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local (the metadata server lives there)" if str(addr) == "169.254.169.254" else "link-local"
    if addr.is_unspecified:
        return "unspecified"
    if isinstance(addr, ipaddress.IPv4Address) and addr in SHARED:
        return "shared (100.64.0.0/10)"
    if addr.is_private:
        return "private"
    if addr.is_multicast or addr.is_reserved or not addr.is_global:
        return "not public"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    return list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


class Reply:
    """What an opener returns: status, headers, and the body in chunks."""

    def __init__(self, status: int, headers: Mapping[str, str], chunks: Iterable[bytes], close: Callable[[], None]):
        self.status, self.headers, self.chunks, self.close = status, headers, chunks, close

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lname), None)


def urllib3_opener(scheme: str, ip: str, port: int, host: str, target: str, timeout: tuple[float, float]) -> Reply:
    """GET `target` from `ip` itself; TLS checks the certificate against `host` (SNI too)."""
    import urllib3
    pool_kwargs: dict[str, Any] = {"timeout": urllib3.Timeout(connect=timeout[0], read=timeout[1]), "retries": False,
                                   "maxsize": 1}
    if scheme == "https":
        try:
            import certifi
            pool_kwargs["ca_certs"] = certifi.where()
        except ImportError:  # the system's trust store
            pass
        pool = urllib3.HTTPSConnectionPool(ip, port, server_hostname=host, assert_hostname=host,
                                           cert_reqs="CERT_REQUIRED", **pool_kwargs)
    else:
        pool = urllib3.HTTPConnectionPool(ip, port, **pool_kwargs)
    default = 443 if scheme == "https" else 80
    headers = {"Host": host if port == default else f"{host}:{port}", "Accept": "image/*",
               "User-Agent": "qunflow-image-fetch"}
    reply = pool.urlopen("GET", target, headers=headers, redirect=False, retries=False, preload_content=False,
                         assert_same_host=False)

    def close() -> None:
        reply.release_conn()
        pool.close()

    return Reply(reply.status, dict(reply.headers), reply.stream(CHUNK), close)


def _origin_form(parts) -> str:
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _shown(url: str) -> str:
    """The URL as a reason may name it: scheme, host and path, never the query (it may carry a token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


class ImageFetcher:
    """Fetches images for one tick and remembers them (see the module's docstring)."""

    def __init__(self, *, allow_loopback_http: bool = False, resolver: Callable[[str, int], list[str]] | None = None,
                 opener: Callable[..., Reply] | None = None, clock: Callable[[], float] = time.monotonic,
                 max_bytes: int = MAX_BYTES, timeout: tuple[float, float] = TIMEOUT, deadline: float = DEADLINE,
                 max_redirects: int = MAX_REDIRECTS):
        self.allow_loopback_http = allow_loopback_http
        self.resolver = resolver or system_resolver
        self.opener = opener or urllib3_opener
        self.clock, self.max_bytes, self.timeout = clock, max_bytes, timeout
        self.deadline, self.max_redirects = deadline, max_redirects
        self.downloads = 0                                    # bodies actually read over the network
        self._by_url: dict[str, str | FetchError] = {}         # url -> sha256, or the error it gave
        self._by_hash: dict[str, Image] = {}

    def fetch(self, url: str) -> Image:
        """The image at `url`, or FetchError. Asked again in the same tick: the remembered answer."""
        url = (url or "").strip()
        known = self._by_url.get(url)
        if isinstance(known, FetchError):
            raise known
        if known is not None:
            return self._by_hash[known]
        try:
            image = self._download(url)
        except FetchError as exc:
            self._by_url[url] = exc
            raise
        self._by_url[url] = image.sha256
        return self._by_hash.setdefault(image.sha256, image)

    def image(self, sha256: str) -> Image | None:
        return self._by_hash.get(sha256)

    # ---- one fetch, hop by hop --------------------------------------------------------------------------------
    def _download(self, url: str) -> Image:
        started = self.clock()
        current = url
        for hop in range(self.max_redirects + 1):
            scheme, ip, port, host, target = self._check(current)
            try:
                reply = self.opener(scheme, ip, port, host, target, self.timeout)
            except FetchError:
                raise
            except Exception as exc:  # noqa: BLE001 - any transport failure is the same answer to the operator
                code = "timeout" if "timeout" in type(exc).__name__.lower() or "timed out" in str(exc) else "network"
                raise FetchError(code, f"could not fetch {_shown(current)}: {type(exc).__name__}") from None
            try:
                if reply.status in REDIRECTS:
                    location = reply.header("Location")
                    if not location:
                        raise FetchError("http", f"{_shown(current)} redirects without a Location")
                    current = urljoin(current, location.strip())
                    continue
                if reply.status != 200:
                    raise FetchError("http", f"{_shown(current)} answered HTTP {reply.status}")
                data = self._read(reply, current, started)
            finally:
                reply.close()
            fmt = sniff(data)
            if fmt is None:
                raise FetchError("not-image", f"{_shown(current)} is not a png, jpeg, gif or webp image "
                                              f"(its first bytes say so, whatever its Content-Type)")
            self.downloads += 1
            return Image(data, fmt, hashlib.sha256(data).hexdigest(), url)
        raise FetchError("redirects", f"{_shown(url)} redirects more than {self.max_redirects} times")

    def _read(self, reply: Reply, url: str, started: float) -> bytes:
        declared = reply.header("Content-Length")
        if declared and declared.strip().isdigit() and int(declared) > self.max_bytes:
            raise FetchError("too-large", f"{_shown(url)} is {int(declared)} bytes, over the {self._cap()} cap")
        body = bytearray()
        try:
            for chunk in reply.chunks:
                body += chunk
                if len(body) > self.max_bytes:
                    raise FetchError("too-large", f"{_shown(url)} is over the {self._cap()} cap")
                if self.clock() - started > self.deadline:
                    raise FetchError("timeout", f"{_shown(url)} took more than {self.deadline:g} s")
        except FetchError:
            raise
        except Exception as exc:  # noqa: BLE001
            code = "timeout" if "timeout" in type(exc).__name__.lower() else "network"
            raise FetchError(code, f"reading {_shown(url)} failed: {type(exc).__name__}") from None
        return bytes(body)

    def _cap(self) -> str:
        return f"{self.max_bytes // (1024 * 1024)} MB" if self.max_bytes >= 1024 * 1024 else f"{self.max_bytes} B"

    def _check(self, url: str) -> tuple[str, str, int, str, str]:
        """(scheme, the IP to connect to, port, host, request target) of a URL we may fetch; FetchError if not."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise FetchError("scheme", "the image address is not a valid URL") from None
        scheme, host = (parts.scheme or "").lower(), (parts.hostname or "").lower()
        if not host:
            raise FetchError("scheme", "the image address has no host: write it as https://…")
        if parts.username or parts.password:
            raise FetchError("scheme", "the image address carries a user name or password: not fetched")
        loopback_ok = self.allow_loopback_http and host == LOOPBACK
        if scheme != "https" and not (scheme == "http" and loopback_ok):
            raise FetchError("scheme", f"only https image addresses are fetched, not {scheme or 'this'}: "
                                       f"{_shown(url)}")
        port = port or (443 if scheme == "https" else 80)
        if loopback_ok:
            return scheme, LOOPBACK, port, host, _origin_form(parts)
        literal = None
        try:
            literal = str(ipaddress.ip_address(host))
        except ValueError:
            pass
        if literal is not None:
            addresses = [literal]
        else:
            try:
                addresses = self.resolver(host, port)
            except (OSError, UnicodeError):
                raise FetchError("dns", f"the host {host} of the image address does not resolve") from None
            if not addresses:
                raise FetchError("dns", f"the host {host} of the image address does not resolve")
        for ip in addresses:
            why = blocked(ip)
            if why:
                raise FetchError("address", f"{host} is a {why} address ({ip}): images are fetched only from "
                                            f"public addresses")
        return scheme, addresses[0], port, host, _origin_form(parts)
