# A fixed outbound address for the functions that call WeCom's API (jobs.yaml `calls_wecom`), when
# static_egress is on: WeCom accepts a new self-built app's calls only from its trusted IPs (error 60020
# otherwise). The functions send all their traffic through a Serverless VPC Access connector into a
# network of their own, where Cloud NAT translates it to one reserved address: output egress_ip.

resource "google_compute_network" "egress" {
  count                   = var.static_egress ? 1 : 0
  name                    = "qunflow-egress"
  auto_create_subnetworks = false

  depends_on = [google_project_service.apis]
}

resource "google_compute_subnetwork" "egress" {
  count                    = var.static_egress ? 1 : 0
  name                     = "qunflow-egress"
  region                   = var.region
  network                  = google_compute_network.egress[0].id
  ip_cidr_range            = var.egress_cidr # a /28: what a connector's subnet must be
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_vpc_access_connector" "egress" {
  count         = var.static_egress ? 1 : 0
  name          = "qunflow-egress"
  region        = var.region
  machine_type  = "e2-micro"
  min_instances = 2
  max_instances = 3

  subnet {
    name = google_compute_subnetwork.egress[0].name
  }
}

resource "google_compute_router" "egress" {
  count   = var.static_egress ? 1 : 0
  name    = "qunflow-egress"
  region  = var.region
  network = google_compute_network.egress[0].id
}

# The address to paste into the WeCom app's 企业可信IP. Reserved: it stays the same across applies.
resource "google_compute_address" "egress" {
  count        = var.static_egress ? 1 : 0
  name         = "qunflow-egress"
  region       = var.region
  address_type = "EXTERNAL"
  network_tier = "PREMIUM"
  labels       = local.labels

  depends_on = [google_project_service.apis]
}

resource "google_compute_router_nat" "egress" {
  count                              = var.static_egress ? 1 : 0
  name                               = "qunflow-egress"
  region                             = var.region
  router                             = google_compute_router.egress[0].name
  nat_ip_allocate_option             = "MANUAL_ONLY"
  nat_ips                            = [google_compute_address.egress[0].self_link]
  source_subnetwork_ip_ranges_to_nat = "LIST_OF_SUBNETWORKS"

  subnetwork {
    name                    = google_compute_subnetwork.egress[0].id
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# The network carries only the functions' outbound traffic: nothing may come in. (A custom network denies
# ingress by default anyway; the connector's own rules, at priority 1000, still let its traffic through.)
resource "google_compute_firewall" "egress_deny_ingress" {
  count         = var.static_egress ? 1 : 0
  name          = "qunflow-egress-deny-ingress"
  network       = google_compute_network.egress[0].id
  direction     = "INGRESS"
  priority      = 65000
  source_ranges = ["0.0.0.0/0"]

  deny {
    protocol = "all"
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}
