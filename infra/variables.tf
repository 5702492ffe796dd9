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
  description = "Optional: secret:NAME references of the Groups tab (webhooks, signing secrets, WeCom app secrets) that Terraform creates as qunflow-NAME and mounts into the sending functions, read when an instance starts. Without listing them, the functions read qunflow-NAME at run time (60 s cache): `qunflow secrets set NAME` is enough, no apply. Values never go through Terraform."
  type        = set(string)
  default     = []

  validation {
    condition     = !contains(var.secrets, "INGEST_HMAC_SECRET") && alltrue([for s in var.secrets : can(regex("^[A-Za-z0-9_-]{1,247}$", s))])
    error_message = "List only secret:NAME references (letters, digits, _ and -). INGEST_HMAC_SECRET is created on its own now (secrets.tf): remove it from secrets."
  }
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

variable "labels" {
  description = "Labels added to every resource that takes them, after qunflow's own (app = qunflow, managed-by = terraform)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "Label keys start with a lowercase letter; keys and values use lowercase letters, digits, _ and -, at most 63 characters."
  }
}

variable "event_platforms" {
  description = "The platforms whose events the events function receives: any of feishu (Feishu and Lark), slack, telegram, dingtalk, wecom. Each one's keys get a secret container qunflow-NAME, mounted into the events function; add their values before the full apply (README, \"Events from the platforms\"). Empty by default: a container with no value would stop the function from starting."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.event_platforms : contains(["feishu", "slack", "telegram", "dingtalk", "wecom"], p)])
    error_message = "event_platforms takes feishu, slack, telegram, dingtalk and wecom (Lark uses feishu)."
  }
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/P/notificationChannels/N) told when a function logs an ERROR line (a failed tick, a send that failed). Empty: the alert still opens incidents in the console, and tells no one."
  type        = list(string)
  default     = []
}

variable "static_egress" {
  description = "Give the functions that call WeCom's API one fixed outbound address (a VPC connector and Cloud NAT with a reserved IP), for the WeCom app's trusted-IP list. Costs a connector (two small VMs) and a NAT gateway while on."
  type        = bool
  default     = false
}

variable "egress_cidr" {
  description = "The /28 range of the connector's subnet, when static_egress is on (any private range your project does not use)."
  type        = string
  default     = "10.8.0.0/28"
}
