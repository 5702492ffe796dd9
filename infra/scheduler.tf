# One job per entry in workflows/jobs.yaml, calling its function with an OIDC token from the invoker
# account. The audience is exactly the function's URI (a different audience gives 401s).
resource "google_cloud_scheduler_job" "job" {
  for_each         = local.jobs
  name             = "qunflow-${each.key}"
  region           = var.region
  schedule         = each.value.schedule
  time_zone        = each.value.time_zone
  attempt_deadline = "${local.functions[each.value.function].timeout_seconds + 30}s"

  retry_config {
    retry_count          = each.value.retry.retry_count
    min_backoff_duration = each.value.retry.min_backoff
    max_backoff_duration = each.value.retry.max_backoff
    max_doublings        = each.value.retry.max_doublings
  }

  http_target {
    uri         = google_cloudfunctions2_function.fn[each.value.function].service_config[0].uri
    http_method = "POST"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode(jsonencode(each.value.body))

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.fn[each.value.function].service_config[0].uri
    }
  }

  depends_on = [google_project_service.apis]
}
