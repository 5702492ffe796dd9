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

output "events_url" {
  description = "The events function's URL: each platform's callback is this plus its path (/feishu, /slack, /telegram, /dingtalk, /wecom)."
  value       = google_cloudfunctions2_function.fn["events"].service_config[0].uri
}

output "events_service_account_email" {
  description = "The events function's own identity: it reads only the platform keys and writes the state store."
  value       = google_service_account.events.email
}

output "egress_ip" {
  description = "With static_egress = true: the one address the WeCom-calling functions leave from. Paste it into the WeCom app's trusted IPs (企业可信IP). null otherwise."
  value       = var.static_egress ? google_compute_address.egress[0].address : null
}
