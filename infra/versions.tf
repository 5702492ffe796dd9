terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
  }

  # State lives in a versioned bucket you create once (see README, "Deploy").
  backend "gcs" {
    prefix = "qunflow/state"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
