# The seed demo's "install and start nginx on every VM in one click". Runs again whenever
# `triggers` changes; a VM that fails fails the apply, named with its stderr tail.
resource "tumblebug_command" "nginx" {
  mcis_id = tumblebug_mcis.web.id
  commands = [
    "apt-get update -qq",
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx",
    "systemctl enable --now nginx",
  ]
  triggers = {
    config_version = "1"
  }
}

output "nginx_exit_codes" {
  value = { for r in tumblebug_command.nginx.results : r.vm => r.exit_code }
}
