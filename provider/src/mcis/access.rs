//! How to reach the VMs of an MCIS over SSH: each VM's address, its pinned host key, and the
//! private key of the SSH key MCIR it was created with. Used by `tumblebug_command` and
//! `tumblebug_transfer`.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context as _, Result};
use lifecycle::UnifiedStatus;

use super::McisSpec;
use crate::mcir::{auto_name, McirKind};
use crate::store::{Store, VmRecord};

/// The running VMs that share one SSH key, and that key.
pub struct KeyGroup {
    /// The key's private half (OpenSSH text).
    pub key: remote::SecretKey,
    /// The VMs, as SSH hosts named after the VMs.
    pub hosts: Vec<remote::Host>,
}

/// The VMs of an MCIS (or of one group) as SSH sees them.
pub struct Fleet {
    /// The VMs that can be reached safely, grouped by SSH key.
    pub groups: Vec<KeyGroup>,
    /// Why each of the other VMs cannot be reached (not running, no address, no pinned host
    /// key, no private key in the store); every reason names its VM.
    pub unreachable: Vec<String>,
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
    let fleet = ssh_fleet(store, namespace, mcis, group, user)?.ok_or_else(|| match group {
        Some(group) => {
            anyhow!("there is no MCIS \"{namespace}/{mcis}\" with a vm_group \"{group}\"")
        }
        None => anyhow!("there is no MCIS \"{namespace}/{mcis}\""),
    })?;
    if !fleet.unreachable.is_empty() {
        return Err(anyhow!(fleet.unreachable.join("; ")));
    }
    if fleet.groups.is_empty() {
        return Err(anyhow!("MCIS \"{mcis}\" has no VM to run on"));
    }
    Ok(fleet.groups)
}

/// Like [`ssh_targets`], but the VMs that cannot be reached are listed instead of failing the
/// call, for work that should do what it can (removing files from the VMs that are left).
/// `None` when the MCIS (or the group) does not exist.
pub fn ssh_fleet(
    store: &Store,
    namespace: &str,
    mcis: &str,
    group: Option<&str>,
    user: &str,
) -> Result<Option<Fleet>> {
    let Some((spec, vms)) = members(store, namespace, mcis, group)? else {
        return Ok(None);
    };
    let mut unreachable = Vec::new();
    let mut by_key: BTreeMap<String, Vec<remote::Host>> = BTreeMap::new();
    for vm in vms {
        match ssh_host(&vm, user) {
            Ok(host) => {
                let key_name = spec
                    .groups
                    .iter()
                    .find(|g| g.name == vm.key.group)
                    .and_then(|g| g.ssh_key.clone())
                    .unwrap_or_else(|| auto_name(mcis, &vm.provider, &vm.region));
                by_key.entry(key_name).or_default().push(host);
            }
            Err(why) => unreachable.push(why),
        }
    }
    let mut groups = Vec::new();
    for (key_name, hosts) in by_key {
        let secret = store
            .mcir(namespace, McirKind::SshKey, &key_name)?
            .and_then(|k| k.secret);
        match secret {
            Some(secret) => groups.push(KeyGroup {
                key: remote::SecretKey::from_openssh(secret),
                hosts,
            }),
            None => unreachable.extend(hosts.iter().map(|h| {
                format!(
                    "VM {}: the private key of ssh_key \"{key_name}\" is not in the store",
                    h.name
                )
            })),
        }
    }
    Ok(Some(Fleet {
        groups,
        unreachable,
    }))
}

/// A VM's name and its cloud id, which tells it apart from an earlier VM of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmIdentity {
    /// `<mcis>-<group>-<index>`.
    pub name: String,
    /// `None` until the cloud answered its create request.
    pub cloud_id: Option<String>,
}

/// Every VM of MCIS `namespace/mcis` (only group `group`, when given), in the MCIS's order.
/// `None` when the MCIS (or the group) does not exist.
pub fn vm_ids(
    store: &Store,
    namespace: &str,
    mcis: &str,
    group: Option<&str>,
) -> Result<Option<Vec<VmIdentity>>> {
    Ok(members(store, namespace, mcis, group)?.map(|(_, vms)| {
        vms.into_iter()
            .map(|vm| VmIdentity {
                name: vm.key.name(),
                cloud_id: vm.cloud_id,
            })
            .collect()
    }))
}

/// The MCIS's spec and its VMs (only group `group`, when given); `None` when the MCIS or the
/// group does not exist.
fn members(
    store: &Store,
    namespace: &str,
    mcis: &str,
    group: Option<&str>,
) -> Result<Option<(McisSpec, Vec<VmRecord>)>> {
    let Some(record) = store.mcis(namespace, mcis)? else {
        return Ok(None);
    };
    let spec: McisSpec = serde_json::from_value(record.spec).context("the stored MCIS spec")?;
    if group.is_some_and(|group| !spec.groups.iter().any(|g| g.name == group)) {
        return Ok(None);
    }
    let vms = store
        .vms(namespace, mcis)?
        .into_iter()
        .filter(|vm| group.is_none_or(|g| g == vm.key.group))
        .collect();
    Ok(Some((spec, vms)))
}

/// The VM as an SSH host logging in as `user`, or why it cannot be reached safely. Relays
/// between VMs use the private address when the VM has one besides its public address.
fn ssh_host(vm: &VmRecord, user: &str) -> Result<remote::Host, String> {
    let name = vm.key.name();
    if vm.status != UnifiedStatus::Running {
        return Err(format!("VM {name} is {}, not Running", vm.status));
    }
    let address = vm
        .public_ip
        .clone()
        .or_else(|| vm.private_ip.clone())
        .ok_or_else(|| format!("VM {name} has no address"))?;
    let host_key = vm.host_key.as_deref().ok_or_else(|| {
        format!(
            "{} does not report VM {name}'s SSH host key, and the provider never connects \
             without a pinned one",
            vm.provider
        )
    })?;
    let mut host = remote::Host::new(&name, &address, 22, user, host_key);
    host.private_address = vm.private_ip.clone().filter(|p| *p != address);
    Ok(host)
}
