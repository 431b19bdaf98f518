# An SSH key is imported by <namespace>/<name>.
terraform import tumblebug_ssh_key.ops demo/ops
