"""Messages about the calendar's promises, in zh-CN and en: refusals told apart (keyword, signature, clock),
campaigns as instances, CLI input, audiences and mentions, coupon display, check-ins, members in several groups,
referrals and lotteries. Part of `sheet.i18n.MESSAGES` (kept here to keep i18n.py readable)."""
from __future__ import annotations

CALENDAR: dict[str, dict[str, str]] = {
    # --- t15b: refusals, campaigns as instances, CLI input ---
    "duplicate_rule": {
        "en": "Rule {rule} posts the same text to group {group} at the same times as rule {first} (row {first_row}): the group would get it twice. Delete one of them, or change its schedule or text.",
        "zh-CN": "规则 {rule} 与第 {first_row} 行的规则 {first} 在同样的时间向群 {group} 发送同样的内容：群里会收到两遍。请删掉其中一条，或改它的发送时间或内容。",
    },
    "playbook_applied_twice": {
        "en": "Playbook {playbook} is already applied to {groups} (SOP rows {rules}): applying it again would post its messages twice. To run it once more as a second campaign, add --again and give its day 1 with --start.",
        "zh-CN": "剧本 {playbook} 已经应用到 {groups}（SOP 行 {rules}）：再应用一次会把它的消息发两遍。如要再开一场活动，请加上 --again，并用 --start 写明新活动的第1天。",
    },
    "playbook_again_needs_start": {
        "en": "Playbook {playbook} counts campaign days: with --again, give the new campaign's day 1 with --start (YYYY-MM-DD), or its rules would post on the same days as the first run.",
        "zh-CN": "剧本 {playbook} 按活动天数发送：使用 --again 时，请用 --start（YYYY-MM-DD）写明新活动的第1天，否则它会和第一次在同样的日子重复发送。",
    },
    "keyword_missing": {
        "en": "The robot of group {group} takes only messages that contain its security keyword {keyword}, and this text has none: the platform will refuse it. Add {keyword} to the text.",
        "zh-CN": "群 {group} 的机器人只接收含安全关键词「{keyword}」的消息，这段文案里没有，平台会拒收。请把「{keyword}」加进文案。",
    },
    "preview_keyword": {
        "en": "the robot requires the keyword {keyword}: this text lacks it and will be refused",
        "zh-CN": "机器人要求关键词「{keyword}」：这段文案没有，会被拒收",
    },
    "keyword_refused": {
        "en": "This robot requires the keyword {keyword}; add it to the text. Group {group} refused this message ({reason}); its other messages still go out.",
        "zh-CN": "这个机器人要求消息包含关键词「{keyword}」，请把它加进文案。群 {group} 拒收了这条消息（{reason}）；其他消息照常发送。",
    },
    "keyword_refused_unknown": {
        "en": "This robot requires its security keyword (set in the robot's settings); add it to the text. Group {group} refused this message ({reason}); its other messages still go out. Write the keyword in the Groups tab's keyword column and validate checks every rule for it.",
        "zh-CN": "这个机器人要求消息包含它的安全关键词（在机器人设置里），请把关键词加进文案。群 {group} 拒收了这条消息（{reason}）；其他消息照常发送。把关键词填进社群表的“安全关键词”列，validate 就会检查每条规则。",
    },
    "clock_skew": {
        "en": "{platform} refused the time on this group's signature: this computer's clock is off ({reason}). {count} message(s) wait and are tried again each run, within catch_up ({catch_up}). Set the clock right (turn on network time); the signing secret is fine.",
        "zh-CN": "{platform} 拒绝了这个群签名中的时间：本机时钟不准（{reason}）。{count} 条消息在等待，每次运行都会重试（需在补发时限 {catch_up} 内）。请校准本机时间（开启网络自动对时）；签名密钥本身没有问题。",
    },
    "cli_bad_days": {
        "en": "--days {value} is not a number of days qunflow can preview: write a whole number from 1 to {most}, e.g. --days 7.",
        "zh-CN": "--days {value} 不是可预览的天数：请写 1 到 {most} 之间的整数，例如 --days 7。",
    },
    # --- aud: audiences, mentions, coupon display, check-ins ---
    "nobody_to_mention": {
        "en": "nobody to mention: no member matches '{mention}' now",
        "zh-CN": "没有可@的成员：此刻没有成员符合「{mention}」",
    },
    "coupon_where": {
        "en": "it is in your member account, or ask us in a private message",
        "zh-CN": "已放入你的会员账户，也可私信客服领取",
    },
}
