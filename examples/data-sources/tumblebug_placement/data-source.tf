# The seed's request: web servers and a database on at least two clouds, every pair of regions
# within 40 ms of each other, as cheap as possible.
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
      providers  = ["aws", "gcp", "azure"]
    }
  }

  placement {
    objective      = "cost"
    max_latency_ms = 40
    min_providers  = 2
  }
}

output "hourly_cost" {
  value = data.tumblebug_placement.web.hourly_cost
}

output "why" {
  value = data.tumblebug_placement.web.explanation
}
