# A vNet is imported by <namespace>/<name>.
terraform import tumblebug_vnet.seoul demo/seoul
