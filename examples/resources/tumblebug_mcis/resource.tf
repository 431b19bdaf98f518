resource "tumblebug_namespace" "demo" {
  name = "demo"
}

# Six VMs over three clouds; vNets, security groups and SSH keys are created per region.
resource "tumblebug_mcis" "web" {
  namespace      = tumblebug_namespace.demo.id
  name           = "web"
  desired_status = "running"

  vm_group {
    name     = "aws-seoul"
    count    = 2
    provider = "aws"
    region   = "ap-northeast-2"
    spec     = "t3.small"
    image    = "ubuntu-22.04"
  }

  vm_group {
    name     = "gcp-iowa"
    count    = 2
    provider = "gcp"
    region   = "us-central1"
    spec     = "e2-medium"
    image    = "ubuntu-22.04"
  }

  vm_group {
    name     = "azure-korea"
    count    = 2
    provider = "azure"
    region   = "koreacentral"
    spec     = "Standard_B2s"
    image    = "ubuntu-22.04"
  }

  timeouts = {
    create = "20m"
  }
}

output "mcis_status" {
  value = tumblebug_mcis.web.status # e.g. "Running:6 (R:6/6)"
}
