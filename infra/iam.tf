# Separate identities: the functions run as `runtime`, Cloud Scheduler calls them as `invoker`,
# Cloud Build builds them as `builder`, and the merchant's event relay calls ingest as `ingest_caller`.
# Nothing is granted project-wide that a single-resource binding can do.

resource "google_service_account" "runtime" {
  account_id   = "qunflow-runtime"
  display_name = "qunflow functions (share the sheet with this account as Editor)"
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
