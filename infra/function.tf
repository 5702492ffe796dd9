# The function's source: main.py and requirements.txt at the root, the qunflow package beside them, and the
# repository's sheets_schema/ and workflows/ inside the package as qunflow/data/..., the layout a wheel has
# (pyproject.toml), so the code finds them with importlib.resources wherever the function runs.
data "archive_file" "source" {
  type             = "zip"
  output_path      = "${path.module}/.build/qunflow-source.zip"
  output_file_mode = "0666" # a stable hash on every OS, so an unchanged source never redeploys

  source {
    content  = file("${path.module}/../functions/main.py")
    filename = "main.py"
  }
  source {
    content  = file("${path.module}/../requirements.txt")
    filename = "requirements.txt"
  }
  dynamic "source" {
    for_each = fileset("${path.module}/../functions/qunflow", "**/*.{py,yaml,html}")
    content {
      content  = file("${path.module}/../functions/qunflow/${source.value}")
      filename = "qunflow/${source.value}"
    }
  }
  dynamic "source" {
    for_each = fileset("${path.module}/../sheets_schema", "*.yaml")
    content {
      content  = file("${path.module}/../sheets_schema/${source.value}")
      filename = "qunflow/data/sheets_schema/${source.value}"
    }
  }
  dynamic "source" {
    for_each = fileset("${path.module}/../workflows", "**/*.yaml")
    content {
      content  = file("${path.module}/../workflows/${source.value}")
      filename = "qunflow/data/workflows/${source.value}"
    }
  }
}

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Access logs for a bucket holding only our own build archives add cost without a reader.
  name                        = "${var.project_id}-qunflow-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }
}

# Named after the archive's md5: a code change is a new object, so the functions redeploy.
resource "google_storage_bucket_object" "source" {
  name   = "src-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

resource "google_cloudfunctions2_function" "fn" {
  for_each    = local.functions
  name        = "qunflow-${each.key}"
  location    = var.region
  description = each.value.description
  labels      = local.labels

  build_config {
    runtime         = "python312"
    entry_point     = each.value.entry_point
    service_account = google_service_account.builder.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    #checkov:skip=CKV_GCP_124:Cloud Scheduler, the event relay and the platforms call over the public endpoint; access is IAM (run.invoker for named service accounts) plus HMAC on ingest, and on events (the one allUsers function) each platform's signature.
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    timeout_seconds                  = each.value.timeout_seconds
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    service_account_email            = each.key == "events" ? google_service_account.events.email : google_service_account.runtime.email
    vpc_connector                    = each.value.calls_wecom ? local.egress_connector : null
    vpc_connector_egress_settings    = each.value.calls_wecom && var.static_egress ? "ALL_TRAFFIC" : null
    environment_variables = {
      QUNFLOW_SOURCE         = "gsheets:${var.spreadsheet_id}"
      QUNFLOW_STATE          = "firestore:${google_firestore_database.state.name}"
      QUNFLOW_SECRET_PROJECT = var.project_id
      QUNFLOW_SECRET_NAMES   = join(",", sort(keys(local.secret_mounts[each.value.secrets])))
    }

    dynamic "secret_environment_variables" {
      for_each = local.secret_mounts[each.value.secrets]
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.ingest_reads,
    google_secret_manager_secret_iam_member.runtime_reads,
    google_secret_manager_secret_iam_member.events_reads,
  ]
}
