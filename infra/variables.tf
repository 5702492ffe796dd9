variable "project_id" {
  description = "The Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region for the functions, the source bucket and the scheduler jobs."
  type        = string
  default     = "asia-east2"
}

variable "spreadsheet_id" {
  description = "The Google Sheet qunflow works from (the id in its URL). Share it with the runtime account as Editor."
  type        = string
}

variable "secrets" {
  description = "Names of the Secret Manager secrets the Groups tab refers to (secret:NAME), plus INGEST_HMAC_SECRET. Values are added with gcloud, never through Terraform."
  type        = set(string)
  default     = ["INGEST_HMAC_SECRET"]
}

variable "jobs_file" {
  description = "The jobs and functions definition shared with the CLI."
  type        = string
  default     = "../workflows/jobs.yaml"
}

variable "state_database" {
  description = "The Firestore (Native mode) database that holds qunflow's state: the send ledger, bindings, events, leases."
  type        = string
  default     = "qunflow"
}

variable "state_location" {
  description = "Firestore location of the state database (a region such as asia-east2, or a multi-region such as nam5)."
  type        = string
  default     = "asia-east2"
}
