# qunflow's memory (the send ledger, bindings, the event inbox, cursors, the tick lease):
# a Firestore database of its own, in Native mode. The functions find it through QUNFLOW_STATE (function.tf).
resource "google_firestore_database" "state" {
  project                           = var.project_id
  name                              = var.state_database
  location_id                       = var.state_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "PESSIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  depends_on = [google_project_service.apis]
}

# Firestore grants data access per project; the condition narrows the role to this one database.
resource "google_project_iam_member" "runtime_state" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.runtime.email}"

  condition {
    title       = "qunflow state database only"
    description = "The runtime account reads and writes qunflow's own Firestore database, no other."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${google_firestore_database.state.name}\""
  }
}

# The events function writes what the platforms send into the same database's inbox.
resource "google_project_iam_member" "events_state" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.events.email}"

  condition {
    title       = "qunflow state database only"
    description = "The events function writes qunflow's own Firestore database, no other."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${google_firestore_database.state.name}\""
  }
}
