# Let the planner place an MCIS: the data source chooses provider, region and spec for every VM
# (jointly optimal under the constraints), and the MCIS creates one vm_group per chosen offer.
# `terraform plan` shows the placement, its hourly cost and why, before anything is created.

resource "tumblebug_namespace" "demo" {
  name = "planned"
}

data "tumblebug_placement" "web" {
  vm_group {
    name  = "web"
    count = 4
    requirements {
      vcpu       = { min = 2, max = 4 }
      memory_gib = { min = 4 }
    }
  }

  vm_group {
    name  = "db"
    count = 1
    requirements {
      memory_gib = { min = 16 }
    }
  }

  placement {
    objective      = "cost"
    max_latency_ms = 40
    min_providers  = 2
  }
}

locals {
  # One vm_group per (group, provider, region, spec) the planner chose.
  placed = {
    for vm in data.tumblebug_placement.web.vms :
    "${vm.group}-${vm.provider}-${vm.region}-${vm.spec}" => vm...
  }
}

resource "tumblebug_mcis" "web" {
  namespace = tumblebug_namespace.demo.id
  name      = "web"

  dynamic "vm_group" {
    for_each = local.placed
    content {
      name     = replace(lower(vm_group.key), "/[^a-z0-9-]/", "-")
      count    = length(vm_group.value)
      provider = vm_group.value[0].provider
      region   = vm_group.value[0].region
      spec     = vm_group.value[0].spec
      image    = "ubuntu-22.04"
    }
  }
}

output "hourly_cost" {
  value = data.tumblebug_placement.web.hourly_cost
}

output "max_rtt_ms" {
  value = data.tumblebug_placement.web.max_rtt_ms
}

output "status" {
  value = tumblebug_mcis.web.status
}
