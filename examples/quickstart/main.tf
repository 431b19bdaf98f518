# The quickstart: one namespace on the embedded default cloud. No credentials, no network.
terraform {
  required_providers {
    tumblebug = {
      source = "tumblebug/tumblebug"
    }
  }
}

provider "tumblebug" {}

resource "tumblebug_namespace" "quickstart" {
  name        = "quickstart"
  description = "Created by examples/quickstart"
}

output "namespace_id" {
  value = tumblebug_namespace.quickstart.id
}
