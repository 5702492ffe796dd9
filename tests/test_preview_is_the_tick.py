"""Preview is the tick without sending (issue #15, item 6): the sends `preview` lists for a window are the sends
the ticks then make through it, against the emulator over real HTTP: group, rule, time, mentions and text."""
import copy
from datetime import datetime, timedelta, timezone

from engine_harness import SHOP, Shop
from qunflow.jobs.preview import preview_store
from qunflow.sheet.load import load_workbook
from helpers import add_events

UTC = timezone.utc
PLATFORM_GROUP = {"wecom": "G01", "dingtalk": "G02", "feishu": "G03"}


def at(text: str) -> datetime:  # Asia/Shanghai wall time → UTC
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def shop_rows():
    rows = copy.deepcopy(SHOP)
    rows["groups"][0]["daily_cap"] = 3                      # G01 meets its cap: deferred sends come back
    rows["sop"] += [
        {"rule_id": "F01", "groups": "*", "schedule": "join+1d 10:00", "content": "Day two {{ mentions }}",
         "mention": "new"},
        {"rule_id": "N01", "groups": "G01", "schedule": "daily 10:00", "content": "News at ten"},  # with C01: a sequence
        {"rule_id": "N02", "groups": "G01", "schedule": "daily 10:01", "content": "Right after"},  # min_gap from them
        {"rule_id": "N03", "groups": "G01", "schedule": "daily 21:00", "content": "Evening {{ date }}"},
    ]
    return rows


def minute(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def test_the_sends_preview_lists_are_the_sends_the_ticks_make():
    shop = Shop(at("2026-12-01 09:40"), rows=shop_rows())
    try:
        shop.tick(at("2026-12-01 09:40"))
        # joins the Events tab holds and no tick has folded yet (no welcome, no follow-up in the Members tab)
        add_events(shop, [{"event_id": f"E{i}", "type": "join", "member_id": f"N{i:03d}", "group_id": g,
                           "at": f"2026-12-01 09:4{i}", "detail": f"name=New {i}; user=new{i}"}
                          for i, g in ((1, "G01"), (2, "G02"), (3, "G01"))])
        now, days = at("2026-12-01 09:45"), 2
        wb, items = preview_store(shop.store, now, days)
        planned = [i for i in items if i["policy"].startswith("due")]
        t = now
        while t <= now + timedelta(days=days):
            shop.tick(t)
            t += timedelta(minutes=5)
        sent = [r for r in load_workbook(shop.store.raw).sendlog if r.status == "sent"]
        members = load_workbook(shop.store.raw).members.values()
        users = {m.member_id: m.platform_user_id for m in members}

        def plain(text):  # the text without its mentions (preview writes @name; platforms @user id, or nothing)
            for m in members:
                text = text.replace(f"@{m.name}", "").replace(f"@{m.platform_user_id}", "")
            return " ".join(text.split())
        # group, rule and time: the SendLog's rows; the text and the mentions: what each group received
        want_rules = sorted((i["group_id"], i["rule_id"], minute(datetime.fromisoformat(i.get("posts_at", i["at"])))) for i in planned)
        got_rules = sorted((r.group_id, r.rule_id, minute(r.sent_at.replace(tzinfo=None).replace(
            tzinfo=wb.groups[r.group_id].timezone or wb.settings.timezone))) for r in sent)
        # a member-relative send is one SendLog row per member: one post
        got_rules = sorted(set(got_rules)) if len(set(got_rules)) < len(got_rules) else got_rules
        assert want_rules == got_rules
        # what each group received: the platform may put its own mention markup around the text (@new2 on DingTalk)
        want_posts, got_posts = {}, {}
        for i in planned:
            want_posts.setdefault((i["group_id"], minute(datetime.fromisoformat(i.get("posts_at", i["at"])))), []).append(
                (plain(i["text"]), tuple(sorted(users[m] for m in i["mentions"] if m != "all"))))
        for m in shop.emulator.messages:
            got_posts.setdefault((PLATFORM_GROUP[m["platform"]], minute(datetime.fromisoformat(m["at"].replace("Z", "+00:00")))),
                                 []).append((plain(m["text"]), tuple(sorted(u for u in m["mentions"] if u != "@all"))))
        assert sorted(want_posts) == sorted(got_posts)
        for key, wanted in want_posts.items():
            received = list(got_posts[key])
            assert len(wanted) == len(received), key
            for text, mentions in wanted:
                match = next((r for r in received if text in r[0] and r[1] == mentions), None)
                assert match is not None, (key, text, mentions, received)
                received.remove(match)
        kinds = {i["rule_id"] for i in planned}
        assert {"W01", "F01", "N01", "C01"} <= kinds                        # welcomes and follow-ups of pending joins
        assert any(i["policy"] == "deferred" and "daily cap" in i.get("reason", "daily cap") for i in items)  # the cap
    finally:
        shop.close()
