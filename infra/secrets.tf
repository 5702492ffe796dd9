# Secret containers only. Add the values with `qunflow secrets set NAME` or gcloud (README), never with
# secret_data: a value given to Terraform lands in its state. Each function gets only the secrets it uses
# (jobs.yaml `secrets`, locals.secret_mounts), and each binding below is on one secret.

# ingest's HMAC key. Its id has no qunflow- prefix, so the runtime account's read of qunflow-* secrets
# (iam.tf) does not reach it: only this binding does.
resource "google_secret_manager_secret" "ingest_hmac" {
  secret_id = "INGEST_HMAC_SECRET"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "ingest_reads" {
  secret_id = google_secret_manager_secret.ingest_hmac.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}

# The Groups tab's secret:NAME references that Terraform mounts (var.secrets): qunflow-NAME, the id
# `qunflow secrets set NAME` writes to and the functions read at run time (functions/qunflow/delivery/secrets.py).
resource "google_secret_manager_secret" "secret" {
  for_each  = var.secrets
  secret_id = "qunflow-${each.value}"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# One accessor binding per secret, for the runtime account only.
resource "google_secret_manager_secret_iam_member" "runtime_reads" {
  for_each  = var.secrets
  secret_id = google_secret_manager_secret.secret[each.value].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}

# The events function's keys for the chosen platforms (var.event_platforms, locals.platform_keys).
resource "google_secret_manager_secret" "event_key" {
  for_each  = local.event_keys
  secret_id = "qunflow-${each.value}"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# Only the events function's own account reads them.
resource "google_secret_manager_secret_iam_member" "events_reads" {
  for_each  = local.event_keys
  secret_id = google_secret_manager_secret.event_key[each.value].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.events.email}"
}

# Deploys from before ingest's key had a resource of its own listed it in var.secrets: keep that secret,
# its versions and its binding (same id), rather than destroy and recreate them.
moved {
  from = google_secret_manager_secret.secret["INGEST_HMAC_SECRET"]
  to   = google_secret_manager_secret.ingest_hmac
}

moved {
  from = google_secret_manager_secret_iam_member.runtime_reads["INGEST_HMAC_SECRET"]
  to   = google_secret_manager_secret_iam_member.ingest_reads
}
