locals {
  workflow  = yamldecode(file(var.jobs_file))
  functions = local.workflow.functions
  jobs      = local.workflow.jobs

  # On every resource that takes labels (tests/test_infra.py lists the types): ours, then the caller's.
  labels = merge({ app = "qunflow", managed-by = "terraform" }, var.labels)

  # The events function's keys, per platform (functions/qunflow/events/*.py; tests/test_infra.py compares them).
  # Each is the secret qunflow-NAME, mounted into the events function as QUNFLOW_NAME (functions/main.py keys()).
  platform_keys = {
    feishu   = ["FEISHU_ENCRYPT_KEY", "FEISHU_VERIFICATION_TOKEN"]
    slack    = ["SLACK_SIGNING_SECRET"]
    telegram = ["TELEGRAM_SECRET_TOKEN"]
    dingtalk = ["DINGTALK_TOKEN", "DINGTALK_AES_KEY", "DINGTALK_APP_KEY"]
    wecom    = ["WECOM_TOKEN", "WECOM_AES_KEY", "WECOM_CORP_ID"]
  }
  event_keys = toset(flatten([for platform in var.event_platforms : local.platform_keys[platform]]))

  # What each kind of function gets mounted (jobs.yaml `secrets`): environment variable -> secret id.
  secret_mounts = {
    webhooks      = { for name in var.secrets : name => google_secret_manager_secret.secret[name].secret_id }
    ingest        = { INGEST_HMAC_SECRET = google_secret_manager_secret.ingest_hmac.secret_id }
    platform_keys = { for name in local.event_keys : "QUNFLOW_${name}" => google_secret_manager_secret.event_key[name].secret_id }
    none          = {}
  }

  # The functions that call qyapi.weixin.qq.com leave through the reserved address when static_egress is on.
  egress_connector = var.static_egress ? google_vpc_access_connector.egress[0].id : null
}
