output "function_uris" {
  description = "The URI of each function."
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.service_config[0].uri }
}

output "runtime_service_account_email" {
  description = "Share the Google Sheet with this email as Editor."
  value       = google_service_account.runtime.email
}

output "invoker_service_account_email" {
  value = google_service_account.invoker.email
}

output "ingest_caller_service_account_email" {
  description = "Your event relay calls ingest with an identity token of this account."
  value       = google_service_account.ingest_caller.email
}
