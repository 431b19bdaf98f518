//! How to reach the VMs of an MCIS over SSH: each VM's address, its pinned host key, and the
//! private key of the SSH key MCIR it was created with. Used by `tumblebug_command`.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context as _, Result};
use lifecycle::UnifiedStatus;

use super::McisSpec;
use crate::mcir::{auto_name, McirKind};
use crate::store::Store;

/// The running VMs that share one SSH key, and that key.
pub struct KeyGroup {
    /// The key's private half (OpenSSH text).
    pub key: remote::SecretKey,
    /// The VMs, as SSH hosts named after the VMs.
    pub hosts: Vec<remote::Host>,
}

/// The VMs of MCIS `namespace/mcis` (only group `group`, when given), grouped by SSH key. Every
/// VM must be running and have a reported address and host key: a VM that cannot be reached
/// safely is an error naming it, never a silent skip or an unpinned connection.
pub fn ssh_targets(
    store: &Store,
    namespace: &str,
    mcis: &str,
    group: Option<&str>,
    user: &str,
) -> Result<Vec<KeyGroup>> {
    let record = store
        .mcis(namespace, mcis)?
        .ok_or_else(|| anyhow!("there is no MCIS \"{namespace}/{mcis}\""))?;
    let spec: McisSpec = serde_json::from_value(record.spec).context("the stored MCIS spec")?;
    if let Some(group) = group {
        if !spec.groups.iter().any(|g| g.name == group) {
            return Err(anyhow!("MCIS \"{mcis}\" has no vm_group \"{group}\""));
        }
    }
    let mut by_key: BTreeMap<String, Vec<remote::Host>> = BTreeMap::new();
    for vm in store.vms(namespace, mcis)? {
        if group.is_some_and(|g| g != vm.key.group) {
            continue;
        }
        let name = vm.key.name();
        if vm.status != UnifiedStatus::Running {
            return Err(anyhow!("VM {name} is {}, not Running", vm.status));
        }
        let address = vm
            .public_ip
            .or(vm.private_ip)
            .ok_or_else(|| anyhow!("VM {name} has no address"))?;
        let host_key = vm.host_key.ok_or_else(|| {
            anyhow!(
                "{} does not report VM {name}'s SSH host key, and the provider never connects \
                 without a pinned one",
                vm.provider
            )
        })?;
        let key_name = spec
            .groups
            .iter()
            .find(|g| g.name == vm.key.group)
            .and_then(|g| g.ssh_key.clone())
            .unwrap_or_else(|| auto_name(mcis, &vm.provider, &vm.region));
        by_key
            .entry(key_name)
            .or_default()
            .push(remote::Host::new(&name, &address, 22, user, &host_key));
    }
    let mut groups = Vec::new();
    for (key_name, hosts) in by_key {
        let secret = store
            .mcir(namespace, McirKind::SshKey, &key_name)?
            .and_then(|k| k.secret)
            .ok_or_else(|| {
                anyhow!("the private key of ssh_key \"{key_name}\" is not in the store")
            })?;
        groups.push(KeyGroup {
            key: remote::SecretKey::from_openssh(secret),
            hosts,
        });
    }
    if groups.is_empty() {
        return Err(anyhow!("MCIS \"{mcis}\" has no VM to run on"));
    }
    Ok(groups)
}
