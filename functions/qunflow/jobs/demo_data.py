"""Sample data for `qunflow init --demo`: a clothing shop (衣橱小馆) with four groups.

Our own content, in Chinese, as a real community team would write it. Webhooks
are references (env:NAME), never keys: `qunflow demo` points them at the local
emulator.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["小雨", "晓梅", "婷婷", "佳怡", "思琪", "欣然", "子涵", "雨萱", "梦瑶", "静怡", "诗涵", "可馨",
         "一诺", "若曦", "安琪", "嘉怡", "慧敏", "雅琴", "丽娜", "春燕"]
SOURCES = ["门店", "线上", "召回", "老客推荐"]   # the shop's own words for its channels, as its team types them
REFERRAL_SOURCE = "老客推荐"

GROUPS = [
    # G01 and G04 are on Feishu, not WeCom: WeCom's group robots report no joins or messages (jobs/demo_events.py)
    {"group_id": "G01", "name": "衣橱小馆·春装福利群", "platform": "feishu", "kind": "traffic",
     "webhook": "env:QUNFLOW_WEBHOOK_G01", "daily_cap": 8, "quiet_hours": "22:30-08:00",
     "chat_id": "oc_demo0000000000000000000000g01"},
    {"group_id": "G02", "name": "双十二快闪群", "platform": "dingtalk", "kind": "flash",
     "webhook": "env:QUNFLOW_WEBHOOK_G02", "secret": "env:QUNFLOW_SECRET_G02", "daily_cap": 10,
     "chat_id": "cidDemoFlashGroup0002=="},
    {"group_id": "G03", "name": "穿搭研究所", "platform": "feishu", "kind": "content",
     "webhook": "env:QUNFLOW_WEBHOOK_G03", "secret": "env:QUNFLOW_SECRET_G03", "daily_cap": 6,
     "quiet_hours": "23:30-07:30", "chat_id": "oc_demo0000000000000000000000g03"},
    {"group_id": "G04", "name": "21天早起穿搭打卡", "platform": "feishu", "kind": "checkin",
     "webhook": "env:QUNFLOW_WEBHOOK_G04", "daily_cap": 6, "chat_id": "oc_demo0000000000000000000000g04"},
]

TEMPLATES = [
    {"name": "welcome", "content": "欢迎 {{ mentions }} 加入「{{ group_name }}」！🎉\n"
     "群规三条：① 只聊穿搭和福利 ② 不发广告和外链 ③ 互相尊重，违者移出。\n"
     "请按格式做个自我介绍：昵称 + 城市 + 最想解决的穿搭烦恼。\n"
     "{% if coupon %}送你一张 50 元新人专属券：{{ coupon }}（仅限本人使用，7 天内有效）{% endif %}"},
    {"name": "reading", "content": "23:00 啦，今天的穿搭小课你读了吗？📖 读完回复“已读”，明早抽 3 位送搭配建议。"},
    {"name": "preheat", "content": "【预告】明晚 20:00 上新，老粉先看 👀 {{ group_name }} 的小伙伴留言想要的颜色，我们优先备货。"},
    {"name": "offer", "content": "限时 2 天：冬季大衣 899 → 老客价 399，{{ days_left }} 天后恢复原价。想要的 {{ mentions }} 别犹豫！"},
]

SOP = [
    {"rule_id": "W01", "groups": "*", "schedule": "入群时", "phase": "激活", "content": "template:welcome",
     "mention": "new", "coupon": "welcome50"},
    {"rule_id": "R01", "groups": "G03, G04", "schedule": "每天 23:00", "phase": "留存", "content": "template:reading"},
    {"rule_id": "C01", "groups": "G01", "schedule": "第1-7天 10:00", "phase": "铺垫期",
     "content": "早上好☀️ 今天是活动第 {{ campaign_day }} 天，分享一个显瘦穿搭小技巧，欢迎在群里晒出你的搭配～"},
    {"rule_id": "C02", "groups": "G01", "schedule": "第8-16天 20:00", "phase": "造势期",
     "content": "新款剧透第 {{ campaign_day }} 天：面料、版型、价格优势一次讲清楚，想看实拍的扣 1。"},
    {"rule_id": "C03", "groups": "G01", "schedule": "第17天 20:00", "phase": "高潮期",
     "content": "今晚 20:00 搭配师直播分享，讲完开放限时福利，@所有人 准时来！", "mention": "all"},
    {"rule_id": "C04", "groups": "G01", "schedule": "第18-19天 10:00", "phase": "高潮期", "content": "template:offer",
     "mention": "layer:core"},
    {"rule_id": "C05", "groups": "G01", "schedule": "第25-33天 21:00", "phase": "收尾期",
     "content": "晒单有礼：已经入手的姐妹晒出上身图，抽 3 位送 30 元券；还在犹豫的私聊客服了解尺码。"},
    {"rule_id": "F01", "groups": "kind:flash", "schedule": "第1天 20:00", "phase": "预热", "content": "template:preheat"},
    {"rule_id": "K01", "groups": "G03", "schedule": "每周一 20:00", "phase": "课程", "content": "📢 本周三晚 8 点穿搭课预告：冬季叠穿。先收藏，周三见！"},
    {"rule_id": "K02", "groups": "G03", "schedule": "每周二 19:00", "phase": "课程", "content": "⏰ 明晚 8 点开课，倒计时 1 天，提前准备好你最常穿的三件外套。"},
    {"rule_id": "K03", "groups": "G03", "schedule": "每周三 21:30", "phase": "课程", "content": "今晚课程回放和要点总结已整理好，没赶上的小伙伴看这里 👇"},
    {"rule_id": "K04", "groups": "G03", "schedule": "每周四 20:00", "phase": "课程", "content": "作业点评时间：把你本周的叠穿搭配发到群里，老师逐一点评。"},
    {"rule_id": "D01", "groups": "G04", "schedule": "每天 07:00", "phase": "打卡", "content": "早安！今天也要好好穿衣服 👗 回复“打卡”+ 今日穿搭照。"},
    {"rule_id": "D02", "groups": "G04", "schedule": "每天 21:30", "phase": "打卡",
     "content": "🎉 {{ mentions }} 已连续打卡 {{ streak }} 天，坚持就是最好的穿搭！", "mention": "streak:3,7,14,21"},
]


def _mobile(rng: random.Random) -> str:
    return "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))


def demo_rows(today: date, seed: int = 7, members_per_group: int = 10) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    start = today
    groups = [dict(g, campaign_start=start, enabled="是") for g in GROUPS]
    members = []
    n = 0
    for g in GROUPS:
        for _ in range(members_per_group):
            n += 1
            joined = datetime.combine(start - timedelta(days=rng.randint(1, 20)), time(rng.randint(9, 22), rng.choice([0, 15, 30, 45])))
            members.append({
                "member_id": f"M{n:04d}", "name": rng.choice(SURNAMES) + rng.choice(GIVEN), "group_id": g["group_id"],
                "platform_user_id": f"u{n:04d}", "mobile": _mobile(rng), "joined_at": joined,
                "source": rng.choice(SOURCES), "status": "active", "welcomed_at": joined + timedelta(minutes=5),
                "last_active_at": joined + timedelta(days=rng.randint(0, 5), hours=rng.randint(0, 10)),
            })
    coupons = []
    for campaign, kind, value, count in (("welcome50", "welcome", 50, 60), ("recall399", "recall", 500, 20),
                                         ("invite30", "referral", 30, 20), ("lucky88", "lottery", 88, 10)):
        prefix = campaign[:3].upper()
        coupons += [{"code": f"{prefix}-{i:04d}", "campaign": campaign, "kind": kind, "value": value, "status": "available"}
                    for i in range(1, count + 1)]
    settings = [{"key": "timezone", "value": "Asia/Shanghai"}, {"key": "language", "value": "zh-CN"},
                {"key": "catch_up", "value": "30分钟"}, {"key": "coupon_expiry_days", "value": "7"},
                {"key": "daily_cap", "value": "10"}, {"key": "referral_threshold", "value": "3"},
                {"key": "referral_campaign", "value": "invite30"}]
    tags = [{"tag": "潜水", "rule": "days_since_join >= 7 and messages_7d == 0", "description": "入群一周没说过话"},
            {"tag": "门店来的", "rule": 'source == "门店"', "description": "扫门店二维码入群"},
            {"tag": "VIP", "description": "手动标记的老客"}]
    return {"settings": settings, "groups": groups, "members": members, "tags": tags, "coupons": coupons,
            "templates": TEMPLATES, "sop": [dict(r, enabled="是") for r in SOP]}
