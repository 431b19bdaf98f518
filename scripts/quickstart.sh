#!/usr/bin/env bash
# Set-up command 1 of 2: install what is missing, build and install the provider, then
# `terraform init` + `terraform apply` of examples/quickstart on the embedded default cloud.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_packages
build_provider
install_provider

cd "$REPO_ROOT/examples/quickstart"
# A rebuilt binary has a new hash, so an old lock file would refuse it.
rm -f .terraform.lock.hcl
terraform init -input=false
terraform apply -auto-approve -input=false
