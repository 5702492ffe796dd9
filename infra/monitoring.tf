# Someone hears about a failed tick: every ERROR line a qunflow function logs (a run that could not finish,
# a send that failed or may have, a tab the tick cannot use; functions/main.py) opens an incident and tells
# var.notification_channels, at most once per 5 minutes.
resource "google_monitoring_alert_policy" "errors" {
  display_name          = "qunflow: a function logged an ERROR"
  combiner              = "OR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "ERROR lines from qunflow-* functions"
    condition_matched_log {
      filter = "severity>=ERROR AND ((resource.type=\"cloud_run_revision\" AND resource.labels.service_name=~\"^qunflow-\") OR (resource.type=\"cloud_function\" AND resource.labels.function_name=~\"^qunflow-\"))"
      label_extractors = {
        function = "EXTRACT(resource.labels.service_name)"
        job      = "EXTRACT(jsonPayload.job)"
      }
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A qunflow function logged an ERROR line. Open Logs Explorer on the function named in the incident (label `function`; `job` says which run) and read the line's message: it names what failed. The sheet's Problems tab says the same in the operators' words."
  }

  depends_on = [google_project_service.apis]
}
