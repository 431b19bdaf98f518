# Ship a VM image to every VM of an MCIS. `auto` picks unicast or a VM-to-VM relay from the time
# model; with a pipelined chain the machine running Terraform sends the image about once, however
# many VMs there are. Editing the image file plans an update on the next `terraform plan`.
resource "tumblebug_transfer" "image" {
  mcis_id     = tumblebug_mcis.web.id
  source      = "${path.module}/images/ubuntu-22.04.qcow2"
  destination = "/var/lib/images/ubuntu-22.04.qcow2"
  strategy    = "auto"
  # What `auto` assumes: a 10 Gbit/s uplink here, 1 Gbit/s VMs.
  source_bandwidth_mbit = 10000
  vm_bandwidth_mbit     = 1000
  timeout               = "2h"
}

output "image_copies" {
  value = {
    sha256   = tumblebug_transfer.image.sha256
    strategy = tumblebug_transfer.image.strategy_used
    seconds  = tumblebug_transfer.image.elapsed_seconds
    failed   = [for h in tumblebug_transfer.image.hosts : h.vm if h.status != "ok"]
  }
}
