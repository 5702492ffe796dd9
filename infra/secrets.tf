# Secret containers only. Add the values with gcloud (README, "Deploy"), never with secret_data:
# a value given to Terraform lands in its state.
resource "google_secret_manager_secret" "secret" {
  for_each  = var.secrets
  secret_id = each.value

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
