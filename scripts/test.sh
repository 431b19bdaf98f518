#!/usr/bin/env bash
# Set-up command 2 of 2: install what is missing, build the provider, run every test (unit tests
# and the end-to-end tests that drive the real terraform binary).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_packages
build_provider
export TUMBLEBUG_PROVIDER_BIN="$PROVIDER_BIN"
# --release shares the dependency build with the provider binary built above.
cargo test --release --locked --workspace --manifest-path "$REPO_ROOT/Cargo.toml" "$@"
