locals {
  workflow  = yamldecode(file(var.jobs_file))
  functions = local.workflow.functions
  jobs      = local.workflow.jobs
}
