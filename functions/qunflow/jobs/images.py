"""Images before dispatch: a platform that takes an image as bytes (WeCom's robot: base64 and md5) gets it fetched
once per tick by the tick's ImageFetcher (delivery/fetch.py) and made to fit (delivery/image_fit.py); platforms
that take a URL get the URL (the platform fetches it).

A fetch or fit that fails is a Problem at the SOP row's content cell, once per row and address, and that send is
`failed` with the reason; the other sends go on. A Feishu group an image row goes to gets its image by image_key
when Settings has the workbook's Feishu app (jobs/feishu_images.py uploads it once); without the app, as a link in
a post, and a warning at its Groups row every tick, once per group.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from ..delivery.fetch import FetchError
from ..delivery.image_fit import ImageUnfit, fit
from ..delivery.platforms.wecom import WeCom
from ..engine.outcomes import SendOutcome, _platform_label
from ..sheet import i18n
from ..sheet.problems import WARNING, ProblemSink
from ..sheet.workbook import Workbook

BYTES_CAP = {"wecom": WeCom.image_max_bytes}     # platforms that take the image's bytes -> their cap (jpg or png)


class Images:
    """One tick's image work: the fetcher (made on first use), fitted bytes by (content hash, platform)."""

    def __init__(self, make_fetcher, wb: Workbook, sink: ProblemSink, feishu=None):
        self._make, self.wb, self.sink = make_fetcher, wb, sink
        self.feishu = feishu      # a jobs.feishu_images.FeishuUploads: Feishu images by image_key when it is ready
        self._fetcher: Any = None
        self._fitted: dict[tuple[str, str], bytes | ImageUnfit] = {}
        self._told: set[tuple] = set()

    @property
    def fetcher(self):
        if self._fetcher is None:
            self._fetcher = self._make()
        return self._fetcher

    def prepare(self, deliveries: list, by_id: dict, outcomes: dict[str, SendOutcome]) -> list:
        """The deliveries ready to dispatch; the ones whose image failed are `failed` in `outcomes` instead."""
        ready = []
        for delivery in deliveries:
            message, platform = delivery.message, delivery.target.platform
            if message.kind != "image":
                ready.append(delivery)
                continue
            p = by_id[delivery.send_id]
            if platform == "feishu" and self.feishu is not None and self.feishu.ready and not message.image_key:
                key = self._image_key(p, message.image_url or "", delivery.target.webhook)
                if key.startswith("image_key:"):
                    ready.append(replace(delivery, message=replace(message, image_key=key[len("image_key:"):])))
                else:
                    outcomes[delivery.send_id].reason = key
                continue
            if platform not in BYTES_CAP or message.image_bytes:
                ready.append(delivery)
                continue
            data = self._bytes(p, message.image_url or "", platform)
            if isinstance(data, str):
                outcomes[delivery.send_id].reason = data
                continue
            ready.append(replace(delivery, message=replace(message, image_bytes=data)))
        return ready

    def _image_key(self, p, url: str, webhook: str) -> str:
        """"image_key:<the key>" once uploaded by the workbook's Feishu app, or the SendLog reason why not."""
        from ..delivery.feishu_images import FeishuError
        from ..delivery.secrets import UnresolvedSecret
        image = self._fetched(p, url)
        if isinstance(image, str):
            return image
        try:
            return "image_key:" + self.feishu.key(image, webhook)
        except (FeishuError, UnresolvedSecret) as exc:
            reason, fix, fix_params = self.feishu.failure(exc, webhook)
            self._problem(p, url, "feishu_image_upload_failed", reason, fix, fix_params, app_id=self.feishu.app_id)
            return f"image not uploaded to Feishu: {reason}"

    def _fetched(self, p, url: str):
        """The fetched image (delivery.fetch.Image), or the SendLog reason why not (a Problem said it)."""
        try:
            return self.fetcher.fetch(url)
        except FetchError as exc:
            self._problem(p, url, "image_fetch_failed", exc.reason, "image_fix_" + exc.code.replace("-", "_"))
            return f"image not fetched: {exc.reason}"

    def _bytes(self, p, url: str, platform: str) -> bytes | str:
        """The image's bytes as `platform` takes them, or the SendLog reason why not (a Problem said it)."""
        image = self._fetched(p, url)
        if isinstance(image, str):
            return image
        key = (image.sha256, platform)
        if key not in self._fitted:
            try:
                self._fitted[key] = fit(image.data, BYTES_CAP[platform])
            except ImageUnfit as exc:
                self._fitted[key] = exc
        fitted = self._fitted[key]
        if isinstance(fitted, ImageUnfit):
            self._problem(p, url, "image_unfit", fitted.reason, "image_fix_unfit", platform=_platform_label(self.wb.tables["groups"], platform, self.wb.lang))
            return f"image not sent to {platform}: {fitted.reason}"
        return fitted

    def _problem(self, p, url: str, code: str, reason: str, fix: str, fix_params: dict | None = None, **params) -> None:
        if (code, p.rule.row, url) in self._told:
            return
        self._told.add((code, p.rule.row, url))
        table, lang = self.wb.tables["sop"], self.wb.lang
        self.sink.add(code, tab=table.title, row=p.rule.row, column=table.header_of("content", lang),
                      value=_shown(url), host=urlsplit(url).hostname or url[:40] or "—", reason=reason,
                      fix=i18n.message(fix, lang, **(fix_params or {})), **params)


def feishu_link_warnings(wb: Workbook, sink: ProblemSink) -> None:
    """Each tick, once per Feishu group an enabled image row goes to: without the app's credentials its robot
    cannot upload an image for an image_key, so the poster goes as a link in a post. Said at the Groups row."""
    from ..engine.audience import target_groups
    from .feishu_images import configured, setting_problems
    if configured(wb):
        return
    table, told = wb.tables["groups"], set()
    for rule in wb.sop:
        if not rule.enabled or rule.msg_type != "image":
            continue
        for group in target_groups(rule, wb.groups):
            if group.platform == "feishu" and group.group_id not in told:
                if not told:
                    setting_problems(wb, sink)
                told.add(group.group_id)
                sink.add("feishu_image_link", tab=table.title, row=group.row,
                         column=table.header_of("platform", wb.lang), value=group.platform, severity=WARNING,
                         group=group.group_id)


def _shown(url: str) -> str:
    """The address as a Problem shows it: never its query (it may carry a token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme and parts.netloc else url[:80]

