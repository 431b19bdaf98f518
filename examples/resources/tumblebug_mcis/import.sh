# An MCIS is imported by <namespace>/<mcis name>.
terraform import tumblebug_mcis.web demo/web
