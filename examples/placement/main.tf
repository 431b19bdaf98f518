# Let the planner place an MCIS: the vm_groups say what each VM needs, the placement block says
# what to optimise and which constraints hold for the whole MCIS. `terraform plan` shows where
# every VM goes (`planned_vms`) and the hourly cost before anything is created; a placement,
# once applied, stays until the requirements change or `replan_trigger` does.

resource "tumblebug_namespace" "demo" {
  name = "planned"
}

resource "tumblebug_mcis" "web" {
  namespace = tumblebug_namespace.demo.id
  name      = "web"

  vm_group {
    name  = "web"
    count = 4
    image = "ubuntu-22.04"
    requirements {
      vcpu       = { min = 2, max = 4 }
      memory_gib = { min = 4 }
    }
  }

  vm_group {
    name  = "db"
    count = 1
    image = "ubuntu-22.04"
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
  value = tumblebug_mcis.web.hourly_cost
}

output "max_rtt_ms" {
  value = tumblebug_mcis.web.max_rtt_ms
}

output "placement" {
  value = [for vm in tumblebug_mcis.web.planned_vms : "${vm.group}-${vm.index}: ${vm.provider}/${vm.region}/${vm.spec}"]
}

output "status" {
  value = tumblebug_mcis.web.status
}
