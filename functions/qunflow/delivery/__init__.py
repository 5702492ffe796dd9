"""Delivery: platform-neutral messages, one module per chat platform, reply classification, and the dispatcher.

    from qunflow.delivery import Delivery, Dispatcher, Message, Target
    report = Dispatcher(requests.Session(), time.time, time.sleep, random.Random()).dispatch(
        [Delivery("s1", Target("wecom", "g1", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=..."),
                  Message("text", "你好"))])
"""
from __future__ import annotations

from .dispatcher import Delivery, DeliveryResult, DispatchReport, Dispatcher
from .masking import Masker, MaskingFilter, attach_masking, mask_secret, mask_url
from .message import Mentions, Message, NewsCard, Target
from .platforms import PLATFORMS, HttpRequest, MessageRejected, Outcome, OutcomeKind

__all__ = ["Delivery", "DeliveryResult", "DispatchReport", "Dispatcher", "Masker", "MaskingFilter", "attach_masking",
           "mask_secret", "mask_url", "Mentions", "Message", "NewsCard", "Target", "PLATFORMS", "HttpRequest",
           "MessageRejected", "Outcome", "OutcomeKind"]
