"""DingTalk (钉钉) custom robot: POST /robot/send?access_token=T[&timestamp=&sign=].

HTTP 200 always; the verdict is `errcode`. Signed robots ("加签") need
`timestamp` (ms, within 1 hour) and `sign` in the query string; the sign is
base64(HMAC-SHA256(key=secret, msg=f"{ts}\\n{secret}")), URL-encoded ONCE.
A signed request to a robot whose secret the emulator was not given (registered without one, or
auto-registered in lax mode) is refused as a wrong secret is: 310000 sign not match. A dry run with a
wrong secret must not look fine.
Going over 20 messages a minute throttles the robot for 10 minutes.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

from .base import Context, Message, Outcome, Request, json_reply, nonempty_str, str_list
from .images import shown

PATH = "/robot/send"
MD_IMAGE = re.compile(r"!\[[^\]]*\]\((\S+?)\)")
BODY_MAX = 20000
SKEW_MS = 3600 * 1000
REMOVAL = (300001, 300005, 400013, 400101, 400102, 400106)
REMOVAL_MSG = {
    300001: "token is not exist", 300005: "token is used by another robot", 400013: "group is dismissed",
    400101: "access_token is not exist", 400102: "robot is stopped", 400106: "robot is not exist",
}
MORE = ", more: [qunflow emulator]"
NO_SECRET = ("sign not match (the emulator was given no signing secret for this robot: register the robot "
             "with its signing secret, in the test's Bot or with POST /_emulator/bots)")


def err(code: int, msg: str) -> Outcome:
    return Outcome.reject(json_reply(200, {"errcode": code, "errmsg": msg + MORE}), code)


def expected_sign(timestamp: str, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalk:
    name = "dingtalk"
    label = "DingTalk"
    RATE_RULES = ((20, 60.0),)
    PENALTY = 600.0

    def match(self, path: str) -> dict | None:
        return {} if path == PATH else None

    def url(self, base: str, bot) -> str:
        return f"{base}{PATH}?access_token={bot.token}"

    def handle(self, req: Request, route: dict, ctx: Context) -> Outcome:
        token = req.query.get("access_token", "")
        if not token:
            return err(400101, "access_token is empty")
        bot = ctx.bot(self.name, token)
        if bot is None:
            return err(300001, "token is not exist")
        if bot.dead:
            code = bot.dead if bot.dead in REMOVAL else 400102
            return err(code, REMOVAL_MSG[code])
        if bot.secret:
            problem = self._verify(req, bot.secret)
            if problem:
                return err(310000, problem)
        elif "sign" in req.query or "timestamp" in req.query:
            return err(310000, NO_SECRET)
        if ctx.limiter.penalized_for(bot.token, req.now) > 0:
            return err(130101, "send too fast, exceed 20 times per minute")
        ctype = req.headers.get("content-type", "")
        if not ctype.lower().startswith("application/json"):
            return err(43004, f"invalid HTTP HEADER Content-Type {ctype!r}: use application/json")
        if len(req.body) > BODY_MAX:
            return err(460101, f"message too large: {len(req.body)} bytes > {BODY_MAX}")
        data, problem = req.json()
        if problem or not isinstance(data, dict):
            return err(40035, f"missing parameter json ({problem or 'not an object'})")
        msgtype = data.get("msgtype")
        check = getattr(self, f"_{msgtype}", None) if isinstance(msgtype, str) else None
        if check is None:
            return err(400105, f"unsupported msgtype {msgtype!r}")
        body = data.get(msgtype)
        if not isinstance(body, dict):
            return err(40035, f"missing parameter {msgtype}")
        result = check(body)
        if isinstance(result, Outcome):
            return result
        text, searchable = result
        mentions, warnings = [], []
        if "at" in data:
            at = self._at(data["at"], msgtype, text)
            if isinstance(at, Outcome):
                return at
            mentions, warnings = at
        if bot.keyword and bot.keyword not in searchable:
            return err(310000, "keywords not in content")
        if ctx.limiter.check(bot.token, req.now) > 0:
            return err(130101, "send too fast, exceed 20 times per minute")
        picture = MD_IMAGE.search(text) if msgtype == "markdown" else None
        extra = shown(picture.group(1), warnings, "the markdown image shows as a broken picture") if picture else {}
        reply = json_reply(200, {"errcode": 0, "errmsg": "ok"})
        return Outcome(reply, message=Message(bot, msgtype, text, mentions, data, warnings, extra=extra),
                       limit_key=bot.token)

    def _verify(self, req: Request, secret: str) -> str | None:
        ts, sign = req.query.get("timestamp"), req.query.get("sign")
        if not ts or not sign:
            return "sign not match"
        if not ts.isdigit():
            return "invalid timestamp"
        if abs(int(ts) - req.signed_now * 1000) > SKEW_MS:
            return "invalid timestamp"
        if not hmac.compare_digest(sign, expected_sign(ts, secret)):
            return "sign not match"
        return None

    def _at(self, at, msgtype: str, text: str):
        if not isinstance(at, dict):
            return err(40035, "missing parameter: at must be an object")
        mobiles, users, everyone = at.get("atMobiles", []), at.get("atUserIds", []), at.get("isAtAll", False)
        if not str_list(mobiles) or not str_list(users) or not isinstance(everyone, bool):
            return err(40035, "missing parameter: at{atMobiles: [str], atUserIds: [str], isAtAll: bool}")
        if msgtype not in ("text", "markdown"):
            return [], [f"`at` is ignored for msgtype {msgtype}"] if (mobiles or users or everyone) else []
        warnings = [f"@{who} is in `at` but not written in the text; members won't see it" for who in mobiles + users
                    if f"@{who}" not in text]
        mentions = list(dict.fromkeys(mobiles + users + (["all"] if everyone else [])))
        return mentions, warnings

    # ---- one checker per msgtype: (text as seen, text searched for the keyword) or an Outcome

    def _text(self, body: dict):
        content = body.get("content")
        if not nonempty_str(content):
            return err(40035, "missing parameter text.content")
        return content, content

    def _markdown(self, body: dict):
        title, text = body.get("title"), body.get("text")
        if not nonempty_str(title) or not nonempty_str(text):
            return err(40035, "missing parameter markdown.title / markdown.text")
        return text, f"{title}\n{text}"

    def _link(self, body: dict):
        title, text, url = body.get("title"), body.get("text"), body.get("messageUrl")
        if not nonempty_str(title) or not nonempty_str(text) or not nonempty_str(url):
            return err(40035, "missing parameter link.title / link.text / link.messageUrl")
        if "picUrl" in body and not isinstance(body["picUrl"], str):
            return err(40035, "link.picUrl must be a string")
        return f"{title}\n{text}\n{url}", f"{title}\n{text}"

    def _actionCard(self, body: dict):
        title, text = body.get("title"), body.get("text")
        if not nonempty_str(title) or not nonempty_str(text):
            return err(40035, "missing parameter actionCard.title / actionCard.text")
        buttons = []
        if "btns" in body:
            btns = body["btns"]
            if not isinstance(btns, list) or not btns or not all(
                    isinstance(b, dict) and nonempty_str(b.get("title")) and nonempty_str(b.get("actionURL")) for b in btns):
                return err(40035, "actionCard.btns must be a list of {title, actionURL}")
            buttons = [b["title"] for b in btns]
        elif nonempty_str(body.get("singleTitle")) and nonempty_str(body.get("singleURL")):
            buttons = [body["singleTitle"]]
        else:
            return err(40035, "actionCard needs singleTitle+singleURL or btns")
        seen = text + "".join(f"\n[{b}]" for b in buttons)
        return seen, f"{title}\n{seen}"

    def _feedCard(self, body: dict):
        links = body.get("links")
        if not isinstance(links, list) or not links or not all(
                isinstance(x, dict) and nonempty_str(x.get("title")) and nonempty_str(x.get("messageURL")) for x in links):
            return err(40035, "feedCard.links must be a non-empty list of {title, messageURL, picURL}")
        seen = "\n".join(f"{x['title']} {x['messageURL']}" for x in links)
        return seen, "\n".join(x["title"] for x in links)
