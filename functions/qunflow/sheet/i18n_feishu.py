"""Messages about Feishu's native images (#21): the workbook's Feishu app (Settings feishu_app_id and
feishu_app_secret) uploads each poster for an image_key. Part of `sheet.i18n.MESSAGES`.

The `reason_feishu_*` keys word the reasons `delivery.feishu_images.FeishuError.reason` gives, so
`sheet.vocabulary.say_reason` says them in zh-CN (SendLog 说明 and the Problem's {reason}).
"""
from __future__ import annotations

FEISHU_MESSAGES: dict[str, dict[str, str]] = {
    "feishu_image_upload_failed": {
        "en": "The image for this row (from {host}) could not be uploaded to Feishu by the app {app_id}: {reason}. "
              "{fix} The send was not made (SendLog: failed).",
        "zh-CN": "这一行的图片（来自 {host}）无法通过飞书应用 {app_id} 上传：{reason}。{fix}这条消息没有发出（发送记录：失败）。",
    },
    "feishu_secret_not_reference": {
        "en": "Settings feishu_app_secret must be a reference, not the App Secret itself (it is not shown here): "
              "store the secret (`qunflow secrets set FEISHU_APP_SECRET` in the cloud, or a line "
              "FEISHU_APP_SECRET=... in .qunflow-secrets locally) and write secret:FEISHU_APP_SECRET in this cell. "
              "Feishu groups get their images as links until then.",
        "zh-CN": "设置 feishu_app_secret 必须写引用，不能直接写应用密钥本身（这里不显示它的值）：请先保存密钥（云端运行 "
                 "`qunflow secrets set FEISHU_APP_SECRET`，本地在 .qunflow-secrets 中加一行 FEISHU_APP_SECRET=...），"
                 "再在这个单元格写 secret:FEISHU_APP_SECRET。在此之前飞书群的图片以链接发出。",
    },
    "feishu_app_half_set": {
        "en": "Settings has {present} but not {missing}: a Feishu app needs both (its App ID and a reference to its "
              "App Secret, from the Feishu developer console → 凭证与基础信息). Feishu groups get their images as "
              "links until both are set.",
        "zh-CN": "设置中有 {present} 但没有 {missing}：飞书应用两者都需要（应用ID，以及应用密钥的引用，见飞书开发者后台 → "
                 "凭证与基础信息）。两者都填好之前，飞书群的图片以链接发出。",
    },
    # what to do, by FeishuError.kind
    "feishu_fix_credentials": {
        "en": "Check Settings feishu_app_id (row {row}) and the secret feishu_app_secret names: they must be the App ID "
              "and App Secret of the same app (Feishu developer console → 凭证与基础信息); after a secret reset, "
              "store the new one.",
        "zh-CN": "请检查设置 feishu_app_id（第 {row} 行）以及 feishu_app_secret 引用的密钥：两者必须是同一个应用的应用ID和"
                 "应用密钥（飞书开发者后台 → 凭证与基础信息）；重置过密钥的话，请保存新的密钥。",
    },
    "feishu_fix_unresolved": {
        "en": "Settings feishu_app_secret names {reference}, which is not set: {where}.",
        "zh-CN": "设置 feishu_app_secret 引用的 {reference} 没有设置：{where}。",
    },
    "feishu_fix_image": {
        "en": "Save the poster as a jpg or png under 10 MB (a gif at most 2000×2000 pixels) and link that file.",
        "zh-CN": "请把海报另存为 10 MB 以下的 JPG 或 PNG（GIF 最大 2000×2000 像素），并填写它的链接。",
    },
    "feishu_fix_network": {
        "en": "Check that this machine reaches {base}; the next due send tries again.",
        "zh-CN": "请确认这台机器能访问 {base}；下一次到期的发送会再试。",
    },
    "feishu_fix_api": {
        "en": "Check that the app has the permission to upload images (im:resource), that a version of it is "
              "released, and that its bot is in the group.",
        "zh-CN": "请确认应用已开通上传图片的权限（im:resource）、已发布版本，并且应用机器人已加入这个群。",
    },
    # qunflow doctor (jobs/feishu_doctor.py)
    "feishu_doctor_name": {"en": "Feishu images", "zh-CN": "飞书图片"},
    "feishu_doctor_links": {"en": "no Feishu app in Settings: images to {groups} go as links in a post",
                            "zh-CN": "设置中没有飞书应用：发往 {groups} 的图片以富文本中的链接发出"},
    "feishu_doctor_fix_links": {
        "en": "to send the pictures themselves, write the App ID in Settings feishu_app_id and secret:NAME in "
              "feishu_app_secret (a self-built app of the same tenant with the bot ability)",
        "zh-CN": "要直接发图片，请在设置 feishu_app_id 填写应用ID，在 feishu_app_secret 填写 secret:密钥名（同一企业、开启机器人能力的自建应用）"},
    "feishu_doctor_half": {"en": "Settings has only {present}", "zh-CN": "设置中只有 {present}"},
    "feishu_doctor_fix_half": {"en": "write {missing} in Settings too (or remove both: images go as links)",
                               "zh-CN": "请在设置中也填写 {missing}（或两者都删去：图片以链接发出）"},
    "feishu_doctor_literal": {"en": "Settings feishu_app_secret holds the secret itself (not shown)",
                              "zh-CN": "设置 feishu_app_secret 直接写了密钥本身（不显示）"},
    "feishu_doctor_fix_literal": {
        "en": "store it (`qunflow secrets set FEISHU_APP_SECRET`) and write secret:FEISHU_APP_SECRET in the cell",
        "zh-CN": "请保存密钥（`qunflow secrets set FEISHU_APP_SECRET`），并在单元格中写 secret:FEISHU_APP_SECRET"},
    "feishu_doctor_unset": {"en": "the App Secret {reference} is not set", "zh-CN": "应用密钥 {reference} 没有设置"},
    "feishu_doctor_set": {"en": "app {app_id}, App Secret {reference} set; images to {groups} go as native images",
                          "zh-CN": "应用 {app_id}，应用密钥 {reference} 已设置；发往 {groups} 的图片以原生图片发出"},
    "feishu_doctor_reach_ok": {"en": "Feishu accepts the app's credentials", "zh-CN": "飞书接受了应用凭证"},
    "feishu_doctor_fix_credentials": {
        "en": "Feishu refused the app's credentials (code {errcode}): check Settings feishu_app_id and the secret "
              "feishu_app_secret names (Feishu developer console → 凭证与基础信息)",
        "zh-CN": "飞书拒绝了应用凭证（错误码 {errcode}）：请检查设置 feishu_app_id 以及 feishu_app_secret 引用的密钥（飞书开发者后台 → 凭证与基础信息）"},
    "feishu_doctor_fix_reach": {"en": "Feishu's open API at {base} did not answer as expected (code {errcode}): check "
                                      "that this machine reaches it",
                                "zh-CN": "{base} 的飞书开放平台没有正常应答（错误码 {errcode}）：请确认这台机器能访问它"},
    # reasons (SendLog 说明): the English is the pattern say_reason reads
    "reason_feishu_not_uploaded": {"en": "image not uploaded to Feishu: {detail}", "zh-CN": "图片未上传到飞书：{detail}"},
    "reason_feishu_credentials": {
        "en": "the Feishu app's credentials were refused (code {code}): check feishu_app_id and feishu_app_secret",
        "zh-CN": "飞书应用凭证被拒绝（错误码 {code}）：请检查 feishu_app_id 和 feishu_app_secret"},
    "reason_feishu_network": {"en": "Feishu's open API could not be reached ({error})",
                              "zh-CN": "无法连接飞书开放平台（{error}）"},
    "reason_feishu_refused": {"en": "Feishu refused the image upload (code {code}): {detail}",
                              "zh-CN": "飞书拒绝了图片上传（错误码 {code}）：{detail}"},
    "reason_feishu_unresolved": {"en": "feishu_app_secret {reference} is not set",
                                 "zh-CN": "feishu_app_secret 引用的 {reference} 没有设置"},
}
