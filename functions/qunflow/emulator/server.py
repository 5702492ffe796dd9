"""The emulator: routing, the bot registry, faults, recording, admin endpoints.

Each platform module judges one request (pure, given the clock reading and
the rate-limit state); this module owns the state; emulator/listener.py the
sockets. It listens on 127.0.0.1 only.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import socket
import threading
import time
import traceback
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from . import transcript
from .base import Bot, Context, Reply, Request, json_reply, text_reply
from .dingtalk import DingTalk
from .listener import EmulatorHandler, EmulatorServer
from .discord import Discord
from .feishu import Feishu
from .feishu_api import ADMIN as FEISHU_ADMIN, FeishuApi
from .ratelimit import Limiter
from .slack import Slack
from .telegram import Telegram
from .wecom import WeCom
from .wecom_api import ADMIN as WECOM_ADMIN, WeComApi
from .wecom_groups import WeComGroups
from .wecom_tasks import WeComTasks

PLATFORM_CLASSES = {"wecom": WeCom, "dingtalk": DingTalk, "feishu": Feishu, "slack": Slack,
                    "discord": Discord, "telegram": Telegram}
FAULT_STATUSES = (500, 502, 503)
FAULT_BODY = {500: "500 Internal Server Error", 502: "502 Bad Gateway", 503: "503 Service Unavailable"}


class Emulator:
    """A local stand-in for the six platforms' group webhooks.

    `clock` is a callable returning epoch seconds (default time.time); signature
    freshness, rate windows and recorded times all read it. `wall_clock`, when
    given, is the platform's own clock for signature freshness alone: for a run
    whose `--now` the emulator's clock follows while its signatures are dated
    by the real clock. `strict=False` auto-registers unknown tokens (operator
    dry runs); a signed request to a bot whose secret was not given is refused.
    """

    def __init__(self, bots: Iterable[Bot] = (), clock: Callable[[], float] | None = None, strict: bool = True,
                 error_rate: float = 0.0, timeout_rate: float = 0.0, timeout_stall: float = 5.0,
                 latency: float = 0.0, seed: int = 0, transcript_path: str | Path | None = None,
                 log: Callable[[str], None] | None = None, wall_clock: Callable[[], float] | None = None):
        for label, rate in (("error_rate", error_rate), ("timeout_rate", timeout_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{label} is a fraction between 0 and 1; got {rate}")
        if error_rate + timeout_rate > 1.0:
            raise ValueError("error_rate + timeout_rate must not exceed 1")
        if timeout_stall < 0 or latency < 0:
            raise ValueError("timeout_stall and latency are seconds >= 0")
        self.clock = clock or time.time
        self.wall_clock = wall_clock
        self.strict = strict
        self.error_rate, self.timeout_rate = float(error_rate), float(timeout_rate)
        self.timeout_stall, self.latency = float(timeout_stall), float(latency)
        self.seed = seed
        self.transcript_path = Path(transcript_path) if transcript_path else None
        self.log = log
        self.platforms = {name: cls() for name, cls in PLATFORM_CLASSES.items()}
        self.limiters = {name: Limiter(p.RATE_RULES, p.PENALTY, self.clock) for name, p in self.platforms.items()}
        self._bots: dict[tuple[str, str], Bot] = {}
        self.wecom_api = WeComApi(self.clock)      # WeCom's server API (gettoken, customer groups): wecom_api.py
        self.wecom_groups = WeComGroups(self.wecom_api)   # groupchat list/get, welcome templates, callbacks
        self.wecom_tasks = WeComTasks(self.wecom_api).mount()   # 客户群群发 tasks and the owner: wecom_tasks.py
        self.feishu_api = FeishuApi(self.clock)    # Feishu's open API (token, image uploads): feishu_api.py
        self.platforms["feishu"].api = self.feishu_api   # its bot's image messages name keys issued there
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set = set()
        self.base_url: str | None = None
        self._clear()
        for bot in bots:
            self.add_bot(bot)

    # ---- lifecycle

    def start(self, port: int = 0) -> str:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._stopping.clear()
        server = EmulatorServer(("127.0.0.1", port), EmulatorHandler)
        server.daemon_threads = True
        server.emulator = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name="qunflow-emulator", daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        self._stopping.set()  # ends every stall and latency sleep
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self.base_url = None

    def __enter__(self) -> "Emulator":
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- registry

    def add_bot(self, bot: Bot | dict) -> Bot:
        """Register (or replace) a bot. The emulator keeps its own copy, so one Bot shared by
        several emulators or tests never carries state across them; change the returned
        object (or `emulator.bots[i]`) to kill a bot mid-test."""
        bot = Bot.from_dict(bot) if isinstance(bot, dict) else dataclasses.replace(bot)
        with self._lock:
            self._bots[(bot.platform, bot.token)] = bot
        return bot

    @property
    def bots(self) -> list[Bot]:
        with self._lock:
            return list(self._bots.values())

    def webhook_url(self, bot: Bot) -> str:
        if self.base_url is None:
            raise RuntimeError("start() the emulator first: the URL carries its port")
        return self.platforms[bot.platform].url(self.base_url, bot)

    def _lookup(self, platform: str, token: str) -> Bot | None:
        bot = self._bots.get((platform, token))
        if bot is None and not self.strict:
            try:
                bot = self.add_bot(Bot(platform, token))
            except ValueError:
                return None
        return bot

    def _bots_of(self, platform: str) -> list[Bot]:
        return [b for (p, _), b in self._bots.items() if p == platform]

    # ---- state

    def _clear(self) -> None:
        if not hasattr(self, "messages"):
            self.messages: list[dict] = []
            self.rejections: Counter = Counter()  # "platform:code" -> count
            self.faults: Counter = Counter()  # "error:503", "timeout"
        self.messages.clear()  # in place: callers may hold a reference to the list
        self.rejections.clear()
        self.faults.clear()
        self.requests_total = 0
        self._seq = 0
        self._rng = random.Random(self.seed)

    def reset(self) -> None:
        """Forget messages, counters and rate-limit state; keep the bots."""
        with self._lock:
            self._clear()
            for limiter in self.limiters.values():
                limiter.reset()

    def stats(self) -> dict:
        with self._lock:
            return {"requests_total": self.requests_total, "accepted": len(self.messages),
                    "rejections": dict(self.rejections), "faults": dict(self.faults)}

    def write_html(self, path: str | Path, title: str = "qunflow emulator transcript", *, zones=None,
                   lang: str = "en") -> Path:
        """`zones`: group_id -> time zone, to show each group's local date and time (else UTC)."""
        with self._lock:
            messages = list(self.messages)
        return transcript.write_html(path, messages, title, zones=zones, lang=lang)

    def _record(self, platform: str, msg, now: float) -> dict:
        self._seq += 1
        bot = msg.bot
        record = {
            "seq": self._seq,
            "at": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds"),
            "platform": platform,
            "token_masked": bot.token_masked,
            "group_id": msg.group_id or bot.group_id or f"{platform}-{hashlib.sha256(bot.token.encode()).hexdigest()[:8]}",
            "name": bot.name,
            "author": msg.author or bot.name,
            "msgtype": msg.msgtype,
            "text": msg.text,
            "mentions": list(msg.mentions),
            "payload": msg.payload,
            "warnings": list(msg.warnings),
            **msg.extra,
        }
        self.messages.append(record)
        if self.transcript_path:
            transcript.append_jsonl(self.transcript_path, record)
        return record

    # ---- one platform request

    def _draw_fault(self):
        roll = self._rng.random()
        if roll < self.error_rate:
            return self._rng.choice(FAULT_STATUSES)
        if roll < self.error_rate + self.timeout_rate:
            return "timeout"
        return None

    def handle(self, req: Request) -> Reply:
        """Judge one platform request (the HTTP handler's entry; also usable without sockets)."""
        with self._lock:
            self.requests_total += 1
        if self.wecom_api.owns(req.path):
            return self.wecom_api.handle(req, self.clock())
        if self.feishu_api.owns(req.path):
            return self.feishu_api.handle(req, self.clock())
        for name, platform in self.platforms.items():
            route = platform.match(req.path)
            if route is not None:
                break
        else:
            with self._lock:
                self.rejections["unrouted:404"] += 1
            return text_reply(404, "404 page not found")
        if req.method != "POST":
            with self._lock:
                self.rejections[f"{name}:405"] += 1
            return text_reply(405, "405 method not allowed")
        with self._lock:
            fault = self._draw_fault()
        if self.latency:
            self._stopping.wait(self.latency)
        if fault in FAULT_STATUSES:
            with self._lock:
                self.faults[f"error:{fault}"] += 1
            self._log(f"{name:9} {fault} injected fault")
            return text_reply(fault, FAULT_BODY[fault])
        with self._lock:
            req.now = self.clock()
            req.wall_now = self.wall_clock() if self.wall_clock else None
            limiter = self.limiters[name]
            ctx = Context(self._lookup, self._bots_of, limiter, req.now, self.strict, self._seq + 1)
            try:
                outcome = platform.handle(req, route, ctx)
            except Exception as exc:  # an emulator bug must not look like a dropped connection
                traceback.print_exc()
                self.rejections[f"{name}:emulator-error"] += 1
                return text_reply(500, f"qunflow emulator error ({type(exc).__name__}); please report it")
            if outcome.message is not None:
                limiter.hit(outcome.limit_key, req.now)
                record = self._record(name, outcome.message, req.now)
                verdict = f"accepted #{record['seq']} group={record['group_id']}"
            else:
                self.rejections[f"{name}:{outcome.code}"] += 1
                verdict = f"rejected {outcome.code}"
            decorate = getattr(platform, "decorate", None)
            if decorate:
                decorate(outcome, route, ctx, req.now)
        self._log(f"{name:9} {outcome.reply.status} {verdict}")
        if fault == "timeout":
            with self._lock:
                self.faults["timeout"] += 1
            self._log(f"{name:9} stalling {self.timeout_stall:g}s (timeout fault)")
            self._stopping.wait(self.timeout_stall)
        return outcome.reply

    def _log(self, line: str) -> None:
        if self.log:  # lines carry platform, status, code and group: never a token or secret
            self.log(f"{datetime.fromtimestamp(self.clock()).strftime('%H:%M:%S')} {line}")

    # ---- admin endpoints for out-of-process use

    def admin(self, method: str, path: str, query: dict, body: bytes) -> Reply:
        if path.startswith(WECOM_ADMIN):
            return self.wecom_api.admin(method, path, query, body)
        if path.startswith(FEISHU_ADMIN):
            return self.feishu_api.admin(method, path, body)
        if (method, path) == ("GET", "/_emulator/health"):
            return json_reply(200, {"ok": True, "strict": self.strict, "bots": len(self._bots), **self.stats()})
        if (method, path) == ("GET", "/_emulator/messages"):
            with self._lock:
                items = [m for m in self.messages if all(str(m.get(k)) == v for k, v in query.items()
                                                         if k in ("platform", "group_id", "msgtype"))]
            return json_reply(200, items)
        if (method, path) == ("GET", "/_emulator/transcript.html"):
            with self._lock:
                page = transcript.render_html(list(self.messages))
            return Reply(200, page.encode("utf-8"), "text/html; charset=utf-8")
        if (method, path) == ("POST", "/_emulator/reset"):
            self.reset()
            return json_reply(200, {"ok": True})
        if (method, path) == ("POST", "/_emulator/bots"):
            try:
                data = json.loads(body.decode("utf-8") or "null")
                items = data if isinstance(data, list) else [data]
                bots = [self.add_bot(Bot.from_dict(item)) for item in items]
            except (ValueError, TypeError, AttributeError) as exc:
                return json_reply(400, {"ok": False, "error": str(exc)})
            return json_reply(201, {"ok": True, "bots": [
                {"platform": b.platform, "token_masked": b.token_masked, "webhook_url": self.webhook_url(b)}
                for b in bots]})
        if method == "POST" and path.startswith("/_emulator/events/"):
            return self._events_admin(path.rsplit("/", 1)[1], body)
        return json_reply(404, {"ok": False, "error": f"no admin endpoint {method} {path}"})

    def _events_admin(self, action: str, body: bytes) -> Reply:
        """POST /_emulator/events/source {url, secrets}: where the platforms' events go (emulator/events_out.py);
        POST /_emulator/events/emit {platform, chat_id, kind, user: {id, name}, text?, inviter?, service?};
        POST /_emulator/events/handshake {platform}. Answers the delivery's record (never a secret)."""
        from .events_out import EventSource
        try:
            data = json.loads(body.decode("utf-8") or "{}")
            if action == "source":
                self.events = EventSource(data["url"], secrets=data.get("secrets") or {}, clock=self.clock,
                                          sleep=self._stopping.wait, log=self.log, seed=self.seed)
                return json_reply(200, {"ok": True})
            source = getattr(self, "events", None)
            if source is None:
                return json_reply(409, {"ok": False, "error": "POST /_emulator/events/source first"})
            if action == "emit":
                record = source.emit(data["platform"], str(data["chat_id"]), data["kind"], data["user"],
                                     text=data.get("text") or "", inviter=data.get("inviter"),
                                     service=bool(data.get("service")))
            elif action == "handshake":
                record = source.handshake(data["platform"])
            else:
                return json_reply(404, {"ok": False, "error": f"no events action {action!r}"})
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return json_reply(400, {"ok": False, "error": str(exc)})
        return json_reply(200, {k: v for k, v in record.items() if not k.startswith("_") and k != "answer"})
