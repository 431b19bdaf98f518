//! The `local` driver's records: one JSON file per resource under the state directory, each with
//! its tags, so that `list_tagged` works and everything survives a provider restart.
//!
//! Layout of the state directory:
//!
//! ```text
//! prefix                  the name prefix this directory belongs to (for cleanup)
//! lock                    taken while ids and addresses are handed out
//! seq                     the last number handed out
//! latency.json            the round-trip times between regions the delay router applies
//! router.lock             held (fcntl lock) by the running delay router: says which process it is
//! router.log              what the delay router says (its standard error)
//! vnets/<id>.json         VnetRecord
//! sgs/<id>.json           GroupRecord
//! keys/<id>.json          KeyRecord
//! vms/<id>/vm.json        VmRecord
//! vms/<id>/lock           held by the call working on the VM (see `Lock`)
//! vms/<id>/fs/<dir>       the VM's private paths (see `PRIVATE_PATHS`)
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::host;
use super::model::Phase;
use crate::{Connection, FirewallRule, ResourceKind, Tags};

/// A vNet: a Linux bridge whose first address the host holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VnetRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) connection: Connection,
    /// The CIDR the request asked for, kept for the record: the subnet really used comes from
    /// the driver's address pool (see the module documentation of `local`).
    pub(crate) requested_cidr: String,
    /// The subnet the request asked for, kept for the record.
    pub(crate) requested_subnet: String,
    /// The subnet really used, from the pool.
    pub(crate) subnet: String,
    pub(crate) bridge: String,
    pub(crate) tags: Tags,
}

/// A security group: its rules are enforced in the namespace of every VM created with it (see
/// `model::firewall`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GroupRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) connection: Connection,
    pub(crate) vnet_id: String,
    pub(crate) ingress: Vec<FirewallRule>,
    pub(crate) egress: Vec<FirewallRule>,
    pub(crate) tags: Tags,
}

/// An SSH public key, authorised for root on the VMs created with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) connection: Connection,
    pub(crate) public_key: String,
    pub(crate) tags: Tags,
}

/// A VM: a network namespace with a veth on its vNet's bridge, a directory, and an sshd.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VmRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) connection: Connection,
    pub(crate) zone: String,
    pub(crate) spec: String,
    pub(crate) image: String,
    pub(crate) vnet_id: String,
    pub(crate) security_group_id: String,
    pub(crate) key_pair_id: String,
    pub(crate) tags: Tags,
    /// Its address on the vNet's subnet.
    pub(crate) address: String,
    pub(crate) prefix_len: u8,
    pub(crate) gateway: String,
    pub(crate) netns: String,
    pub(crate) veth: String,
    pub(crate) bridge: String,
    pub(crate) phase: Phase,
    /// Why the phase is `error`.
    pub(crate) message: Option<String>,
    /// The sshd's public host key line, once generated.
    pub(crate) host_key: Option<String>,
}

/// What every record has: enough for `list_tagged`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Common {
    pub(crate) id: String,
    pub(crate) connection: Connection,
    pub(crate) tags: Tags,
}

/// Paths inside one state directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn prefix_file(&self) -> PathBuf {
        self.root.join("prefix")
    }

    pub(crate) fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }

    pub(crate) fn seq_file(&self) -> PathBuf {
        self.root.join("seq")
    }

    /// The configured [`RegionLatency`](super::config::RegionLatency) list, for the delay router.
    pub(crate) fn latency_file(&self) -> PathBuf {
        self.root.join("latency.json")
    }

    pub(crate) fn router_lock(&self) -> PathBuf {
        self.root.join("router.lock")
    }

    pub(crate) fn router_log(&self) -> PathBuf {
        self.root.join("router.log")
    }

    /// The directory holding the records of `kind`.
    pub(crate) fn kind_dir(&self, kind: ResourceKind) -> PathBuf {
        self.root.join(match kind {
            ResourceKind::Vnet => "vnets",
            ResourceKind::SecurityGroup => "sgs",
            ResourceKind::KeyPair => "keys",
            ResourceKind::Vm => "vms",
        })
    }

    /// The record of `id` (a checked id: see `model::parse_id`).
    pub(crate) fn record(&self, kind: ResourceKind, id: &str) -> PathBuf {
        match kind {
            ResourceKind::Vm => self.vm_dir(id).join("vm.json"),
            _ => self.kind_dir(kind).join(format!("{id}.json")),
        }
    }

    pub(crate) fn vm_dir(&self, id: &str) -> PathBuf {
        self.kind_dir(ResourceKind::Vm).join(id)
    }

    pub(crate) fn vm_lock(&self, id: &str) -> PathBuf {
        self.vm_dir(id).join("lock")
    }

    /// The VM's private filesystem area.
    pub(crate) fn vm_fs(&self, id: &str) -> PathBuf {
        self.vm_dir(id).join("fs")
    }

    /// Creates the directories records go to.
    pub(crate) fn create(&self) -> io::Result<()> {
        host::make_dir(&self.root, 0o700)?;
        for kind in [
            ResourceKind::Vnet,
            ResourceKind::SecurityGroup,
            ResourceKind::KeyPair,
            ResourceKind::Vm,
        ] {
            host::make_dir(&self.kind_dir(kind), 0o700)?;
        }
        Ok(())
    }

    /// Reads a record; `Ok(None)` when it does not exist.
    pub(crate) fn read<T: DeserializeOwned>(
        &self,
        kind: ResourceKind,
        id: &str,
    ) -> io::Result<Option<T>> {
        read_json(&self.record(kind, id))
    }

    /// Writes a record atomically.
    pub(crate) fn write<T: Serialize>(
        &self,
        kind: ResourceKind,
        id: &str,
        record: &T,
    ) -> io::Result<()> {
        let text = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        host::write_file(&self.record(kind, id), &text, 0o600)
    }

    /// Removes a record; `Ok` when it is already gone.
    pub(crate) fn remove(&self, kind: ResourceKind, id: &str) -> io::Result<()> {
        match fs::remove_file(self.record(kind, id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every record of `kind`, in id order. Records that vanish while being listed (a concurrent
    /// delete) are skipped.
    pub(crate) fn all<T: DeserializeOwned>(&self, kind: ResourceKind) -> io::Result<Vec<T>> {
        let mut ids: Vec<String> = match fs::read_dir(self.kind_dir(kind)) {
            Ok(dir) => dir
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|name| match kind {
                    ResourceKind::Vm => Some(name),
                    _ => name.strip_suffix(".json").map(str::to_string),
                })
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        ids.sort();
        let mut records = Vec::new();
        for id in ids {
            if let Some(record) = self.read(kind, &id)? {
                records.push(record);
            }
        }
        Ok(records)
    }
}

pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
