"""Feishu's native images in the tick (#21): the workbook's Feishu app (Settings `feishu_app_id`, and
`feishu_app_secret` as a reference resolved by the tick's SecretResolver) uploads each poster once for an
image_key (delivery/feishu_images.py caches the token and the key in the state store), and the group's robot
sends `msg_type: image` with it. jobs/images.py calls `FeishuUploads.key` for each due Feishu image send.

Without the app (either setting empty, or the secret written as itself rather than a reference) the poster goes
as a link in a post, and the Groups row says so (jobs/images.py `feishu_link_warnings`); the Settings row says
what is wrong with a half-set app or a secret written whole (never showing it).
"""
from __future__ import annotations

from typing import Any

from ..delivery.feishu_images import FeishuError, FeishuImages, base_for
from ..delivery.secrets import UnresolvedSecret
from ..sheet.problems import WARNING, ProblemSink
from ..sheet.workbook import Workbook
from .wecom_doctor import Scratch

REFERENCE = ("secret:", "env:")
KEYS = ("feishu_app_id", "feishu_app_secret")
FIX = {"credentials": "feishu_fix_credentials", "token": "feishu_fix_credentials", "image": "feishu_fix_image",
       "network": "feishu_fix_network"}


def app_settings(wb: Workbook) -> tuple[str, str]:
    """(App ID, the App Secret's reference) as Settings has them; "" for what is not set."""
    extra = wb.settings.extra or {}
    return tuple(str(extra.get(k) or "").strip() for k in KEYS)  # type: ignore[return-value]


def configured(wb: Workbook) -> bool:
    app_id, secret_ref = app_settings(wb)
    return bool(app_id and secret_ref.startswith(REFERENCE))


def setting_row(wb: Workbook, key: str) -> int | None:
    """The sheet row of the Settings row `key` (its English or Chinese name), or None."""
    table = wb.tables["settings"]
    if table.missing or "key" not in table.columns:
        return None
    names = {key.casefold()} | {str(s.headers.get("zh-CN", "")).casefold() for s in table.schema.settings if s.key == key}
    for index, row in enumerate(table.rows):
        if str(table.cell(row, "key") or "").strip().casefold() in names:
            return table.sheet_row(index)
    return None


def setting_problems(wb: Workbook, sink: ProblemSink) -> None:
    """A half-set app, or an App Secret written as itself: said at the Settings row (the secret never shown)."""
    app_id, secret_ref = app_settings(wb)
    table = wb.tables["settings"]
    value_column = table.header_of("value", wb.lang) if "value" in table.columns else ""
    if secret_ref and not secret_ref.startswith(REFERENCE):
        sink.add("feishu_secret_not_reference", tab=table.title, row=setting_row(wb, "feishu_app_secret"),
                 column=value_column, value="…")
    elif bool(app_id) != bool(secret_ref):
        present, missing = KEYS if app_id else KEYS[::-1]
        sink.add("feishu_app_half_set", tab=table.title, row=setting_row(wb, present), column=value_column,
                 value=app_id if app_id else "…", severity=WARNING, present=present, missing=missing)


class FeishuUploads:
    """One tick's Feishu app: its secret resolved on first use, one client per API base (Feishu's or Lark's)."""

    def __init__(self, wb: Workbook, deps: Any):
        self.wb, self.deps = wb, deps
        self.app_id, self.secret_ref = app_settings(wb)
        self.ready = configured(wb)
        self._clients: dict[str, FeishuImages] = {}
        self._failed: dict[tuple, FeishuError | UnresolvedSecret] = {}   # sticky for the tick: told once

    def _client(self, webhook: str) -> FeishuImages:
        base = getattr(self.deps, "feishu_base", None) or base_for(webhook)
        if base not in self._clients:
            secret = self.deps.resolver.resolve(self.secret_ref)
            if not secret:
                raise UnresolvedSecret(self.secret_ref, "it is empty")
            if getattr(self.deps, "masker", None) is not None:
                self.deps.masker.add(secret)
            state = self.deps.state if self.deps.state is not None else Scratch()   # no store: this run only
            self._clients[base] = FeishuImages(self.app_id, secret, session=self.deps.session, state=state,
                                               base_url=base, clock=self.deps.clock)
        return self._clients[base]

    def key(self, image, webhook: str) -> str:
        """The image_key for this fetched image (delivery.fetch.Image), or FeishuError / UnresolvedSecret."""
        for sticky in (("app",), ("image", image.sha256)):
            if sticky in self._failed:
                raise self._failed[sticky]
        try:
            return self._client(webhook).image_key(image.data, image.format, image.sha256)
        except UnresolvedSecret as exc:
            self._failed[("app",)] = exc
            raise
        except FeishuError as exc:
            self._failed[("image", image.sha256) if exc.kind == "image" else ("app",)] = exc
            raise

    def failure(self, exc: FeishuError | UnresolvedSecret, webhook: str) -> tuple[str, str, dict]:
        """(the SendLog reason, the fix's message key, its parameters) for a failed upload."""
        if isinstance(exc, UnresolvedSecret):
            return (f"feishu_app_secret {exc.reference} is not set", "feishu_fix_unresolved",
                    {"reference": exc.reference, "where": exc.where})
        return exc.reason, FIX.get(exc.kind, "feishu_fix_api"), {
            "row": setting_row(self.wb, "feishu_app_id") or "—",
            "base": getattr(self.deps, "feishu_base", None) or base_for(webhook)}

    def calls(self) -> dict[str, int]:
        """The open API calls made this tick, by path (tests read it)."""
        out: dict[str, int] = {}
        for client in self._clients.values():
            for path, n in client.calls.items():
                out[path] = out.get(path, 0) + n
        return out
