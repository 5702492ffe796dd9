"""Messages about images named by URL in the SOP tab (#21): a poster that could not be fetched or made to fit, and
what Feishu needs for a native image. Part of `sheet.i18n.MESSAGES`.

The `reason_image_*` keys word each reason `delivery.fetch.FetchError` and `delivery.image_fit.ImageUnfit` give,
so `sheet.vocabulary.say_reason` says them in zh-CN (SendLog 说明 and the Problem's {reason}).
"""
from __future__ import annotations

IMAGE_MESSAGES: dict[str, dict[str, str]] = {
    "image_fetch_failed": {
        "en": "The image for this row could not be fetched from {host}: {reason}. {fix} The send was not made "
              "(SendLog: failed).",
        "zh-CN": "这一行的图片无法从 {host} 获取：{reason}。{fix}这条消息没有发出（发送记录：失败）。",
    },
    "image_unfit": {
        "en": "The image for this row (from {host}) cannot be sent to {platform}: {reason}. {fix} The send was not "
              "made (SendLog: failed).",
        "zh-CN": "这一行的图片（来自 {host}）无法发到{platform}：{reason}。{fix}这条消息没有发出（发送记录：失败）。",
    },
    "feishu_image_link": {
        "en": "Feishu group {group} gets its images as a link in a rich-text post: a native Feishu image needs an "
              "image_key, which only a Feishu app can upload, not the group's custom robot webhook. To send the "
              "pictures themselves, write the app's App ID in Settings feishu_app_id and a reference to its App "
              "Secret (secret:NAME) in Settings feishu_app_secret (a self-built app of the same tenant, with the bot "
              "ability). Otherwise members open the link to see the picture; nothing else to do.",
        "zh-CN": "飞书群 {group} 的图片以富文本消息中的链接发出：飞书原生图片需要 image_key，只有飞书应用能上传图片得到它，"
                 "群的自定义机器人做不到。要直接发图片，请在设置 feishu_app_id 填写应用ID（App ID），在 feishu_app_secret "
                 "填写应用密钥（App Secret）的引用（secret:密钥名）；应用须是同一企业的自建应用并开启机器人能力。"
                 "否则群成员点开链接即可看到图片，无需处理。",
    },
    # what to do, by FetchError.code (and "unfit" for ImageUnfit)
    "image_fix_scheme": {"en": "Write the image address as https://… (the link of the picture itself).",
                         "zh-CN": "请把图片地址写成 https://…（图片本身的链接）。"},
    "image_fix_address": {"en": "Put the image on a public https address (an image host or CDN), not an internal "
                                "or private one.",
                          "zh-CN": "请把图片放到公网可访问的 https 地址（图床或 CDN），不要用内网或私有地址。"},
    "image_fix_dns": {"en": "Check the host name in the image address.", "zh-CN": "请检查图片地址中的域名。"},
    "image_fix_http": {"en": "Open the address in a browser: it should show the picture. Fix the link or upload the "
                             "image again.",
                       "zh-CN": "请在浏览器中打开这个地址，它应当直接显示图片；请改正链接或重新上传图片。"},
    "image_fix_redirects": {"en": "Give the image's final address instead of a link that redirects.",
                            "zh-CN": "请直接填写图片的最终地址，不要用会多次跳转的链接。"},
    "image_fix_too_large": {"en": "Make the image smaller than 10 MB.", "zh-CN": "请把图片压缩到 10 MB 以下。"},
    "image_fix_timeout": {"en": "Check that the image host is up and answers quickly.",
                          "zh-CN": "请确认图片所在的服务器可以访问且响应迅速。"},
    "image_fix_network": {"en": "Check that the image host is up and answers quickly.",
                          "zh-CN": "请确认图片所在的服务器可以访问且响应迅速。"},
    "image_fix_not_image": {"en": "The address must lead to a png, jpg, gif or webp file itself, not to a web page "
                                  "that shows it.",
                            "zh-CN": "地址必须直接指向 PNG、JPG、GIF 或 WEBP 图片文件，而不是展示图片的网页。"},
    "image_fix_unfit": {"en": "Save the poster as a jpg or png under 2 MB and link that file.",
                        "zh-CN": "请把海报另存为 2 MB 以下的 JPG 或 PNG，并填写它的链接。"},
    # reasons (SendLog 说明): the English is the pattern say_reason reads
    "reason_image_not_fetched": {"en": "image not fetched: {detail}", "zh-CN": "图片未获取：{detail}"},
    "reason_image_unfit": {"en": "image not sent to {platform}: {detail}", "zh-CN": "图片无法发到{platform}：{detail}"},
    "reason_image_scheme": {"en": "only https image addresses are fetched, not {what}: {url}",
                            "zh-CN": "只获取 https 图片地址，不获取 {what}：{url}"},
    "reason_image_no_host": {"en": "the image address has no host: write it as https://…",
                             "zh-CN": "图片地址没有域名：请写成 https://…"},
    "reason_image_userinfo": {"en": "the image address carries a user name or password: not fetched",
                              "zh-CN": "图片地址中带有用户名或密码：不予获取"},
    "reason_image_bad_url": {"en": "the image address is not a valid URL", "zh-CN": "图片地址不是有效的网址"},
    "reason_image_address": {"en": "{host} is a {why} address ({ip}): images are fetched only from public addresses",
                             "zh-CN": "{host} 是{why}地址（{ip}）：只从公网地址获取图片"},
    "reason_image_dns": {"en": "the host {host} of the image address does not resolve",
                         "zh-CN": "图片地址的域名 {host} 无法解析"},
    "reason_image_http": {"en": "{url} answered HTTP {status}", "zh-CN": "{url} 返回 HTTP {status}"},
    "reason_image_no_location": {"en": "{url} redirects without a Location", "zh-CN": "{url} 跳转时没有给出目标地址"},
    "reason_image_redirects": {"en": "{url} redirects more than {count} times", "zh-CN": "{url} 跳转超过 {count} 次"},
    "reason_image_not_image": {
        "en": "{url} is not a png, jpeg, gif or webp image (its first bytes say so, whatever its Content-Type)",
        "zh-CN": "{url} 不是 PNG、JPEG、GIF 或 WEBP 图片（按文件开头的字节判断，不看服务器声明的类型）"},
    "reason_image_too_large": {"en": "{url} is over the {amount} cap", "zh-CN": "{url} 超过了 {amount} 的上限"},
    "reason_image_too_large_declared": {"en": "{url} is {size} bytes, over the {amount} cap",
                                        "zh-CN": "{url} 有 {size} 字节，超过了 {amount} 的上限"},
    "reason_image_slow": {"en": "{url} took more than {seconds} s", "zh-CN": "{url} 用时超过 {seconds} 秒"},
    "reason_image_network": {"en": "could not fetch {url}: {error}", "zh-CN": "无法获取 {url}：{error}"},
    "reason_image_read": {"en": "reading {url} failed: {error}", "zh-CN": "读取 {url} 失败：{error}"},
    "reason_image_unreadable": {"en": "the image could not be read ({error})", "zh-CN": "无法读取这张图片（{error}）"},
    "reason_image_cannot_shrink": {"en": "the image could not be made smaller than {amount} (the last try was {size} bytes)",
                                   "zh-CN": "无法把图片压缩到 {amount} 以下（最后一次为 {size} 字节）"},
    "reason_image_pixels": {"en": "the image is {dims} pixels, more than {count} million: make it smaller",
                            "zh-CN": "图片有 {dims} 像素，超过 {count} 百万：请缩小"},
    "reason_label_md5": {"en": "the image's md5 does not match its bytes", "zh-CN": "图片的 MD5 与图片内容不符"},
    # the kinds of address delivery.fetch.blocked names (inside reason_image_address)
    "reason_image_why_loopback": {"en": "loopback", "zh-CN": "本机回环"},
    "reason_image_why_metadata": {"en": "link-local (the metadata server lives there)",
                                  "zh-CN": "链路本地（云上的元数据服务器就在这里）"},
    "reason_image_why_link_local": {"en": "link-local", "zh-CN": "链路本地"},
    "reason_image_why_unspecified": {"en": "unspecified", "zh-CN": "未指定"},
    "reason_image_why_shared": {"en": "shared (100.64.0.0/10)", "zh-CN": "运营商共享（100.64.0.0/10）"},
    "reason_image_why_private": {"en": "private", "zh-CN": "内网"},
    "reason_image_why_not_public": {"en": "not public", "zh-CN": "非公网"},
}
