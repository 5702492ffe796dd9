"""Operator-facing words for cards and for what no robot can send (#21): the Cards tab's Problems, `card:NAME`,
each platform's card limits, and the msg_type values qunflow recognises but cannot send. Merged into
qunflow.sheet.i18n.MESSAGES; the same shape: {"key": {"en": ..., "zh-CN": ...}}."""

CARD_MESSAGES: dict[str, dict[str, str]] = {
    "card_bad_url": {
        "en": "'{value}' is not a web address. Write an address starting with https:// (or http://), e.g. {example}. Until then card {card} is not sent.",
        "zh-CN": "「{value}」不是网址。请写以 https://（或 http://）开头的网址，例如：{example}。在此之前卡片 {card} 不会发送。",
    },
    "unknown_card": {
        "en": "There is no card named '{value}' in the {cards_tab} tab (cards there: {known}). Add a row with that name there, or write one of those names after card:.",
        "zh-CN": "「{cards_tab}」表中没有名为「{value}」的卡片（现有卡片：{known}）。请在那里添加这一行，或在 card: 后写现有的卡片名称。",
    },
    "card_unusable": {
        "en": "Card '{value}' has a problem in its own row ({cards_tab} tab, row {card_row}): this rule is not sent until that row is fixed.",
        "zh-CN": "卡片「{value}」所在的行有问题（「{cards_tab}」表第 {card_row} 行）：改好那一行之前，这条规则不会发送。",
    },
    "news_separators": {
        "en": "This card is written in one cell with | between title, description, url and picture: a title that contains | breaks it. Put the card in the {cards_tab} tab (one column each) and write card:NAME here.",
        "zh-CN": "这张图文卡片写在一个单元格里，用 | 分隔标题、描述、链接和图片：标题里一旦有 | 就会错位。请把卡片写进「{cards_tab}」表（每项一列），这里改写 card:卡片名称。",
    },
    "card_too_long": {
        "en": "The card's {part} is {size} {unit}; {platform} shows at most {limit} {unit} (rule {rule} sends it to group {group}): there it is cut, or refused. Shorten it to {limit} {unit}.",
        "zh-CN": "卡片的{part}有 {size} {unit}；{platform}最多显示 {limit} {unit}（规则 {rule} 把它发往群 {group}）：发到那里会被截断或拒收。请缩短到 {limit} {unit}以内。",
    },
    "card_refused": {
        "en": "{platform} cannot take this card (rule {rule}, group {group}): {reason}. Fix the card's row in the {cards_tab} tab.",
        "zh-CN": "{platform}无法接收这张卡片（规则 {rule}，群 {group}）：{reason}。请修改「{cards_tab}」表中这张卡片的行。",
    },
    # msg_type values qunflow recognises and no robot can send (sheet/impossible.py)
    "impossible_red_packet": {
        "en": "No robot can send a red packet (红包): group robots on WeCom, DingTalk, Feishu, Slack, Discord and Telegram post messages, never money, and a WeCom customer-group task cannot carry one either. Instead: give each member a coupon code (the coupon column and {{{{ coupon }}}} in the text), or run a lottery (qunflow lottery); a person can still send the red packet by hand.",
        "zh-CN": "机器人无法发红包：企业微信、钉钉、飞书、Slack、Discord、Telegram 的群机器人只能发消息，不能发钱，企业微信客户群的群发任务也不能带红包。可以改为：给每位成员发一张优惠券（“优惠券”列，文案里写 {{{{ coupon }}}}），或做一次抽奖（`qunflow lottery`）；红包仍可由人手动发。",
    },
    "impossible_miniprogram": {
        "en": "A mini-program card (小程序) cannot be sent to {groups}: only a WeCom customer-group task can carry one, and qunflow does not build that attachment. Instead: send a card (card:NAME, a row of the {cards_tab} tab) whose link opens the mini-program's page, e.g. its URL Link (https://wxaurl.cn/…).",
        "zh-CN": "小程序卡片无法发到 {groups}：只有企业微信客户群的群发任务能带小程序，而 qunflow 不生成这种附件。可以改为：发一张卡片（card:卡片名称，「{cards_tab}」表中的一行），链接填小程序页面的网址，例如它的小程序链接（`URL Link`，https://wxaurl.cn/…）。",
    },
    "impossible_media": {
        "en": "A {kind} message cannot be sent to {groups}: qunflow posts text, markdown, images and cards, and a robot posting from a sheet has no {kind} to attach (those that take one need it uploaded to the platform first). Instead: put the {kind} where members can open it (your site or a cloud drive) and send a card (card:NAME, a row of the {cards_tab} tab) linking to it, with a picture.",
        "zh-CN": "{kind}消息无法发到 {groups}：qunflow 发送文本、markdown、图片和卡片，从表格发消息的机器人没有{kind}可附（能收{kind}的平台也要先把它上传到平台）。可以改为：把{kind}放到成员能打开的地方（你的网站或网盘），再发一张链接到它的卡片（card:卡片名称，「{cards_tab}」表中的一行），配上图片。",
    },
}

CARD_WORDS = {  # the words card_too_long names, per language
    "en": {"title": "title", "description": "description", "button_text": "button text", "bytes": "bytes",
           "chars": "characters", "voice": "voice", "video": "video", "file": "file"},
    "zh-CN": {"title": "标题", "description": "描述", "button_text": "按钮文字", "bytes": "字节",
              "chars": "个字符", "voice": "语音", "video": "视频", "file": "文件"},
}
