# A security group is imported by <namespace>/<name>.
terraform import tumblebug_security_group.web demo/web
