resource "tumblebug_ssh_key" "ops" {
  namespace = tumblebug_namespace.demo.id
  name      = "ops"
  cloud     = "aws"
  region    = "ap-northeast-2"
}

# The private key is sensitive; write it to a file only where you need it.
output "ops_public_key" {
  value = tumblebug_ssh_key.ops.public_key
}
