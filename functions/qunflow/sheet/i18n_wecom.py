"""Operator-facing words for WeCom customer groups (#20): the quota and trusted-IP Problems, the doctor check and
`qunflow wecom welcome`, en and zh-CN. Merged into qunflow.sheet.i18n.MESSAGES; the same shape: {"key": {"en": ..., "zh-CN": ...}}."""

WECOM_MESSAGES: dict[str, dict[str, str]] = {
    # the group-send quota and the trusted IP (engine/quota.py, jobs/wecom_tick.py; moved here from i18n.py)
    "wecom_quota_month": {
        "en": "Customer group {group} has used its WeCom mass-message quota for this month (as many as the month has days); rule {rule} was moved to {later} (- : skipped, past its end date). No task was created.",
        "zh-CN": "客户群 {group} 本月的企业微信群发次数已用完（每月天数次）；规则 {rule} 已顺延到 {later}（- 表示已跳过：超过结束日期）。没有创建群发任务。",
    },
    "wecom_quota_week": {
        "en": "Customer group {group} has used its WeCom mass-message quota for this week (7); rule {rule} was moved to {later} (- : skipped, past its end date). No task was created.",
        "zh-CN": "客户群 {group} 本周的企业微信群发次数已用完（每周 7 次）；规则 {rule} 已顺延到 {later}（- 表示已跳过：超过结束日期）。没有创建群发任务。",
    },
    "wecom_quota_day": {
        "en": "Customer group {group} has used its WeCom mass-message quota for today (1); rule {rule} was moved to {later} (- : skipped, past its end date). No task was created.",
        "zh-CN": "客户群 {group} 今天的企业微信群发次数已用完（每天 1 次）；规则 {rule} 已顺延到 {later}（- 表示已跳过：超过结束日期）。没有创建群发任务。",
    },
    "wecom_coupon_link_missing": {
        "en": "Rule {rule} puts a member's coupon into a post to customer group {group}: in a customer group it is a link to your coupon page, never a code. Write the page's address in Settings coupon_link_base (qunflow adds member=<member id>); until then the rule is skipped there and no code is issued.",
        "zh-CN": "规则 {rule} 在发往客户群 {group} 的消息里用了成员的优惠券：客户群里它是指向领券页的链接，不会出现券码。请在设置 coupon_link_base（领券页地址）中填写领券页的网址（qunflow 会加上 `member=成员ID`）；在此之前这条规则在客户群中会被跳过，也不会发券。",
    },
    # the lottery (jobs/lottery_draw.py) cannot post to a customer group
    "wecom_lottery_no_post": {
        "en": "group {group} is a WeCom customer group (wecom-customer): qunflow cannot post the lottery result there (a post there is a group-send task its owner confirms, not a robot message). Draw without --post and post the result text in WeCom yourself.",
        "zh-CN": "群 {group} 是企业微信客户群：qunflow 不能把抽奖结果发到这个群（客户群的消息是需要群主确认的群发任务，不是机器人消息）。请不带 `--post` 抽奖，再在企业微信里手动发布结果。",
    },
    "wecom_untrusted_ip": {
        "en": "WeCom refused qunflow's calls for the customer groups: {reason}. Until then no group-send task is created or checked.",
        "zh-CN": "企业微信拒绝了 qunflow 对客户群的调用：{reason}。在此之前不会创建或查询群发任务。",
    },
    # qunflow doctor (jobs/wecom_doctor.py)
    "wecom_doctor_name": {"en": "WeCom customer groups", "zh-CN": "企业微信客户群"},
    "wecom_doctor_corp_ok": {"en": "corp id set", "zh-CN": "企业ID已设置"},
    "wecom_doctor_fix_corp": {
        "en": "write the corp id (企业ID, My Company → Company Info in the WeCom admin console) in Settings wecom_corp_id",
        "zh-CN": "在设置 wecom_corp_id 中填写企业ID（企业微信管理后台 → 我的企业 → 企业信息）",
    },
    "wecom_doctor_secret_ok": {"en": "app secret {reference} set", "zh-CN": "应用 Secret {reference} 已设置"},
    "wecom_doctor_fix_secret": {
        "en": "the app secret {reference} is not set: add the Secret of the self-built app listed under 客户联系 → 可调用接口的应用 (not the system 客户联系 secret)",
        "zh-CN": "应用 Secret {reference} 没有设置：请添加已加入“客户联系 → 可调用接口的应用”的自建应用的 Secret（不是系统自带的客户联系 Secret）",
    },
    "wecom_doctor_fix_no_secret": {
        "en": "groups {groups} have no webhook: for a wecom-customer group it is the app secret's reference (secret:NAME or env:QUNFLOW_NAME)",
        "zh-CN": "群 {groups} 没有填写机器人地址：企业微信客户群在这里填应用 Secret 的引用（secret:名称 或 env:QUNFLOW_名称）",
    },
    "wecom_doctor_callback_ok": {"en": "callback token and EncodingAESKey set", "zh-CN": "回调 Token 和 EncodingAESKey 已设置"},
    "wecom_doctor_fix_callback": {
        "en": "set {names} for the events function (/wecom): the Token and the 43-character EncodingAESKey of the app's 接收消息 settings",
        "zh-CN": "请为 events 函数（/wecom）设置 {names}：即应用“接收消息”设置中的 Token 和 43 位的 EncodingAESKey",
    },
    "wecom_doctor_fix_owner": {
        "en": "groups {groups} have no owner: write the group owner's WeCom userid",
        "zh-CN": "群 {groups} 没有填写群主：请填写群主的企业微信账号（userid）",
    },
    "wecom_doctor_fix_chat": {
        "en": "groups {groups} have no chat_id: write the customer group's chat id (doctor lists the owners' chats once WeCom answers)",
        "zh-CN": "群 {groups} 没有填写平台群ID：请填写客户群的 chat_id（企业微信可以连通后，doctor 会列出群主的群）",
    },
    "wecom_doctor_reach_ok": {"en": "WeCom answers from this IP", "zh-CN": "企业微信接口可从本机 IP 调用"},
    "wecom_doctor_reach_skipped": {
        "en": "WeCom not called (needs the corp id and a secret)",
        "zh-CN": "未调用企业微信接口（需要企业ID和 Secret）",
    },
    "wecom_doctor_fix_ip": {
        "en": "WeCom refused the call from IP {ip} (60020): add that IP to the app's trusted IPs (企业可信IP) in the WeCom admin console",
        "zh-CN": "企业微信拒绝了来自 IP {ip} 的调用（60020）：请在企业微信管理后台把这个 IP 加入应用的“企业可信IP”",
    },
    "wecom_doctor_fix_ip_unknown": {
        "en": "WeCom refused the call from this machine's IP (60020): add the IP the functions call from to the app's trusted IPs (企业可信IP)",
        "zh-CN": "企业微信拒绝了本机 IP 的调用（60020）：请把函数调用时使用的 IP 加入应用的“企业可信IP”",
    },
    "wecom_doctor_fix_bad_secret": {
        "en": "WeCom says the secret {reference} is wrong for this corp id (40001): copy the app's Secret again",
        "zh-CN": "企业微信认为 {reference} 与企业ID不匹配（40001）：请重新复制应用的 Secret",
    },
    "wecom_doctor_fix_api": {
        "en": "WeCom answered errcode {errcode} ({detail})",
        "zh-CN": "企业微信返回错误码 {errcode}（原文：{detail}）",
    },
    "wecom_doctor_fix_unknown_chat": {
        "en": "the owners' customer groups do not include {chats}: check the chat_id and the owner",
        "zh-CN": "群主的客户群里没有 {chats}：请核对平台群ID和群主",
    },
    # qunflow wecom welcome (jobs/wecom_welcome.py)
    "wecom_welcome_created": {
        "en": "Welcome template {template} created in WeCom (id kept by qunflow). The owner of each customer group now applies it: in WeCom, open the group → 群聊信息 → 入群欢迎语, and pick it.",
        "zh-CN": "已在企业微信创建入群欢迎语 {template}（qunflow 记下了它的 ID）。请各客户群的群主在企业微信中应用：打开群 → 群聊信息 → 入群欢迎语，选择它。",
    },
    "wecom_welcome_updated": {
        "en": "Welcome template {template} updated in WeCom. Groups whose owner already applied it use the new text; others: the owner applies it in WeCom (群聊信息 → 入群欢迎语).",
        "zh-CN": "已更新企业微信入群欢迎语 {template}。已应用它的群会使用新内容；其他群请群主在企业微信中应用（群聊信息 → 入群欢迎语）。",
    },
    "wecom_welcome_no_template": {
        "en": "There is no template named {template} in the Templates tab. Write one (its content, and a link or mini-program), then run this again.",
        "zh-CN": "话术表中没有名为 {template} 的模板。请先写好（内容，以及链接或小程序），再运行一次。",
    },
    "wecom_welcome_too_long": {
        "en": "The welcome text is {size} bytes; WeCom takes at most 3,000. Shorten template {template}.",
        "zh-CN": "欢迎语有 {size} 字节，企业微信最多 3000 字节。请缩短模板 {template}。",
    },
    "wecom_welcome_no_nickname": {
        "en": "note: the text has no %NICKNAME% (WeCom puts the newcomer's name there); {{ mentions }} is written as %NICKNAME%.",
        "zh-CN": "提示：内容中没有 %NICKNAME%（企业微信会在这里填新成员的昵称）；{{ mentions }} 会写成 %NICKNAME%。",
    },
    "wecom_welcome_coupon": {
        "en": "Template {template} holds a coupon code: a customer group's welcome is the same for everyone. Put a link that carries the member's id instead (the coupon reaches them there).",
        "zh-CN": "模板 {template} 含有券码：客户群的欢迎语对所有人都一样。请改放带成员编号的链接（专属券在链接里领取）。",
    },
    "wecom_welcome_refused": {
        "en": "WeCom refused the welcome template: errcode {errcode} ({detail}).",
        "zh-CN": "企业微信拒绝了这个入群欢迎语：错误码 {errcode}（原文：{detail}）。",
    },
    "wecom_welcome_no_app": {
        "en": "No wecom-customer group with an owner and an app secret (webhook) in Groups, or no Settings wecom_corp_id: run qunflow doctor.",
        "zh-CN": "社群表中没有填好群主和应用 Secret（机器人地址）的企业微信客户群，或设置中没有 wecom_corp_id：请运行 qunflow doctor。",
    },
}
