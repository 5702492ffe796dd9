"""`qunflow wecom welcome`: WeCom customer groups' welcome template (jobs/wecom_welcome.py)."""
from __future__ import annotations

import json
import os

import click

from .app import SOURCE_HELP, cli, fail, speaking

WELCOME_HELP = f"""Create or update the customer groups' welcome template (入群欢迎语) in WeCom from a Templates row.

qunflow cannot post into a WeCom customer group when someone joins; WeCom's own welcome does, from this
template, once each group owner applies it in the app (群聊信息 → 入群欢迎语). {{{{ mentions }}}} becomes %NICKNAME%
(the newcomer's name); the text is at most 3,000 bytes; add one link or one mini-program. A coupon code is never
put in it: a member's own coupon reaches them through the link or mini-program page. The template id is kept in
the state store, so running this again updates the same template. The app is the wecom-customer group's
(Settings wecom_corp_id, the group's webhook as the app secret). {SOURCE_HELP}

\b
Example:
  qunflow wecom welcome shop.xlsx --template welcome_vip --link-title 领取新人礼 --link-url https://shop.example/gift
"""


WECOM_HELP = """WeCom customer groups: the welcome template their owners apply.

Members are synced by the wecom-sync job (workflows/jobs.yaml), posts go out as group-send tasks by the tick;
`qunflow doctor` checks the prerequisites (corp id, app secret, callback keys, trusted IP, owners, chat ids).

\b
Example:
  qunflow wecom welcome shop.xlsx --template welcome_vip --link-title 领取新人礼 --link-url https://shop.example/gift
"""


@cli.group(help=WECOM_HELP)
def wecom() -> None:
    pass


@wecom.command(help=WELCOME_HELP)
@click.argument("source", required=False, envvar="QUNFLOW_SOURCE")
@click.option("--template", "name", required=True, help="The Templates tab's name of the welcome text.")
@click.option("--group", "group_id", help="Use this wecom-customer group's app (default: the first one).")
@click.option("--link-title", help="A link card's title.")
@click.option("--link-url", help="A link card's URL (where a member's own coupon waits).")
@click.option("--link-desc", default="", help="A link card's description.")
@click.option("--link-pic", default="", help="A link card's picture URL.")
@click.option("--miniprogram", "mini", metavar="APPID:PAGE", help="A mini-program card: its appid and page.")
@click.option("--mini-title", help="The mini-program card's title.")
@click.option("--mini-pic-media-id", help="The mini-program card's picture (a media_id from a media upload).")
@click.option("--json", "as_json", is_flag=True, help='Print {"ok", "template_id", "message"} as JSON.')
def welcome(source, name, group_id, link_title, link_url, link_desc, link_pic, mini, mini_title,
            mini_pic_media_id, as_json) -> None:
    import requests

    from ..jobs.wecom_welcome import run_welcome
    from ..state.open import open_state, state_spec
    from ..stores import open_store
    attachment = None
    if link_url or link_title:
        if not (link_url and link_title):
            raise fail("a link needs both --link-title and --link-url")
        attachment = {"link": {"title": link_title, "url": link_url, "desc": link_desc, "picurl": link_pic}}
    if mini:
        if attachment or ":" not in mini or not (mini_title and mini_pic_media_id):
            raise fail("one attachment only; a mini-program needs APPID:PAGE, --mini-title and --mini-pic-media-id")
        appid, page = mini.split(":", 1)
        attachment = {"miniprogram": {"title": mini_title, "pic_media_id": mini_pic_media_id, "appid": appid,
                                      "page": page}}
    store = open_store(source)
    state = open_state(state_spec(store.path if store.kind == "xlsx" else None))
    with requests.Session() as session:
        outcome, lang = run_welcome(store, state, session, name, attachment, dict(os.environ), group_id)
    lang = speaking(lang)
    text = outcome.say(lang)
    if as_json:
        click.echo(json.dumps({"ok": outcome.ok, "template_id": outcome.template_id or None, "message": text},
                              ensure_ascii=False))
    else:
        click.echo(text)
    if not outcome.ok:
        raise click.exceptions.Exit(1)
