# Separate identities: the functions run as `runtime`, except `events`, which runs as `events`; Cloud
# Scheduler calls them as `invoker`, Cloud Build builds them as `builder`, and the merchant's event relay
# calls ingest as `ingest_caller`. Nothing is granted project-wide that a single-resource binding can do.

data "google_project" "this" {
  project_id = var.project_id
}

resource "google_service_account" "runtime" {
  account_id   = "qunflow-runtime"
  display_name = "qunflow functions (share the sheet with this account as Editor)"
}

# The public events function's identity: it reads the platform keys (secrets.tf) and writes the state
# store's inbox (state.tf), nothing else; a bug there cannot reach the sheet, the webhooks or ingest's key.
resource "google_service_account" "events" {
  account_id   = "qunflow-events"
  display_name = "qunflow events function (platform callbacks)"
}

resource "google_service_account" "invoker" {
  account_id   = "qunflow-invoker"
  display_name = "Cloud Scheduler calling qunflow"
}

resource "google_service_account" "builder" {
  account_id   = "qunflow-builder"
  display_name = "Builds the qunflow functions"
}

resource "google_service_account" "ingest_caller" {
  account_id   = "qunflow-ingest-caller"
  display_name = "Your event relay, calling qunflow's ingest function"
}

# The build account needs to write logs and push the built image.
resource "google_project_iam_member" "builder_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.builder.email}"
}

resource "google_project_iam_member" "builder_artifacts" {
  project = var.project_id
  role    = "roles/artifactregistry.writer"
  member  = "serviceAccount:${google_service_account.builder.email}"
}

resource "google_storage_bucket_iam_member" "builder_reads_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.builder.email}"
}

# The runtime writes structured logs.
resource "google_project_iam_member" "runtime_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

# The sending functions read a secret:NAME reference that Terraform does not mount from Secret Manager's
# qunflow-NAME at run time, so `qunflow secrets set NAME` reaches the next tick without an apply. Secret
# Manager grants per secret or per project; the condition narrows this one to the qunflow-* secrets, minus
# the events function's platform keys (and INGEST_HMAC_SECRET has no qunflow- prefix).
locals {
  secret_prefix = "projects/${data.google_project.this.number}/secrets/qunflow-"
  runtime_secrets_condition = join(" && ", concat(
    ["resource.name.startsWith(\"${local.secret_prefix}\")"],
    [for key in sort(distinct(flatten(values(local.platform_keys)))) : "!resource.name.startsWith(\"${local.secret_prefix}${key}/\")"],
  ))
}

resource "google_project_iam_member" "runtime_secrets" {
  project = var.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = "serviceAccount:${google_service_account.runtime.email}"

  condition {
    title       = "qunflow-* secrets only"
    description = "The sending functions read the Groups tab's secret:NAME as qunflow-NAME, not the platform keys, not other secrets."
    expression  = local.runtime_secrets_condition
  }
}

# Scheduler may invoke the scheduled functions, each on its own Cloud Run service.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.jobs
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.value.function].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.invoker.email}"
}

# Only the event relay's identity may call ingest (and every request is HMAC-signed too).
resource "google_cloud_run_v2_service_iam_member" "ingest_caller" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn["ingest"].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.ingest_caller.email}"
}

# The platforms call the events function without a Google identity, so it is public: the one function
# anyone may invoke (jobs.yaml `public`, tests/test_infra.py). Each path checks its platform's signature or
# secret token with the raw body before anything is kept (functions/qunflow/events/).
resource "google_cloud_run_v2_service_iam_member" "public" {
  #checkov:skip=CKV_GCP_102:Public on purpose: Feishu, Slack, Telegram, DingTalk and WeCom call without a Google identity; every path verifies the platform's signature or secret token before anything is kept, and nothing else is public.
  for_each = { for name, fn in local.functions : name => fn if fn.public }
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
