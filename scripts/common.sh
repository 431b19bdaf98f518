# Shared by scripts/quickstart.sh and scripts/test.sh: install prerequisites, build the provider,
# install it where `terraform init` finds it offline. Source it; do not run it.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Build output lives outside the clone so that fresh clones (and CI) reuse earlier builds.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tumblebug/target}
# Terraform must never phone home: these machines, and many CI runners, have no network.
export CHECKPOINT_DISABLE=1
PROVIDER_BIN="$CARGO_TARGET_DIR/release/terraform-provider-tumblebug"

log() { printf '==> %s\n' "$*" >&2; }

# Debian packages the build and the tests need. Installed only when missing.
ensure_packages() {
    local missing=()
    command -v protoc >/dev/null || missing+=(protobuf-compiler)
    # The `local` cloud: network namespaces, bridges and tc (iproute2), each VM's firewall (nft),
    # sshd in every VM, and the ssh client the tests use to check the VMs.
    command -v ip >/dev/null || missing+=(iproute2)
    [ -x /usr/sbin/nft ] || missing+=(nftables)
    [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
    command -v ssh >/dev/null || missing+=(openssh-client)
    # libssh2 (the remote crate's SSH layer) is built from source against the system's OpenSSL.
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        # Keep package scripts from starting a system-wide sshd: each VM runs its own.
        local policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            policy=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
            $sudo chmod +x "$policy"
        fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
        [ -z "$policy" ] || $sudo rm -f "$policy"
    fi
    command -v cargo >/dev/null || { log "cargo is missing: install Rust first"; exit 1; }
    command -v terraform >/dev/null || { log "terraform is missing: install Terraform first"; exit 1; }
}

build_provider() {
    log "building the provider (release)"
    cargo build --release --locked -p terraform-provider-tumblebug --manifest-path "$REPO_ROOT/Cargo.toml"
}

provider_version() {
    "$PROVIDER_BIN" --version | awk '{print $2}'
}

# Terraform's implied local mirror: a plain `terraform init` finds the provider here, no CLI
# configuration and no network needed.
install_provider() {
    local version dir
    version=$(provider_version)
    dir="$HOME/.terraform.d/plugins/registry.terraform.io/tumblebug/tumblebug/$version/linux_amd64"
    mkdir -p "$dir"
    install -m 0755 "$PROVIDER_BIN" "$dir/terraform-provider-tumblebug_v$version"
    log "installed provider $version into $dir"
}
