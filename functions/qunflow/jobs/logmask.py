"""The process-wide log mask every shell installs first: no key reaches a log whole, even urllib3's DEBUG lines."""
from __future__ import annotations

import logging

from ..delivery.masking import Masker, attach_masking


def masked_logging(handler: logging.Handler | None = None, level: int = logging.WARNING) -> Masker:
    """A Masker on every handler of the root logger. With `handler`, it is added (and the level set) when the
    root logger has none yet; without, a plain stderr format is configured (`logging.basicConfig`). Jobs add
    the secrets they resolve to the returned Masker."""
    root = logging.getLogger()
    if handler is not None:
        if not root.handlers:
            root.setLevel(level)
            root.addHandler(handler)
    else:
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    masker = Masker()
    attach_masking(masker)
    return masker
