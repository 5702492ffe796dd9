"""Operator-facing words for memberships, coupons, referrals and lotteries (#16), in en and zh-CN.
Merged into qunflow.sheet.i18n.MESSAGES; the same shape: {"key": {"en": ..., "zh-CN": ...}}."""

MEMBER_MESSAGES: dict[str, dict[str, str]] = {
    "unknown_chat": {
        "en": "A chat we do not know sent events: add its chat_id to Groups. {platform} chat {value} sent {count} events in the last weeks; they were not counted for any group. Write {value} in the {column} column of its group's row.",
        "zh-CN": "一个不认识的群发来了事件：请把它的群ID加到社群表。{platform} 群 {value} 最近发来 {count} 条事件，未计入任何群。请在对应群那一行的“{column}”列填写 {value}。",
    },
    "duplicate_membership": {
        "en": "'{value}' is already in row {first_row}: each {columns} pair is one row (a person in two groups has one row per group). Delete this row or change its group.",
        "zh-CN": "「{value}」已在第 {first_row} 行：每个{columns}组合只能有一行（同一人在两个群时，每个群各一行）。请删除这一行或改成别的群。",
    },
    "coupon_redeemed_expired": {
        "en": "Coupon {value} was redeemed by {user} after it expired: it was not counted as redeemed. Check the order, or extend the coupon's expires_at in the Coupons tab.",
        "zh-CN": "优惠券 {value} 已过期，却被 {user} 核销：未计为已核销。请核查这笔订单，或在优惠券表中延长“过期时间”。",
    },
    "coupon_redeemed_void": {
        "en": "Coupon {value} is void but was redeemed by {user}: it was not counted as redeemed. Check this order.",
        "zh-CN": "优惠券 {value} 已作废，却被 {user} 核销：未计为已核销。请核查这笔订单。",
    },
    "invite_no_invitee": {
        "en": "This invite by {inviter} names nobody, so it earns no referral. Write the invited member in the detail, e.g. member=M0042 (or user=…, mobile=…).",
        "zh-CN": "{inviter} 的这条邀请没有写被邀请人，不计入邀请奖励。请在“详情”中写明被邀请人，例如 member=M0042（或 user=…、mobile=…）。",
    },
    "invite_self": {
        "en": "{inviter} invited themself: a self-invite earns no referral.",
        "zh-CN": "{inviter} 邀请的是自己：自己邀请自己不计入邀请奖励。",
    },
    "invite_already_member": {
        "en": "{invitee}, invited by {inviter}, was already in the shop (joined before this invite, or credited to another inviter): this invite earns no referral.",
        "zh-CN": "{inviter} 邀请的 {invitee} 早已在店铺的群里（在这次邀请之前入群，或已算作别人的邀请）：这条邀请不计入邀请奖励。",
    },
    "lottery_result_posted": {
        "en": "🎉 Lottery result{prize}: {mentions}\nDrawn from {count} eligible members.\nSeed: {seed}\nList hash (sha256): {hash}\nWinners: {winners}\nEligible (masked, sorted by id): {eligible}\nAnyone can check it: save this message as post.txt and run qunflow lottery verify --text post.txt",
        "zh-CN": "🎉 抽奖结果{prize}：{mentions}\n共 {count} 位成员参与。\n随机种子：{seed}\n名单指纹（sha256）：{hash}\n中奖编号：{winners}\n参与名单（已打码，按编号排序）：{eligible}\n复核方法：把这条消息保存为 post.txt，运行 qunflow lottery verify --text post.txt",
    },
    "lottery_too_few_eligible": {
        "en": "--winners {wanted} asks for more winners than the {eligible} eligible members of {group}: nothing was drawn. Lower --winners to {eligible} or fewer.",
        "zh-CN": "--winners {wanted} 超过了 {group} 可参与抽奖的 {eligible} 人：未抽奖。请把 --winners 改为 {eligible} 或更少。",
    },
    "lottery_drawn_before": {
        "en": "note: this draw ({draw}) was made before; these are its winners, and nothing new was issued.",
        "zh-CN": "提示：这次抽奖（{draw}）之前已经抽过；以下是当时的中奖者，没有再发放任何奖品。",
    },
    "lottery_post_ok": {
        "en": "OK: on the posted list of {count} members, seed {seed} picks exactly {winners}.",
        "zh-CN": "核对无误：在公布的 {count} 人名单上，种子 {seed} 正好抽中 {winners}。",
    },
    "lottery_post_mismatch": {
        "en": "MISMATCH: on the posted list of {count} members, seed {seed} picks {picks}, not {winners}.",
        "zh-CN": "不一致：在公布的 {count} 人名单上，种子 {seed} 抽中的是 {picks}，而不是 {winners}。",
    },
    "lottery_post_unreadable": {
        "en": "This text is not a qunflow lottery post: it needs the Seed, List hash, Winners and Eligible lines ({reason}). Save the whole post as it was sent.",
        "zh-CN": "这段文字不是 qunflow 的抽奖结果：需要包含随机种子、名单指纹、中奖编号和参与名单几行（{reason}）。请完整保存发出的消息。",
    },
    "cli_lottery_not_reposted": {"en": "(drawn before: not posted again)", "zh-CN": "（这次抽奖之前已抽过：不再重复发到群里）"},
    "demo_lottery": {
        "en": "lottery {draw} drawn twice: winners {winners} both times, {issued} prize(s) issued; verify on the posted text: {verify}",
        "zh-CN": "抽奖 {draw} 抽了两次：两次中奖者都是 {winners}，共发出 {issued} 份奖品；用群里的公告文字校验：{verify}",
    },
}
