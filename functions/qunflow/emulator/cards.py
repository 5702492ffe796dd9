"""How the platforms check the parts of a card the emulator would otherwise wave through (#21): Slack's image
accessory and buttons, Discord's embed urls, Feishu's card elements, Telegram's link preview and inline keyboard.
Each function returns what the platform says (a reason), or None when the part is well formed. Written from
PLATFORMS.md and the platforms' own reference pages; nothing here comes from qunflow's senders."""
from __future__ import annotations

import re
from typing import Any

HTTP = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.I)
TG_URL = re.compile(r"^(https?://[^\s/?#]+[^\s]*|tg://\S+)$", re.I)
SLACK_BUTTON_TEXT, SLACK_URL, SLACK_ALT = 75, 3000, 2000
TG_BUTTON_ACTIONS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                     "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
                     "callback_game", "pay")


def _plain(obj: Any, limit: int) -> bool:
    return (isinstance(obj, dict) and obj.get("type") == "plain_text" and isinstance(obj.get("text"), str)
            and 0 < len(obj["text"]) <= limit)


def slack_element_problem(element: Any) -> str | None:
    """A section accessory or an actions element: an image (image_url + alt_text) or a button (plain_text text
    ≤ 75, url ≤ 3000)."""
    if not isinstance(element, dict):
        return "element"
    kind = element.get("type")
    if kind == "image":
        url, alt = element.get("image_url"), element.get("alt_text")
        if not (isinstance(url, str) and HTTP.match(url)) and not element.get("slack_file"):
            return "image_url"
        return None if isinstance(alt, str) and 0 < len(alt) <= SLACK_ALT else "alt_text"
    if kind == "button":
        if not _plain(element.get("text"), SLACK_BUTTON_TEXT):
            return "button text"
        url = element.get("url")
        if url is not None and not (isinstance(url, str) and HTTP.match(url) and len(url) <= SLACK_URL):
            return "button url"
        return None
    return None if isinstance(kind, str) and kind else "element type"


def slack_block_problem(block: dict) -> str | None:
    if block.get("type") == "section" and "accessory" in block:
        return slack_element_problem(block["accessory"])
    if block.get("type") == "actions":
        return next((p for p in map(slack_element_problem, block.get("elements") or []) if p), None)
    return None


def discord_embed_problem(embed: dict) -> tuple[str, str] | None:
    """(the field, Discord's code) for an embed url or image/thumbnail url that is not a well formed http(s)
    address (images may also be attachment://NAME)."""
    url = embed.get("url")
    if url is not None and not (isinstance(url, str) and HTTP.match(url)):
        return "url", "URL_TYPE_INVALID_URL"
    for key in ("image", "thumbnail"):
        part = embed.get(key)
        if part is None:
            continue
        value = part.get("url") if isinstance(part, dict) else None
        if not (isinstance(value, str) and (HTTP.match(value) or value.startswith("attachment://"))):
            return f"{key}.url", "URL_TYPE_INVALID_URL"
    return None


def feishu_card_problem(card: dict) -> str | None:
    """An interactive card's header and elements: an img needs an img_key (a card never shows a picture by URL),
    a button needs its text, and its url must be a web address."""
    header = card.get("header")
    if header is not None:
        title = header.get("title") if isinstance(header, dict) else None
        if not (isinstance(title, dict) and isinstance(title.get("content"), str) and title["content"].strip()):
            return "header.title.content is required"
    elements = card.get("elements")
    if elements is not None and not isinstance(elements, list):
        return "elements must be a list"
    for element in elements or []:
        if not isinstance(element, dict):
            return "every element must be an object"
        if element.get("tag") == "img":
            if not (isinstance(element.get("img_key"), str) and element["img_key"].strip()):
                return "img element needs img_key (upload the image first: a card cannot show an image url)"
        if element.get("tag") == "action":
            for action in element.get("actions") or []:
                text = action.get("text") if isinstance(action, dict) else None
                if not (isinstance(text, dict) and isinstance(text.get("content"), str) and text["content"].strip()):
                    return "button text.content is required"
                url = action.get("url")
                if url is not None and not (isinstance(url, str) and HTTP.match(url)):
                    return f"button url {url!r} is not a valid url"
    return None


def telegram_extras_problem(params: dict) -> str | None:
    """sendMessage's link_preview_options and reply_markup (an inline keyboard), as Telegram answers them."""
    preview = params.get("link_preview_options")
    if preview is not None:
        if not isinstance(preview, dict):
            return "Bad Request: can't parse link preview options JSON object"
        url = preview.get("url")
        if url is not None and not isinstance(url, str):
            return "Bad Request: can't parse link preview options JSON object"
        if preview.get("prefer_small_media") and preview.get("prefer_large_media"):
            return "Bad Request: can't use prefer_small_media and prefer_large_media together"
    markup = params.get("reply_markup")
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        return "Bad Request: can't parse reply keyboard markup JSON object"
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"].strip():
                return "Bad Request: can't parse inline keyboard button: Text must be non-empty"
            actions = [k for k in TG_BUTTON_ACTIONS if k in button]
            if len(actions) != 1:
                return ("Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline "
                        "keyboard")
            if actions == ["url"] and not (isinstance(button["url"], str) and TG_URL.match(button["url"])):
                return f"Bad Request: inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL"
    return None
