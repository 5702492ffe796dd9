resource "google_project_service" "apis" {
  for_each = toset(concat([
    "sheets.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudbuild.googleapis.com",
    "run.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudscheduler.googleapis.com",
    "secretmanager.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",       # the README's --impersonate-service-account step
    "cloudresourcemanager.googleapis.com", # project IAM and data.google_project
    "storage.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com", # the ERROR-line alert (monitoring.tf)
    "firestore.googleapis.com",
    ], var.static_egress ? [
    "compute.googleapis.com",   # the network, the router, the NAT and the reserved address (egress.tf)
    "vpcaccess.googleapis.com", # the Serverless VPC Access connector
  ] : []))
  service            = each.value
  disable_on_destroy = false
}
