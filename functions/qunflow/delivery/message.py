"""The platform-neutral message and where it goes. Plain frozen values; the platform modules turn them into HTTP."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

KINDS = ("text", "markdown", "image", "news")
PLATFORM_NAMES = ("wecom", "dingtalk", "feishu", "slack", "discord", "telegram")


@dataclass(frozen=True)
class Mentions:
    """Who to notify. `names` (optional) are display names aligned with `user_ids`."""
    all: bool = False
    user_ids: tuple[str, ...] = ()
    mobiles: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    def __post_init__(self):
        for name in ("user_ids", "mobiles", "names"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"Mentions.{name} must be a sequence of strings, not one string")
            object.__setattr__(self, name, tuple(str(v).strip() for v in value if v is not None and str(v).strip()))
        if self.names and len(self.names) != len(self.user_ids):
            raise ValueError("Mentions.names must be empty or aligned with user_ids (one name per user id)")

    def __bool__(self) -> bool:
        return bool(self.all or self.user_ids or self.mobiles)

    def users(self) -> list[tuple[str, str]]:
        """(user_id, display name) pairs; the name is "" when unknown."""
        return [(uid, self.names[i] if self.names else "") for i, uid in enumerate(self.user_ids)]


NO_MENTIONS = Mentions()

# Where a template's {{ mentions }} stood. Each platform writes its own mention markup at the first slot (later
# slots vanish), or nothing where the platform shows mentions by itself (WeCom text's mentioned_list); a text
# without a slot gets the markup in front. So a member is named once, whatever the template says.
MENTION_SLOT = "\ue000"
_BARE_SLOT = re.compile("(?<= )\ue000 |\ue000 ?")


def place_mentions(text: str, prefix: str) -> str:
    """`text` with the platform's mention markup placed. `prefix` is the markup as a prefix (its separator at the
    end, e.g. "<@U1> "); "" when there is nobody to mention natively or the platform adds mentions itself."""
    if MENTION_SLOT not in text:
        return prefix + text
    if not prefix.strip():
        return _BARE_SLOT.sub("", text)
    head, _, tail = text.partition(MENTION_SLOT)
    return head + prefix.rstrip() + _BARE_SLOT.sub("", tail)


def readable(text: str, mentions: "Mentions") -> str:
    """The text as a log line: the mention slot as plain @names (SendLog previews, the preview calendar)."""
    if MENTION_SLOT not in text:
        return text
    names = (["@所有人"] if mentions.all else []) + [f"@{name or uid}" for uid, name in mentions.users()]
    names += [f"@{mobile}" for mobile in mentions.mobiles]
    return place_mentions(text, " ".join(names) + " " if names else "")


@dataclass(frozen=True)
class NewsCard:
    title: str
    description: str = ""
    url: str = ""
    picture_url: str = ""
    button_text: str = ""               # a button opening `url`, where the platform has buttons
    image_key: str = ""                 # Feishu: the picture uploaded through the group's app (else no img element)


@dataclass(frozen=True)
class Message:
    kind: str = "text"
    text: str = ""                      # the body of text and markdown messages; a caption otherwise
    title: str = ""                     # DingTalk markdown title, card headers, fallbacks
    image_bytes: bytes | None = None
    image_url: str | None = None
    image_key: str = ""                 # Feishu: the image uploaded through the workbook's app (jobs/feishu_images.py)
    card: NewsCard | None = None
    mentions: Mentions = field(default_factory=Mentions)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Message.kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.kind == "news" and self.card is None:
            raise ValueError("a news message needs a card (NewsCard)")
        if self.mentions is None:
            object.__setattr__(self, "mentions", NO_MENTIONS)
        object.__setattr__(self, "text", self.text or "")
        object.__setattr__(self, "title", self.title or "")

    def __repr__(self) -> str:
        image = f", image_bytes=<{len(self.image_bytes)} bytes>" if self.image_bytes else ""
        key = f", image_key={self.image_key!r}" if self.image_key else ""
        return (f"Message(kind={self.kind!r}, text={self.text[:40]!r}, title={self.title!r}{image}, "
                f"image_url={self.image_url!r}{key}, card={self.card!r}, mentions={self.mentions!r})")


@dataclass(frozen=True)
class Target:
    """A group's webhook, resolved. The webhook and the secret are credentials: repr() masks them.

    Telegram: webhook = https://api.telegram.org/bot<TOKEN>/sendMessage?chat_id=<ID>.
    """
    platform: str
    group_id: str
    webhook: str
    secret: str | None = None

    def __post_init__(self):
        if self.platform not in PLATFORM_NAMES:
            raise ValueError(f"Target.platform must be one of {', '.join(PLATFORM_NAMES)}, not {self.platform!r}")

    def __repr__(self) -> str:
        from .masking import mask_secret, mask_url
        secret = f", secret={mask_secret(self.secret)!r}" if self.secret else ""
        return (f"Target(platform={self.platform!r}, group_id={self.group_id!r}, "
                f"webhook={mask_url(self.webhook)!r}{secret})")

    __str__ = __repr__
