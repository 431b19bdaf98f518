resource "tumblebug_namespace" "demo" {
  name = "demo"
}

# A network for the Seoul VMs of an MCIS; groups use it with `vnet = tumblebug_vnet.seoul.name`.
resource "tumblebug_vnet" "seoul" {
  namespace   = tumblebug_namespace.demo.id
  name        = "seoul"
  cloud       = "aws"
  region      = "ap-northeast-2"
  cidr        = "10.10.0.0/16"
  subnet_cidr = "10.10.1.0/24"
}
