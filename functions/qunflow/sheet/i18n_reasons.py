"""Messages for what qunflow writes into cells about sends: SOP and Groups 状态, and reasons (SendLog 说明, the
`reason` of a Problem), in zh-CN and en. Part of `sheet.i18n.MESSAGES` (kept here to keep i18n.py readable).

`reason_*` keys: each way qunflow words a reason in English. `sheet.vocabulary.say_reason` reads the English as a
pattern (`{name}` matches any text; `count`, `code`, `status`… one word) and says it with the other language's
template. Where `{detail}` is someone else's words (a platform's errmsg, a Python exception), the zh-CN text
marks it as 原文 (the original text), which stays as the platform wrote it. A new English reason (a platform's code, a planner's policy) gets its key here or in i18n.py.
"""
from __future__ import annotations

REASONS: dict[str, dict[str, str]] = {
    # SOP 状态 and Groups 状态 (engine.outcomes), written in the workbook's language
    "sop_status_next": {"en": "next {at}", "zh-CN": "下次 {at}"},
    "sop_status_on_events": {"en": "on member events", "zh-CN": "随成员事件发送"},
    "sop_status_no_more": {"en": "no more sends", "zh-CN": "没有待发的了"},
    "sop_status_disabled": {"en": "disabled", "zh-CN": "已停用"},
    "sop_status_last": {"en": "{text} · last {status} {at}", "zh-CN": "{text} · 上次{status} {at}"},
    "group_status_dead": {"en": "dead since {at}: {reason}", "zh-CN": "自 {at} 起停发：{reason}"},
    # reason_*: each way qunflow words a reason in English (SendLog 说明, Problems); sheet.vocabulary.say_reason reads
    # the English as a pattern ({name} matches any text) and says it with the other language's template.
    "reason_ok": {"en": "ok", "zh-CN": "成功"},
    "reason_not_attempted": {"en": "not attempted", "zh-CN": "未尝试发送"},
    "reason_quiet_hours": {"en": "inside quiet hours", "zh-CN": "处于免打扰时段"},
    "reason_marked_dead": {"en": "webhook marked dead: {status}", "zh-CN": "机器人地址已被标记为失效：{status}"},
    "reason_missed": {"en": "due {at} UTC, more than {catch_up} ago", "zh-CN": "应在 {at}（UTC）发送，已超过补发时限 {catch_up}"},
    "reason_missed_after_retry": {
        "en": "still not delivered (the platform failed earlier runs) due {at} UTC, more than {catch_up} ago",
        "zh-CN": "仍未送达（平台在之前几次运行中都失败了），应在 {at}（UTC）发送，已超过补发时限 {catch_up}",
    },
    "reason_daily_cap": {"en": "daily cap {cap} reached; moved to {later}", "zh-CN": "已达每日上限 {cap} 条；顺延到 {later}"},
    "reason_deferred": {"en": "deferred by the daily cap", "zh-CN": "因每日上限顺延"},
    "reason_sent_again": {"en": "sent again after a failed run", "zh-CN": "上次运行失败后重新发送"},
    "reason_stale_claim": {
        "en": "the run stopped after claiming it; it may have been delivered",
        "zh-CN": "运行在领取这条消息后中断；它可能已经发出",
    },
    "reason_stopped_after_write_ahead": {
        "en": "the run stopped after the write-ahead; it may have been delivered",
        "zh-CN": "运行在预先记录之后中断；这条消息可能已经发出",
    },
    "reason_stopped_after_sending": {
        "en": "the run stopped after sending began; it may have been delivered",
        "zh-CN": "运行在开始发送后中断；这条消息可能已经发出",
    },
    "reason_not_set": {"en": "{reference} is not set", "zh-CN": "{reference} 没有设置"},
    "reason_template": {"en": "template:{detail}", "zh-CN": "模板有误（原文：{detail}）"},
    "reason_build": {"en": "could not build the request: {reason}", "zh-CN": "无法生成请求：{reason}"},
    "reason_not_claimed": {
        "en": "not sent: the run could not claim it (another run holds it, or it is already done)",
        "zh-CN": "未发送：本次运行没能领取它（另一次运行正在处理，或已经处理完）",
    },
    "reason_bad_url": {"en": "the webhook address is malformed ({detail})", "zh-CN": "机器人地址格式不对（原文：{detail}）"},
    "reason_no_connect": {"en": "could not connect ({detail})", "zh-CN": "无法连接（原文：{detail}）"},
    "reason_no_reply": {"en": "no reply after sending ({detail})", "zh-CN": "发出后没有收到回复（原文：{detail}）"},
    "reason_unreadable_reply": {"en": "the reply could not be read ({detail})", "zh-CN": "无法读取平台的回复（原文：{detail}）"},
    "reason_part": {
        "en": "part {part} of {parts}: {reason} ({done} part(s) already delivered)",
        "zh-CN": "第 {part}/{parts} 段：{reason}（已送达 {done} 段）",
    },
    "reason_target_disabled": {"en": "target disabled: {reason}", "zh-CN": "已停止向该群发送：{reason}"},
    "reason_gave_up": {"en": "gave up after {count} attempts: {reason}", "zh-CN": "尝试 {count} 次后放弃：{reason}"},
    "reason_gave_up_run": {
        "en": "gave up in this run after {why}: {reason}; the next run tries again",
        "zh-CN": "本次运行在{why}后放弃：{reason}；下次运行会再试",
    },
    "reason_pause": {"en": "the platform asks for a {seconds} s pause", "zh-CN": "平台要求暂停 {seconds} 秒"},
    "reason_attempts_in_row": {"en": "{count} failed attempt(s) in a row", "zh-CN": "连续失败 {count} 次"},
    "reason_webhook_gave_up": {
        "en": "not tried in this run: this webhook gave up after {why} ({reason}); the next run tries again",
        "zh-CN": "本次运行未尝试：这个机器人在{why}后放弃（{reason}）；下次运行会再试",
    },
    "reason_may_have_reached": {
        "en": "{reason}; it may have reached the group, so it is not sent again",
        "zh-CN": "{reason}；消息可能已经到达群里，所以不再重发",
    },
    "reason_no_verdict": {
        "en": "not tried in this run: the message before it got no verdict from this webhook ({reason}); the next run tries again",
        "zh-CN": "本次运行未尝试：它前面的消息没有得到这个机器人的答复（{reason}）；下次运行会再试",
    },
    "reason_deadline_partial": {
        "en": "the run's deadline came before the rest could be sent",
        "zh-CN": "剩余部分发送之前，本次运行已到时限",
    },
    "reason_deadline": {
        "en": "not tried in this run: the run's deadline came first; the next run tries again",
        "zh-CN": "本次运行未尝试：运行先到了时限；下次运行会再试",
    },
    "reason_deadline_after": {
        "en": "not tried in this run, after {count} failed attempt(s): the run's deadline came first; the next run tries again",
        "zh-CN": "本次运行在失败 {count} 次后未再尝试：运行先到了时限；下次运行会再试",
    },
    # a platform's reply (delivery.platforms): the platform's own message after the colon stays its own
    "reason_gateway_timeout": {"en": "HTTP 504: a gateway timed out waiting for the platform", "zh-CN": "HTTP 504：网关等待平台超时"},
    "reason_code_detail": {"en": "{label} (code {code}): {detail}", "zh-CN": "{label}（错误码 {code}，原文：{detail}）"},
    "reason_code": {"en": "{label} (code {code})", "zh-CN": "{label}（错误码 {code}）"},
    "reason_http_busy_code": {"en": "HTTP {status} (code {code}): the platform is busy", "zh-CN": "HTTP {status}（错误码 {code}）：平台繁忙"},
    "reason_http_busy": {"en": "HTTP {status}: the platform is busy", "zh-CN": "HTTP {status}：平台繁忙"},
    "reason_not_platform_json": {"en": "HTTP {status} with a reply that is not the platform's JSON", "zh-CN": "HTTP {status}，回复不是平台的 JSON"},
    "reason_webhook_gone": {"en": "HTTP {status}: the webhook address is wrong or gone", "zh-CN": "HTTP {status}：机器人地址错误或已失效"},
    "reason_no_platform_code": {"en": "HTTP {status} without a platform code", "zh-CN": "HTTP {status}，没有平台错误码"},
    "reason_unknown_code_detail": {
        "en": "unknown code {code} (HTTP {status}): {detail}; not retried",
        "zh-CN": "未知错误码 {code}（HTTP {status}，原文：{detail}）；不再重试",
    },
    "reason_unknown_code": {"en": "unknown code {code} (HTTP {status}); not retried", "zh-CN": "未知错误码 {code}（HTTP {status}）；不再重试"},
    "reason_clock_skew": {
        "en": "clock skew: DingTalk says the signature timestamp is invalid (code 310000): {detail}",
        "zh-CN": "时钟偏差：钉钉认为签名时间戳无效（错误码 310000，原文：{detail}）",
    },
    "reason_rate_limited_429": {"en": "rate limited (HTTP 429)", "zh-CN": "发送太频繁，被限流（HTTP 429）"},
    "reason_rate_limited_global": {"en": "global rate limited (HTTP 429)", "zh-CN": "全局限流（HTTP 429）"},
    "reason_platform_busy": {"en": "HTTP {status}: {platform} is busy", "zh-CN": "HTTP {status}：{platform} 繁忙"},
    "reason_discord_gone": {
        "en": "the webhook is deleted or its token is wrong (HTTP {status} {detail})",
        "zh-CN": "机器人已被删除或令牌错误（HTTP {status}，原文：{detail}）",
    },
    "reason_refused_http": {"en": "{platform} refused the message (HTTP 400 {detail})", "zh-CN": "{platform} 拒绝了这条消息（HTTP 400，原文：{detail}）"},
    "reason_unexpected_http": {"en": "unexpected reply (HTTP {status} {detail}); not retried", "zh-CN": "意外的回复（HTTP {status}，原文：{detail}）；不再重试"},
    "reason_rate_limited_word": {"en": "rate limited: {detail}", "zh-CN": "发送太频繁，被限流（原文：{detail}）"},
    "reason_slack_gone": {
        "en": "the webhook is revoked, archived or wrong (HTTP {status} {detail})",
        "zh-CN": "机器人地址已被撤销、归档或有误（HTTP {status}，原文：{detail}）",
    },
    "reason_not_json": {"en": "HTTP {status} with a reply that is not JSON", "zh-CN": "HTTP {status}，回复不是 JSON"},
    "reason_bot_url": {"en": "HTTP {status}: the bot URL is wrong", "zh-CN": "HTTP {status}：机器人网址有误"},
    "reason_no_json": {"en": "HTTP {status} without a JSON reply", "zh-CN": "HTTP {status}，没有 JSON 回复"},
    "reason_supergroup": {
        "en": "the group became a supergroup: change chat_id in its webhook to {detail}",
        "zh-CN": "该群已升级为超级群：请把机器人地址中的 chat_id 改为 {detail}",
    },
    "reason_rate_limited_tg": {"en": "rate limited (429): {detail}", "zh-CN": "发送太频繁，被限流（429，原文：{detail}）"},
    "reason_tg_busy": {"en": "Telegram is busy ({error}): {detail}", "zh-CN": "Telegram 繁忙（{error}，原文：{detail}）"},
    "reason_tg_cannot_post": {"en": "the bot cannot post to this chat ({error}): {detail}", "zh-CN": "机器人无法在这个群发言（{error}，原文：{detail}）"},
    "reason_tg_refused": {"en": "Telegram refused the message (400): {detail}", "zh-CN": "Telegram 拒绝了这条消息（400，原文：{detail}）"},
    "reason_tg_unexpected": {"en": "unexpected reply ({error}): {detail}; not retried", "zh-CN": "意外的回复（{error}，原文：{detail}）；不再重试"},
    # what a platform's code means (the CODES tables of wecom, dingtalk and feishu)
    "reason_label_rate_20": {"en": "rate limited: more than 20 messages a minute", "zh-CN": "发送太频繁：每分钟超过 20 条"},
    "reason_label_busy": {"en": "the platform is busy", "zh-CN": "平台繁忙"},
    "reason_label_concurrent": {"en": "too many concurrent requests", "zh-CN": "同时发送的请求太多"},
    "reason_label_field": {"en": "a message field is invalid", "zh-CN": "消息中有字段无效"},
    "reason_label_empty": {"en": "the content is empty", "zh-CN": "消息内容为空"},
    "reason_label_too_large": {"en": "the message is too large", "zh-CN": "消息太长"},
    "reason_label_type": {"en": "invalid message type", "zh-CN": "消息类型无效"},
    "reason_label_key": {"en": "the webhook key is invalid or the robot was removed", "zh-CN": "机器人地址的密钥无效，或机器人已被移除"},
    "reason_label_disabled": {"en": "the robot is disabled", "zh-CN": "机器人已被停用"},
    "reason_label_not_in_group": {"en": "the robot is not in the group", "zh-CN": "机器人不在群里"},
    "reason_label_throttled_10": {"en": "sending too fast: the robot is throttled for 10 minutes", "zh-CN": "发送太快：机器人被限流 10 分钟"},
    "reason_label_throttled": {"en": "sending too fast: the robot is throttled", "zh-CN": "发送太快：机器人被限流"},
    "reason_label_unsupported": {"en": "unsupported message type", "zh-CN": "不支持的消息类型"},
    "reason_label_moderation": {"en": "blocked by content moderation", "zh-CN": "被内容审核拦截"},
    "reason_label_token_invalid": {"en": "the access token is invalid", "zh-CN": "access_token 无效"},
    "reason_label_token_unknown": {"en": "the access token does not exist", "zh-CN": "access_token 不存在"},
    "reason_label_token_missing": {"en": "the access token is missing", "zh-CN": "缺少 access_token"},
    "reason_label_no_robot": {"en": "the robot does not exist", "zh-CN": "机器人不存在"},
    "reason_label_dissolved": {"en": "the group has been dissolved", "zh-CN": "群已解散"},
    "reason_label_security": {
        "en": "the robot's security settings refused the message (keyword, signature or IP allow-list)",
        "zh-CN": "机器人的安全设置拒绝了消息（关键词、加签或 IP 白名单）",
    },
    "reason_label_rate_100": {"en": "rate limited (100 a minute, 5 a second per bot)", "zh-CN": "发送太频繁（每个机器人每分钟 100 条、每秒 5 条）"},
    "reason_label_malformed": {"en": "bad request: the message is malformed", "zh-CN": "请求有误：消息格式不对"},
    "reason_label_webhook_token": {"en": "the webhook token is invalid", "zh-CN": "机器人地址的令牌无效"},
    "reason_label_signature": {"en": "the signature or its timestamp was refused", "zh-CN": "签名或其时间戳被拒绝"},
    "reason_label_ip": {"en": "the IP address is not allowed", "zh-CN": "IP 地址不在白名单中"},
    "reason_label_keyword": {"en": "the keyword check failed", "zh-CN": "关键词校验未通过"},
    # refusals told apart by what they mean (delivery.platforms: keyword, signature, clock; #15)
    "reason_label_security_short": {"en": "the robot's security settings refused the message", "zh-CN": "机器人的安全设置拒绝了消息"},
    "reason_label_keyword_text": {"en": "the robot's security keyword is not in the text", "zh-CN": "文案里没有机器人的安全关键词"},
    "reason_label_bot_keyword_text": {"en": "the bot's security keyword is not in the text", "zh-CN": "文案里没有机器人的安全关键词"},
    "reason_ding_clock": {
        "en": "clock skew: DingTalk says the signature timestamp is invalid, so this computer's clock is more than an hour off; set it right (NTP)",
        "zh-CN": "时钟不准：钉钉说签名的时间戳无效，本机时钟偏差超过一小时；请校准时间（开启网络对时）",
    },
    "reason_sign_not_match": {"en": "the signing secret is wrong (sign not match)", "zh-CN": "加签密钥不对（签名不匹配）"},
    "reason_ip_not_allowed": {"en": "this computer's IP address is not on the robot's allow-list", "zh-CN": "本机的 IP 地址不在机器人的 IP 白名单里"},
    "reason_clock_behind": {
        "en": "clock skew: this computer's clock is {minutes} minutes behind the platform's, which takes signatures only within an hour ({reason}); set the clock right (NTP)",
        "zh-CN": "时钟不准：本机时钟比平台慢 {minutes} 分钟，平台只接受一小时内的签名（{reason}）；请校准时间（开启网络对时）",
    },
    "reason_clock_ahead": {
        "en": "clock skew: this computer's clock is {minutes} minutes ahead of the platform's, which takes signatures only within an hour ({reason}); set the clock right (NTP)",
        "zh-CN": "时钟不准：本机时钟比平台快 {minutes} 分钟，平台只接受一小时内的签名（{reason}）；请校准时间（开启网络对时）",
    },
    "reason_wrong_secret": {"en": "the signing secret is wrong: {reason}", "zh-CN": "签名密钥不对：{reason}"},
    # a message a platform can never take as it is (delivery.platforms: MessageRejected)
    "reason_cannot_split": {"en": "the {what} cannot be split: not even one character fits in a part", "zh-CN": "{what}无法分段：一段连一个字符都放不下"},
    "reason_no_text": {"en": "the {kind} message has no text ({platform} rejects empty content)", "zh-CN": "{kind} 消息没有文字（{platform} 不接受空内容）"},
    "reason_image_url": {"en": "{platform} {why}: give the image as a URL (image_url)", "zh-CN": "{platform} {why}：请用网址（image_url）给出图片"},
    "reason_no_image": {"en": "the image message has no image (image_url or image_bytes)", "zh-CN": "图片消息没有图片（image_url 或 image_bytes）"},
    "reason_empty_card": {"en": "the news card has neither a title nor a url", "zh-CN": "图文卡片既没有标题也没有网址"},
    "reason_body_bytes": {"en": "the {platform} message body is {size} bytes, over {limit}", "zh-CN": "{platform} 消息体有 {size} 字节，超过上限 {limit}"},
    "reason_tg_chars": {"en": "the Telegram message is {size} characters, over {limit}", "zh-CN": "Telegram 消息有 {size} 个字符，超过上限 {limit}"},
    "reason_image_bytes": {
        "en": "the image is {size} bytes; WeCom accepts at most {limit} (2 MB): make it smaller",
        "zh-CN": "图片有 {size} 字节；企业微信最多接受 {limit}（2 MB）：请压缩图片",
    },
    "reason_image_kind": {"en": "WeCom accepts only JPG or PNG images", "zh-CN": "企业微信只接受 JPG 或 PNG 图片"},
    # `qunflow doctor`'s checks of the workbook itself (jobs.doctor), in the workbook's language; the checks of
    # the cloud (credentials, scheduler jobs) are the engineer's and stay English
    "doctor_tabs": {"en": "tabs and headers", "zh-CN": "表和列标题"},
    "doctor_tabs_ok": {"en": "{tabs} tabs, every required column found", "zh-CN": "{tabs} 张表，必需的列都在"},
    "doctor_rows_bad": {"en": "{detail}; {rows} row(s) have errors and will be skipped", "zh-CN": "{detail}；{rows} 行有错误，运行时会被跳过"},
    "doctor_fix_validate": {"en": "run `qunflow validate SOURCE` to list them", "zh-CN": "运行 `qunflow validate SOURCE` 列出这些行"},
    "doctor_fix_init": {
        "en": "run `qunflow init SOURCE` to add the missing tabs (existing ones are kept)",
        "zh-CN": "运行 `qunflow init SOURCE` 补上缺少的表（已有的表保持不变）",
    },
    "doctor_fix_headers": {
        "en": "write the missing headers in row 1 of their tab (docs/SCHEMA.md lists them)",
        "zh-CN": "在对应表的第1行写上缺少的列标题（docs/SCHEMA.md 列出了全部列）",
    },
    "doctor_fix_one_column": {"en": "keep one column per header", "zh-CN": "每个列标题只保留一列"},
    "doctor_row": {"en": " row {row}", "zh-CN": " 第 {row} 行"},
    "doctor_column": {"en": " column {column}", "zh-CN": "「{column}」列"},
    "doctor_webhooks": {"en": "webhooks", "zh-CN": "机器人地址"},
    "doctor_no_groups": {"en": "no groups in the Groups tab", "zh-CN": "社群表中没有群"},
    "doctor_fix_add_group": {"en": "add a row per chat group", "zh-CN": "每个群写一行"},
    "doctor_group": {"en": "group {group}", "zh-CN": "群 {group}"},
    "doctor_no_webhook": {"en": "no webhook", "zh-CN": "没有机器人地址"},
    "doctor_fix_webhook": {
        "en": "fill in the webhook column (env:QUNFLOW_NAME or secret:NAME)",
        "zh-CN": "填写“机器人地址”列（env:QUNFLOW_变量名 或 secret:密钥名）",
    },
    "doctor_not_set": {"en": "{key} {reference} is not set", "zh-CN": "{key} {reference} 没有设置"},
    "doctor_not_url": {"en": "webhook {reference} is set but is not a URL", "zh-CN": "机器人地址 {reference} 已设置，但不是网址"},
    "doctor_fix_url": {
        "en": "set {reference} to the robot's full webhook address (https://...)",
        "zh-CN": "把 {reference} 设为机器人的完整地址（https://...）",
    },
    "doctor_set": {"en": "{key} {reference} set{shown}", "zh-CN": "{key} {reference} 已设置{shown}"},
    "doctor_disabled": {"en": ", disabled", "zh-CN": "，已停用"},
    "doctor_zones": {"en": "time zones", "zh-CN": "时区"},
    "doctor_bad_zone": {"en": "{where}: '{value}' is not a time zone", "zh-CN": "{where}：「{value}」不是时区"},
    "doctor_fix_zone": {
        "en": "write an IANA name such as Asia/Shanghai (the row is skipped until then)",
        "zh-CN": "请写时区名，例如 Asia/Shanghai（改正之前这一行会被跳过）",
    },
    "doctor_typed": {"en": "(typed in the sheet)", "zh-CN": "（直接写在表格里）"},
    "doctor_fix": {"en": "fix: {fix}", "zh-CN": "解决：{fix}"},
    "doctor_failed": {"en": "{count} check(s) failed", "zh-CN": "{count} 项检查未通过"},
    "doctor_passed": {"en": "All checks passed.", "zh-CN": "全部检查通过。"},
    "reason_set_env": {"en": "set the environment variable {name}", "zh-CN": "请设置环境变量 {name}"},
    # WeCom's server API (delivery/wecom_token.py, delivery/wecom_customer.py)
    "reason_wecom_untrusted_ip": {
        "en": "WeCom refused the call from IP {ip} (60020): add that IP to the app's trusted IPs (企业可信IP) in the WeCom admin console",
        "zh-CN": "企业微信拒绝了来自 IP {ip} 的调用（60020）：请在企业微信管理后台把这个 IP 加入该应用的企业可信IP",
    },
    "reason_wecom_untrusted_unknown_ip": {
        "en": "WeCom refused the call from this machine's IP (60020): add the IP the functions call from to the app's trusted IPs (企业可信IP) in the WeCom admin console",
        "zh-CN": "企业微信拒绝了本机 IP 的调用（60020）：请在企业微信管理后台把函数发出调用所用的 IP 加入该应用的企业可信IP",
    },
    "reason_wecom_busy": {"en": "WeCom is busy (errcode {code}); a later run tries again", "zh-CN": "企业微信繁忙（错误码 {code}），之后的运行会再试"},
}
