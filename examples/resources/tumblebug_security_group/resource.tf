# SSH from one office network and HTTP from anywhere; everything out.
resource "tumblebug_security_group" "web" {
  namespace = tumblebug_namespace.demo.id
  name      = "web"
  cloud     = "aws"
  region    = "ap-northeast-2"
  vnet_id   = tumblebug_vnet.seoul.id

  ingress {
    protocol  = "tcp"
    from_port = 22
    to_port   = 22
    cidr      = "203.0.113.0/24"
  }

  ingress {
    protocol  = "tcp"
    from_port = 80
    to_port   = 80
    cidr      = "0.0.0.0/0"
  }

  egress {
    protocol  = "all"
    from_port = 0
    to_port   = 0
    cidr      = "0.0.0.0/0"
  }
}
