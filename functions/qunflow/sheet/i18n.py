"""Plain-language messages for operators, in zh-CN and en.

Each problem code maps to one sentence that says what is wrong and what to
write instead. Parameters: value, column, example, plus code-specific ones.
"""
from __future__ import annotations

from typing import Any

from .i18n_calendar import CALENDAR
from .i18n_feishu import FEISHU_MESSAGES
from .i18n_images import IMAGE_MESSAGES
from .i18n_members import MEMBER_MESSAGES
from .i18n_reasons import REASONS
from .i18n_wecom import WECOM_MESSAGES
from .i18n_cards import CARD_MESSAGES     # cards and what no robot can send (#21)

MESSAGES: dict[str, dict[str, str]] = {
    "required": {
        "en": "{column} is empty but required. Write a value like {example}.",
        "zh-CN": "「{column}」不能为空，请填写，例如：{example}",
    },
    "lost_digits": {
        "en": "'{value}' has lost digits (the cell was formatted as a number). Format the column as plain text and type the full value again, e.g. {example}.",
        "zh-CN": "「{value}」已丢失数字（单元格被当成了数字）。请把这一列设为“纯文本”格式后重新输入完整内容，例如：{example}",
    },
    "bad_id": {"en": "'{value}' is not a valid id. Write text like {example}.", "zh-CN": "「{value}」不是有效的编号，请写成类似 {example} 的文字。"},
    "bad_phone": {
        "en": "'{value}' is not a phone number. Write digits only, optionally starting with +, e.g. {example}.",
        "zh-CN": "「{value}」不是手机号。请只写数字（可以以 + 开头），例如：{example}",
    },
    "bad_int": {"en": "'{value}' is not a whole number. Write a number like {example}.", "zh-CN": "「{value}」不是整数，请写成类似 {example} 的数字。"},
    "bad_decimal": {"en": "'{value}' is not a number. Write an amount like {example}.", "zh-CN": "「{value}」不是数字，请写成类似 {example} 的金额。"},
    "bad_bool": {"en": "'{value}' is not yes or no. Write yes or no (是 / 否).", "zh-CN": "「{value}」不是“是”或“否”，请填写 是 或 否。"},
    "bad_date": {"en": "'{value}' is not a date. Write a date like {example}.", "zh-CN": "「{value}」不是日期，请写成类似 {example} 的日期。"},
    "impossible_date": {
        "en": "'{value}' is a date that does not exist (check the day of the month). Write a real date like {example}.",
        "zh-CN": "「{value}」这个日期不存在（请检查当月天数），请写一个真实的日期，例如：{example}",
    },
    "bad_datetime": {"en": "'{value}' is not a date and time. Write it like {example}.", "zh-CN": "「{value}」不是日期时间，请写成类似 {example} 的格式。"},
    "bad_time": {"en": "'{value}' is not a time of day. Write it like 20:00, 8pm or 20点.", "zh-CN": "「{value}」不是有效的时间，请写成 20:00、8pm 或 20点。"},
    "bad_enum": {"en": "'{value}' is not one of: {allowed}. Pick one of those, e.g. {example}.", "zh-CN": "「{value}」不在可选项中：{allowed}。请选择其中之一，例如：{example}"},
    "bad_duration": {"en": "'{value}' is not a duration. Write it like 30m, 2h or 1d.", "zh-CN": "「{value}」不是时长，请写成 30分钟、2小时 或 1天。"},
    "bad_timezone": {"en": "'{value}' is not a time zone. Write a name like Asia/Shanghai.", "zh-CN": "「{value}」不是时区，请写成类似 Asia/Shanghai 的时区名。"},
    "bad_time_range": {"en": "'{value}' is not a time range. Write it like 22:00-08:00.", "zh-CN": "「{value}」不是时间段，请写成类似 22:00-08:00 的格式。"},
    "unstorable_text": {
        "en": "'{value}' holds characters no workbook can keep ({chars}: an invisible control character, as text pasted from Word brings, or half an emoji); qunflow reads each as �. Type the text again without them.",
        "zh-CN": "「{value}」含有工作簿无法保存的字符（{chars}：从 Word 粘贴带来的不可见控制字符，或被截断的半个表情符号），qunflow 把它们读作 �。请去掉这些字符后重新输入。",
    },
    "time_out_of_range": {
        "en": "'{value}' is not between the years {first} and {last}. Write a real time like {example}.",
        "zh-CN": "「{value}」不在 {first} 年到 {last} 年之间，请写一个真实的时间，例如：{example}",
    },
    "bad_template": {
        "en": "The message template cannot be used: {detail}. Variables go in {{{{ }}}}, e.g. {example}.",
        "zh-CN": "消息模板有误：{detail}。变量要写在 {{{{ }}}} 中，例如：{example}",
    },
    "unsafe_template": {
        "en": "The template uses something that is not allowed ({detail}). Use only the listed variables, e.g. {example}.",
        "zh-CN": "模板使用了不允许的内容（{detail}）。只能使用列出的变量，例如：{example}",
    },
    # --- a template over its render budget (qunflow.sop.render_budget) ---
    "template_loops": {
        "en": "The template's loops would run more than {limit} times in all (nested loops multiply). Loop over fewer items, e.g. {example}.",
        "zh-CN": "模板中的循环总共会超过 {limit} 次（嵌套的循环次数相乘）。请减少循环次数，例如：{example}",
    },
    "template_too_long": {
        "en": "The message, or its template, would be longer than {limit} characters. Shorten the template, e.g. {example}.",
        "zh-CN": "消息或模板会超过 {limit} 个字符。请缩短模板，例如：{example}",
    },
    "template_big_value": {
        "en": "The template builds a text or list longer than {limit} characters, or a number longer than {digits} digits (center, indent, replace, join, format, wordwrap, truncate, ~, + and * all count). Build less, e.g. {example}.",
        "zh-CN": "模板生成的文字或列表超过 {limit} 个字符，或数字超过 {digits} 位（center、indent、replace、join、format、wordwrap、truncate、~、+、* 都算在内）。请减少生成的内容，例如：{example}",
    },
    "template_too_much_work": {
        "en": "The template does too much work for one message (loops or macros that repeat, nest or call themselves too often). Simplify it, e.g. {example}.",
        "zh-CN": "模板运算量过大（循环或宏重复、嵌套或调用自身太多）。请简化模板，例如：{example}",
    },
    "bad_schedule": {
        "en": "'{value}' is not a schedule qunflow understands. Write it like {example}.",
        "zh-CN": "无法识别发送时间「{value}」，请写成类似 {example} 的格式。",
    },
    "duplicate": {
        "en": "'{value}' is already used in row {first_row}. Each {column} must be unique; give this row another one.",
        "zh-CN": "「{value}」已在第 {first_row} 行使用过。「{column}」不能重复，请为这一行换一个。",
    },
    "unknown_ref": {
        "en": "'{value}' is not in the {target_tab} tab. Write an existing {target_column}, or add it there first.",
        "zh-CN": "「{value}」在「{target_tab}」表中不存在。请填写已有的「{target_column}」，或先在那张表里添加。",
    },
    "missing_tab": {"en": "The {tab} tab is missing. Run `qunflow init` to add it.", "zh-CN": "缺少「{tab}」表。请运行 qunflow init 补上。"},
    "missing_column": {
        "en": "The column {column} is missing. Add a header named {column} in row {header_row}.",
        "zh-CN": "缺少「{column}」列。请在第{header_row}行添加名为「{column}」的列标题。",
    },
    # --- tabs and headers qunflow cannot read as they are (qunflow.sheet.tables, qunflow.sheet.parse) ---
    "cell_left_empty": {
        "en": "Until it is fixed qunflow treats this cell as empty; the rest of the row is used.",
        "zh-CN": "改正之前，qunflow 把这个单元格当作空白，这一行的其他内容照常使用。",
    },
    "header_not_found": {
        "en": "qunflow cannot find the header row of the {tab} tab in its first {rows} rows, so it reads nothing from this tab and writes nothing to it. Put the column names in one row near the top, e.g. {headers}.",
        "zh-CN": "在「{tab}」表的前 {rows} 行中找不到列标题行，qunflow 不会读取这张表，也不会写入。请在表格顶部的一行写上列标题，例如：{headers}",
    },
    "empty_tab": {
        "en": "The {tab} tab is empty. Write its column names in row 1, e.g. {headers}.",
        "zh-CN": "「{tab}」表是空的。请在第1行写上列标题，例如：{headers}",
    },
    "renamed_tab": {
        "en": "There is no {expected} tab, but this tab has its headers, so qunflow uses {found} as the {expected} tab. If it was renamed by mistake, rename it back to {expected}.",
        "zh-CN": "没有找到「{expected}」表，但这张表有它的列标题，所以 qunflow 把「{found}」当作「{expected}」表使用。如果是误改了名称，请改回「{expected}」。",
    },
    "tab_probably_renamed": {
        "en": "There is no {expected} tab; {found} is probably it, but its headers ({matched}) are not enough to read it. Rename it back to {expected}, or give it the headers of the {expected} tab ({headers}). Until then qunflow reads nothing from it, writes nothing to it and does not add another {expected} tab.",
        "zh-CN": "没有找到「{expected}」表；「{found}」很可能就是它，但它的列标题（{matched}）不足以读取。请把它改回「{expected}」，或给它加上「{expected}」表的列标题（{headers}）。在此之前，qunflow 不读取也不写入这张表，也不会另建一张「{expected}」表。",
    },
    "merged_header": {
        "en": "The header cells {value} are merged: only the first keeps its text, so the other columns have no header (qunflow does not find: {missing}). Unmerge the cells and give each column its own header.",
        "zh-CN": "列标题单元格 {value} 被合并了：只有第一格保留文字，其余列失去了标题（qunflow 找不到：{missing}）。请取消合并，并为每一列写上各自的标题。",
    },
    "unnamed_column": {
        "en": "Column {column} has values but no header, and qunflow does not find: {missing}. If this column is one of them, write its header in row {header_row} (merged header cells lose their text: unmerge them first).",
        "zh-CN": "第 {column} 列有内容却没有列标题，而 qunflow 找不到：{missing}。如果这一列就是其中之一，请在第{header_row}行写上它的列标题（合并的标题单元格会丢失文字，请先取消合并）。",
    },
    "duplicate_header": {
        "en": "The header {column} appears twice (also in column {other}). Rename or delete one of them.",
        "zh-CN": "列标题「{column}」出现了两次（另一处在第 {other} 列）。请改名或删除其中一列。",
    },
    "unknown_setting": {
        "en": "'{value}' is not a setting qunflow knows; it is ignored. Known settings: {allowed}.",
        "zh-CN": "「{value}」不是 qunflow 认识的设置项，已忽略。可用的设置项：{allowed}",
    },
    "bad_group_target": {
        "en": "'{value}' is not a group. Write group ids from the Groups tab, kind:flash, or * for all groups.",
        "zh-CN": "「{value}」不是有效的群。请写社群表中的群ID、kind:快闪型，或 * 表示所有群。",
    },
    "bad_mention": {
        "en": "'{value}' is not a mention qunflow understands. Write none, all, new, tag:NAME, layer:core, not_checked_in, streak:7,21,30, expiring:3 or member ids.",
        "zh-CN": "无法识别「{value}」。请写 none、all、new、tag:标签、layer:core、not_checked_in、streak:7,21,30、expiring:3 或成员ID。",
    },
    "unknown_template": {
        "en": "There is no template named '{value}' in the Templates tab. Add it there, or fix the name.",
        "zh-CN": "话术表中没有名为「{value}」的话术。请先添加，或改正名称。",
    },
    "unknown_coupon_campaign": {
        "en": "No coupon in the Coupons tab belongs to campaign '{value}'. Add codes for it, or fix the name.",
        "zh-CN": "优惠券表中没有属于「{value}」活动的券。请先添加券码，或改正名称。",
    },
    "literal_webhook": {
        "en": "This webhook is written in full, so every editor of the sheet can read its key. Store it as a secret and write secret:NAME (or env:QUNFLOW_NAME) instead.",
        "zh-CN": "机器人地址写的是完整网址，表格的每位编辑者都能看到密钥。请把它存为密钥，改写成 secret:名称（或 env:QUNFLOW_变量名）。",
    },
    "bad_webhook": {
        "en": "'{value}' is not a webhook. Write env:QUNFLOW_NAME, secret:NAME or the full https:// address.",
        "zh-CN": "「{value}」不是有效的机器人地址。请写 env:QUNFLOW_变量名、secret:密钥名，或完整的 https:// 网址。",
    },
    "pool_empty": {
        "en": "The coupon pool '{value}' is empty: the message went out without a coupon. Add available codes for it in the Coupons tab.",
        "zh-CN": "券池「{value}」已经发完：这条消息发出时没有附带优惠券。请在优惠券表中为它补充可用券码。",
    },
    "dead_webhook": {
        "en": "The group's robot refused the message ({reason}); qunflow stopped posting to this group. Fix the webhook, then clear the group's status cell.",
        "zh-CN": "群机器人拒绝了消息（{reason}），qunflow 已停止向这个群发送。请修正机器人地址，然后清空该群的“状态”单元格。",
    },
    "platform_unavailable": {
        "en": "{platform} did not take this group's messages ({reason}); {count} message(s) wait and go out by themselves when it answers again, if that is within catch_up ({catch_up}). Nothing to fix unless this stays.",
        "zh-CN": "{platform} 暂时没有接收这个群的消息（{reason}）；{count} 条消息在等待，平台恢复后会自动补发（需在补发时限 {catch_up} 内）。若一直出现，请检查机器人或平台状态。",
    },
    "webhook_marked_dead": {
        "en": "qunflow stopped posting to this group because its robot refused messages ({value}). Fix the webhook, then clear this cell.",
        "zh-CN": "群机器人曾拒绝消息（{value}），qunflow 已暂停向此群发送。请修正机器人地址后清空此单元格。",
    },
    "unresolved_webhook": {
        "en": "The webhook reference {value} cannot be resolved: {where}.",
        "zh-CN": "无法读取机器人地址 {value}：{where}。",
    },
    "cap_reached": {
        "en": "Group {group} reached its daily cap of {cap} messages; rule {rule} was moved to {later}.",
        "zh-CN": "群 {group} 已达到每日 {cap} 条的上限；规则 {rule} 已顺延到 {later}。",
    },
    "blacklisted_joined": {
        "en": "Member {value} is on the blacklist and was seen joining group {group}. qunflow will not mention, welcome or reward them; remove them from the group if you agree.",
        "zh-CN": "黑名单成员 {value} 加入了群 {group}。qunflow 不会@、欢迎或给他发券；如确认，请把他移出该群。",
    },
    "unknown_coupon": {
        "en": "The coupon code {value} is not in the Coupons tab. Check the code, or add it there.",
        "zh-CN": "券码 {value} 不在优惠券表中。请核对券码，或先在优惠券表中添加。",
    },
    "coupon_redeemed_twice": {
        "en": "Coupon {value} was already redeemed (order {order}); this second redemption was not counted. Check both orders.",
        "zh-CN": "优惠券 {value} 已经核销过（订单 {order}），这次重复核销未计入。请核对两笔订单。",
    },
    "coupon_transferred": {
        "en": "Coupon {value} belongs to member {holder} but was redeemed by {user}: coupons are not transferable. Check this order.",
        "zh-CN": "优惠券 {value} 属于成员 {holder}，却被 {user} 核销：专属券不可转赠。请核查这笔订单。",
    },
    "no_campaign_start": {
        "en": "Rule {rule} counts campaign days, but group {group} has no campaign_start. Fill in the group's campaign start date, e.g. {example}.",
        "zh-CN": "规则 {rule} 按活动天数发送，但群 {group} 没有填写“活动开始日”。请填写，例如：{example}",
    },
    # --- t15a: late events, the collision guard, the daily cap and long texts (engine/guard.py, jobs/splits.py) ---
    "multi_post": {
        "en": "This text is too long for one {platform} message: group {group} will receive it as {posts} posts. Shorten it, or split it into rules due at the same time (they go out back to back).",
        "zh-CN": "这段文字超过{platform}单条消息的长度：群 {group} 会收到拆开的 {posts} 条。请缩短，或拆成同一时间的几条规则（会依次连续发出）。",
    },
    "cap_past_until": {
        "en": "Group {group} reached its daily cap of {cap} messages; rule {rule} was not sent: the next day is past its end date {until}.",
        "zh-CN": "群 {group} 已达到每日 {cap} 条的上限；规则 {rule} 未发送：顺延后已过结束日期 {until}。",
    },
    # --- tag rules (qunflow.sheet.tagrules): RuleError.text(lang); bad_rule is the Problem for the Tags tab ---
    "bad_rule": {
        "en": "The rule cannot be used: {detail} (character {position}). Write it like {example}.",
        "zh-CN": "规则无法使用：{detail}（第 {position} 个字符处）。可以写成：{example}",
    },
    "rule_empty": {"en": "The rule is empty.", "zh-CN": "规则是空的。"},
    "rule_too_long": {
        "en": "The rule is {length} characters long; keep it under {limit}.",
        "zh-CN": "规则有 {length} 个字符，请控制在 {limit} 个以内。",
    },
    "rule_too_deep": {
        "en": "Brackets and not are nested more than {limit} deep; simplify the rule.",
        "zh-CN": "括号或“非”嵌套超过 {limit} 层，请简化规则。",
    },
    "rule_bad_char": {"en": "'{char}' cannot be used in a rule.", "zh-CN": "规则中不能使用「{char}」。"},
    "rule_bad_number": {"en": "'{value}' is not a number.", "zh-CN": "「{value}」不是数字。"},
    "rule_unclosed": {
        "en": "A quoted text is not closed: add the closing quote.",
        "zh-CN": "引号没有闭合：请补上后引号。",
    },
    "rule_unknown_name": {
        "en": "'{name}' is not something a rule can look at{hint}. Use one of: {names}.",
        "zh-CN": "规则中不能使用「{name}」{hint}。可用的名称：{names}。",
    },
    "rule_incomplete": {
        "en": "The rule ends too early: a value, a closing bracket or a comparison is missing at the end.",
        "zh-CN": "规则不完整：结尾缺少一个值、右括号或比较。",
    },
    "rule_expected_end": {
        "en": "'{found}' is out of place: after a complete condition write and / or, or end the rule.",
        "zh-CN": "「{found}」的位置不对：一个完整的条件后面只能接 且 / 或，或者结束。",
    },
    "rule_expected_close": {
        "en": "A bracket is not closed: write ')' before '{found}'.",
        "zh-CN": "括号没有闭合：请在「{found}」前面写上 )。",
    },
    "rule_expected_value": {
        "en": "Expected a name, a number or a quoted text, found '{found}'.",
        "zh-CN": "这里应该是名称、数字或带引号的文字，而不是「{found}」。",
    },
    "rule_expected_item": {
        "en": "In a [ ] list, write numbers or quoted texts separated by commas, not '{found}'.",
        "zh-CN": "[ ] 列表中请写用逗号分隔的数字或带引号的文字，而不是「{found}」。",
    },
    "rule_not_condition": {
        "en": "'{found}' is not a yes/no condition: compare it with something.",
        "zh-CN": "「{found}」不是一个成立/不成立的条件：请把它和某个值比较。",
    },
    "rule_chained": {
        "en": "Compare one thing at a time: join two comparisons with and.",
        "zh-CN": "一次只能比较一个条件：请用 且 连接两个比较。",
    },
    "rule_types": {
        "en": "Cannot compare {left} with {right}: numbers compare with numbers, quoted text with text.",
        "zh-CN": "无法比较 {left} 和 {right}：数字只能和数字比较，文字只能和带引号的文字比较。",
    },
    "rule_text_order": {
        "en": "{op} only compares numbers; for text use == or !=.",
        "zh-CN": "{op} 只能比较数字；文字请用 == 或 !=。",
    },
    "rule_list_compare": {
        "en": "{name} is a list: ask whether it contains a value with in, e.g. \"VIP\" in {name}.",
        "zh-CN": "{name} 是一个列表：请用 in 判断是否包含某个值，例如 \"VIP\" in {name}。",
    },
    "rule_in_list": {
        "en": "in needs a list on its right (tags, or [\"a\", \"b\"]); {found} is not a list.",
        "zh-CN": "in 的右边必须是列表（tags 或 [\"a\", \"b\"]）；{found} 不是列表。",
    },
    "rule_bad_value": {
        "en": "'{value}' is not a {name}. Use one of: {allowed}.",
        "zh-CN": "「{value}」不是有效的 {name}。可选：{allowed}。",
    },
    # --- qunflow import (qunflow.jobs.importer): one bad row of the imported file ---
    "import_missing_columns": {
        "en": "The file has no column for {column}. Name a column {headers} (the first row holds the column names).",
        "zh-CN": "文件中没有「{column}」列。请把一列命名为 {headers}（第一行是列名）。",
    },
    "import_unknown_group": {
        "en": "'{value}' is not a group in the Groups tab (by group_id or name). Add the group there first, or fix the name.",
        "zh-CN": "「{value}」不在社群表中（按群ID或群名称查找）。请先在社群表中添加这个群，或改正名称。",
    },
    # --- lotteries (qunflow.members.lottery): the result posted to the group ---
    "lottery_result": {
        "en": "🎉 Lottery result{prize}: {mentions}\nDrawn from {count} eligible members.\nSeed: {seed}\nList hash (sha256): {hash}\nAnyone can check it: {verify}",
        "zh-CN": "🎉 抽奖结果{prize}：{mentions}\n共 {count} 位成员参与。\n随机种子：{seed}\n名单指纹（sha256）：{hash}\n复核方法：{verify}",
    },
    "lottery_prize": {"en": " ({prize})", "zh-CN": "（{prize}）"},
    # --- the CLI (qunflow.jobs.errors): failures the operator can fix, in the operator's language, exit code 2 ---
    "cli_bad_time": {
        "en": "--now '{value}' is not a moment qunflow can read. Write a date and time in ISO 8601, like 2026-12-01T20:00:00+08:00 or 2026-12-01 20:00 (without an offset it is read in the Settings time zone; end with Z for UTC).",
        "zh-CN": "--now「{value}」不是可识别的时间。请按 ISO 8601 写日期和时间，例如 2026-12-01T20:00:00+08:00 或 2026-12-01 20:00（不写时区按“设置”中的时区计算；以 Z 结尾表示 UTC）。",
    },
    "cli_sheets_quota": {
        "en": "Google Sheets refused more requests: the quota is used up (HTTP {status}), still after qunflow's retries. Wait a minute or two, then run the same command again.",
        "zh-CN": "Google 表格拒绝了更多请求：请求配额已用完（HTTP {status}），qunflow 重试后仍然如此。请等一两分钟，再运行同一条命令。",
    },
    "cli_service_unavailable": {
        "en": "{service} did not answer ({detail}), still after qunflow's retries. Check the network connection, then run the same command again in a few minutes.",
        "zh-CN": "{service} 没有响应（{detail}），qunflow 重试后仍然失败。请检查网络连接，几分钟后再运行同一条命令。",
    },
    "cli_missing_workbook": {
        "en": "{path} does not exist: create it with `qunflow init {path}`",
        "zh-CN": "找不到工作簿 {path}：请先用 `qunflow init {path}` 创建它。",
    },
    "cli_unreadable_file": {
        "en": "{path} cannot be read ({detail}). If it is a workbook, open it in Excel, WPS or LibreOffice and save it again as .xlsx, or restore a backup.",
        "zh-CN": "{path}无法读取（{detail}）。如果这是工作簿，请用 Excel、WPS 或 LibreOffice 打开后重新另存为 .xlsx，或恢复备份。",
    },
    "cli_file_denied": {
        "en": "qunflow may not read or write {path} (permission denied). Give your user access to it, or close the program that holds it.",
        "zh-CN": "qunflow 没有权限读写 {path}。请给当前用户授予访问权限，或关闭占用它的程序。",
    },
    "cli_not_a_file": {
        "en": "{path} is a folder, or lies inside something that is not a folder: give the path of the .xlsx file itself.",
        "zh-CN": "{path} 是文件夹（或所在路径不是文件夹）：请写出 .xlsx 文件本身的路径。",
    },
    "cli_the_file": {"en": "The file", "zh-CN": "该文件"},
    "cli_internal_error": {
        "en": "internal error ({kind}). Please report it; run again with QUNFLOW_DEBUG=1 to see the details.",
        "zh-CN": "内部错误（{kind}），这是 qunflow 自身的缺陷，请报告；设置 QUNFLOW_DEBUG=1 再运行一次可看到详情。",
    },
    # the calendar's promises (#15, #16): refusals, campaigns, audiences, coupons, check-ins (sheet/i18n_calendar.py)
    **CALENDAR,
    # memberships, coupons, referrals, lotteries (#16): sheet/i18n_members.py
    **MEMBER_MESSAGES,
    # cards and what no robot can send (#21): sheet/i18n_cards.py
    **CARD_MESSAGES,
    # WeCom customer groups: doctor and the welcome template (#20): sheet/i18n_wecom.py
    **WECOM_MESSAGES,
    # images named by URL in the SOP tab (#21): sheet/i18n_images.py
    **IMAGE_MESSAGES,
    **FEISHU_MESSAGES,
    # --- zh: #17 one language per workbook: statuses and reasons (sheet/i18n_reasons.py), the CLI's words ---
    **REASONS,
    # the CLI, in the operator's language (cli/*: the workbook's language, or --lang / $QUNFLOW_LANG)
    "cli_problems_found": {"en": "{errors} error(s), {warnings} warning(s)", "zh-CN": "{errors} 个错误，{warnings} 个警告"},
    "cli_tick_summary": {
        "en": "due {due} · sent {sent} · failed {failed} · skipped {skipped} · missed {missed} · unknown {unknown} · deferred {deferred} · retry {retry} · problems {problems}",
        "zh-CN": "到期 {due} · 已发送 {sent} · 失败 {failed} · 已跳过 {skipped} · 已错过 {missed} · 未知 {unknown} · 已顺延 {deferred} · 待重试 {retry} · 问题 {problems}",
    },
    "cli_dry_run": {"en": "dry run: nothing sent, nothing written", "zh-CN": "试运行：没有发送，也没有写入"},
    "cli_preview_summary": {"en": "{count} sends in the next {days} days", "zh-CN": "未来 {days} 天共 {count} 次发送"},
    "cli_preview_calendar": {"en": "; calendar in {path}", "zh-CN": "；日历见 {path}"},
    "cli_policy_due": {"en": "due", "zh-CN": "按时发送"},
    "cli_policy_quiet_skip": {"en": "quiet_skip", "zh-CN": "免打扰时跳过"},
    "cli_policy_quiet_shift": {"en": "quiet_shift", "zh-CN": "免打扰后顺延"},
    "cli_policy_dead_webhook": {"en": "dead_webhook", "zh-CN": "机器人失效，不发送"},
    "cli_policy_missed": {"en": "missed", "zh-CN": "已错过"},
    "cli_policy_deferred": {"en": "deferred", "zh-CN": "已顺延"},
    "cli_policy_template": {"en": "template", "zh-CN": "模板有误"},
    "cli_no_problems": {"en": "No problems found.", "zh-CN": "没有发现问题。"},
    "cli_problems_title": {"en": "Problems", "zh-CN": "待处理问题"},
    "cli_lottery_dry_run": {"en": "(dry run: no coupons issued, nothing posted)", "zh-CN": "（试运行：没有发券，也没有发到群里）"},
    "cli_lottery_posted": {"en": "Posted to {group} ({name}).", "zh-CN": "已发到群 {group}（{name}）。"},
    "cli_note": {"en": "note: {note}", "zh-CN": "提示：{note}"},
    "demo_running": {"en": "Running the campaign on a virtual clock…", "zh-CN": "正在虚拟时钟上运行活动……"},
    "demo_title": {"en": "衣橱小馆 · {days}-day campaign · seed {seed}", "zh-CN": "衣橱小馆 · {days} 天活动 · 随机种子 {seed}"},
    "demo_heads": {"en": "group|platform|sent (by phase)|sent|failed|missed|deferred|skipped|coupons",
                   "zh-CN": "群|平台|按阶段发送|已发送|失败|已错过|已顺延|已跳过|发券"},
    "demo_totals": {
        "en": "{ticks} ticks · sent {sent} · failed {failed} · missed {missed} · unknown {unknown} · deferred {deferred} · skipped {skipped} · {seconds} s",
        "zh-CN": "运行 {ticks} 次 · 已发送 {sent} · 失败 {failed} · 已错过 {missed} · 未知 {unknown} · 已顺延 {deferred} · 已跳过 {skipped} · 用时 {seconds} 秒",
    },
    "demo_files": {"en": "workbook|transcript|preview|report", "zh-CN": "工作簿|群聊记录|日历预览|报告"},
    "demo_wecom_group": {
        "en": "{group}: sent {sent} · awaiting confirmation {awaiting} · not sent {not_sent} · quota {quota} · deferred {deferred} · skipped {skipped} · most in one week {week}",
        "zh-CN": "{group}：已发送 {sent} · 待群主确认 {awaiting} · 未发出 {not_sent} · 群发次数已用完 {quota} · 已顺延 {deferred} · 已跳过 {skipped} · 单周最多 {week} 条",
    },
    "demo_wecom_totals": {
        "en": "{ticks} ticks · owners: confirmed {confirm}, ignored {ignore}, confirmed late {late}, confirmed after the cancel {after} · reminders {reminders} · tasks cancelled {cancelled} · deferred by the quota {deferred} · SendLog states that differ from what the groups received: {mismatches} · {seconds} s",
        "zh-CN": "运行 {ticks} 次 · 群主：确认 {confirm}、忽略 {ignore}、迟确认 {late}、取消后才确认 {after} · 提醒 {reminders} 次 · 取消任务 {cancelled} 个 · 因群发次数顺延 {deferred} 次 · 发送记录与群实际收到不一致：{mismatches} 条 · 用时 {seconds} 秒",
    },
    "demo_wecom_file": {"en": "workbook   {path}", "zh-CN": "工作簿     {path}"},
}


def message(code: str, lang: str, **params: Any) -> str:
    table = MESSAGES.get(code)
    if table is None:
        return f"{code}: {params}"
    template = table.get(lang) or table["en"]
    safe = {k: ("" if v is None else v) for k, v in params.items()}
    try:
        return template.format(**safe)
    except (KeyError, IndexError):
        return template
