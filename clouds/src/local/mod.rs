//! The `local` cloud: real hosts on this machine, behind the same [`CloudDriver`] as every cloud.
//!
//! **A VM is a Linux network namespace** (`ip netns`, named after the VM's id) with:
//! - a veth pair whose VM end is `eth0` inside the namespace and whose host end
//!   (`<prefix>v<n>`) is a port of its vNet's bridge, with the VM's own address and a default
//!   route through the host;
//! - a token-bucket rate limit ([`LocalConfig::bandwidth_mbit`], `tc tbf`) on both ends, so the
//!   link is limited in both directions;
//! - a firewall (an nftables table in the namespace, `<state_dir>/vms/<id>/firewall.nft`) that
//!   drops what comes in unless it is a reply to a connection of the VM, comes from the VM
//!   itself, or is allowed by an ingress rule of its security group (`tcp`/`udp` port ranges,
//!   `icmp` or `all`, from an IPv4 CIDR: rules of other shapes are refused when the group is
//!   created); what goes out is held to the group's egress rules the same way, when it has any
//!   (a group without egress rules lets everything out, like a cloud's default group). The CIDRs are matched against the addresses VMs and the host really have (from
//!   the address pool, see below), not against the CIDRs the vNet request asked for;
//! - a private filesystem area: its directory `<state_dir>/vms/<id>/fs/` holds the paths listed
//!   in [`PRIVATE_PATHS`]: `/root`, `/tmp`, `/srv` (the place for data), `/etc/ssh` and `/run`.
//!   Its processes run in a mount namespace of their own where those paths are bind mounts of
//!   that directory, so N copies of `/srv/file` on N VMs are N files. Every other path is the
//!   host's, shared (the programs come from the host: `spec` and `image` are recorded only);
//! - an OpenSSH server (the host's `/usr/sbin/sshd`) inside both namespaces, as a daemon that
//!   outlives the provider, with its own Ed25519 host key generated at creation and the VM's key
//!   pair authorised for `root`, by key only.
//!
//! **Reaching a VM:** `ssh root@<address>` on port 22, from the host (the root namespace holds
//! the first address of every vNet's subnet, as the VMs' gateway), when its security group lets
//! port 22 in (the provider's default group does). `vm_status` gives the address
//! as both `public_ip` and `private_ip`, and the host key in
//! [`VmObservation::host_key`](crate::VmObservation::host_key): pin it (a `known_hosts` line
//! `<address> <host_key>` with `StrictHostKeyChecking yes`); the driver never asks anyone to trust
//! a key blindly.
//!
//! **A vNet is a Linux bridge** (`<prefix>b<n>`) with a subnet carved from
//! [`LocalConfig::address_pool`]; the CIDRs the request asks for are recorded but not used,
//! because every vNet shares the host's routing table and needs a subnet of its own that the
//! host does not use. VMs on one vNet reach each other through the bridge. The host forwards
//! between the vNets of the pool (IPv4 forwarding is turned on for the bridges alone) and nowhere
//! else: three policy-routing rules per bridge (`ip rule`, priorities 9100 to 9102, see
//! `model::bridge_rules`) send what a bridge forwards through the delay router's table, else to
//! the pool, else nowhere, so VMs of an MCIS in different regions reach each other and there is
//! still no way out (no NAT).
//!
//! **Latency between regions** ([`LocalConfig::latency`]: a round-trip time per pair of
//! regions) is added in user space, since this host's kernel has no `netem`: while two vNets lie
//! in regions with a round-trip time between them, the pool is routed from every bridge into a
//! TUN device (`<prefix>delay`) read by the delay router, a daemon ([`run_delay_router`], started
//! through [`LocalConfig::router_command`]) that holds each packet for half the round-trip time
//! between the regions of its source and destination and hands it back to the kernel for the
//! destination's bridge. VMs of one region, and the host, get no delay. The daemon outlives the
//! provider, as the VMs do; the driver starts it, tells it (`SIGHUP`) about new vNets and stops
//! it, with its device, when no two vNets need it any more. It adds no jitter or loss, and its
//! throughput (one thread) is well above the VMs' default link rate.
//!
//! **Status words** are the driver's own ([`Phase`]; the `local` table of the `lifecycle`
//! crate): `creating`, `running`, `stopping`, `stopped`, `starting`, `rebooting`, `terminating`,
//! `error`; a terminated VM is absent. Every action runs to its end inside the call (well under a
//! second, a few seconds for sshd to answer), so the transitional words are only seen by a
//! concurrent `vm_status`; a call holds the VM's lock file while it works, which is how a record
//! left mid-way by a process that died is told apart (it reads `error`).
//! - suspend (from `running`; a no-op when `stopped`): stops sshd and freezes (`SIGSTOP`) every
//!   other process of the VM. The namespace is the VM's process boundary, which needs no cgroup
//!   setup and works the same on cgroup v1 and v2 hosts.
//! - resume (from `stopped`; a no-op when `running`): `SIGCONT`, then starts sshd.
//! - reboot (from `running`): ends every process of the VM (`SIGTERM`, then `SIGKILL`) and starts
//!   sshd again. Files are kept.
//! - terminate (always; `Ok` when already gone): ends every process, deletes the veth, the
//!   namespace and the VM's directory and record.
//!
//! **State** lives under [`LocalConfig::state_dir`] (`/var/lib/tumblebug-local` by default), one
//! JSON record per resource with its tags, so `list_tagged` works and a restarted provider finds
//! everything. Namespaces, bridges, rules and processes do not survive a host restart; the
//! records do, and such VMs read `error` until terminated. [`cleanup`] removes every leftover of
//! a state directory after a crash, the delay router and the rules included.
//!
//! **Needs root** (network, mount namespaces, bridges): [`LocalCloud::open`] says so otherwise.
//!
//! **Not done:** latency is per pair of regions
//! only (zones of a region are one place, and there is no jitter, loss or bandwidth between
//! regions beyond each VM's link); regions and zones are free names.
//!
//! # Example
//!
//! ```no_run
//! use clouds::local::{LocalCloud, LocalConfig};
//! use clouds::{CloudDriver, Connection};
//!
//! # async fn run() -> Result<(), clouds::CloudError> {
//! let cloud = LocalCloud::open(LocalConfig::default())?;
//! let connection = Connection { provider: "local".into(), region: "home".into() };
//! let seen = cloud.vm_status(&connection, "tb-vm-1").await?;
//! if let (Some(address), Some(key)) = (seen.public_ip, seen.host_key) {
//!     println!("known_hosts: {address} {key}; then ssh root@{address}");
//! }
//! # Ok(())
//! # }
//! ```

use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lifecycle::{Action, NativeStatus};
use serde::Serialize;

use crate::net::{self, Cidr};
use crate::{
    CloudDriver, CloudError, CloudErrorKind, Connection, KeyPairRequest, ResourceKind,
    SecurityGroupRequest, TaggedResource, VmObservation, VmRequest, VnetRequest,
};

mod config;
mod host;
mod latency;
mod model;
mod router;
mod state;

#[cfg(test)]
mod tests;

pub use config::{
    check_latency, LatencyProblem, LocalConfig, RegionLatency, DEFAULT_ADDRESS_POOL,
    DEFAULT_BANDWIDTH_MBIT, DEFAULT_PREFIX, DEFAULT_STATE_DIR, DEFAULT_SUBNET_PREFIX,
    MAX_PREFIX_LEN, MAX_RTT_MS,
};
pub use model::{Phase, PRIVATE_PATHS};
pub use router::run_delay_router;

use host::Lock;
use model::{Decision, Facts};
use state::{Common, GroupRecord, KeyRecord, Layout, VmRecord, VnetRecord};

/// How long the processes of a VM get to exit on `SIGTERM` before `SIGKILL`.
const GRACE: Duration = Duration::from_secs(2);

/// The local cloud. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct LocalCloud {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: LocalConfig,
    pool: Cidr,
    layout: Layout,
}

fn error(kind: CloudErrorKind, message: String) -> CloudError {
    CloudError {
        kind,
        message: format!("local: {message}"),
    }
}

/// A failure of the host (a command, a file): retrying may help once the cause is fixed.
fn host_error(what: &str, detail: impl std::fmt::Display) -> CloudError {
    error(
        CloudErrorKind::Unavailable,
        format!("could not {what}: {detail}"),
    )
}

fn io_error(what: &str) -> impl Fn(io::Error) -> CloudError + '_ {
    move |e| host_error(what, e)
}

fn kind_word(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Vm => "VM",
        ResourceKind::Vnet => "vNet",
        ResourceKind::SecurityGroup => "security group",
        ResourceKind::KeyPair => "key pair",
    }
}

/// Something that does not exist here: `NotFound` for a VM, an invalid request for what a
/// request refers to (as real clouds answer).
fn missing(kind: ResourceKind, id: &str, connection: &Connection) -> CloudError {
    let error_kind = if kind == ResourceKind::Vm {
        CloudErrorKind::NotFound
    } else {
        CloudErrorKind::InvalidRequest
    };
    error(
        error_kind,
        format!("no {} '{id}' in {connection}", kind_word(kind)),
    )
}

/// The error when the process is not root.
fn needs_root() -> CloudError {
    error(
        CloudErrorKind::Unauthorized,
        "the local cloud needs root: it creates network and mount namespaces, bridges and veth \
         pairs and runs sshd as root (CAP_SYS_ADMIN and CAP_NET_ADMIN); run the provider as \
         root, e.g. with sudo"
            .to_string(),
    )
}

impl LocalCloud {
    /// Checks the configuration, that the process is root and that the programs it runs are
    /// installed, and creates the state directory. Creates nothing else.
    pub fn open(config: LocalConfig) -> Result<LocalCloud, CloudError> {
        config.validate().map_err(|why| {
            error(
                CloudErrorKind::InvalidRequest,
                format!("invalid configuration: {why}"),
            )
        })?;
        if !host::is_root() {
            return Err(needs_root());
        }
        let mut missing = host::missing_programs();
        if !config.sshd.is_file() {
            missing.push("sshd");
        }
        if !missing.is_empty() {
            return Err(error(
                CloudErrorKind::Unavailable,
                format!(
                    "missing programs: {} (install iproute2, nftables, util-linux, openssh-client and \
                     openssh-server; sshd is looked for at {})",
                    missing.join(", "),
                    config.sshd.display()
                ),
            ));
        }
        let pool = config.pool().map_err(|why| {
            error(
                CloudErrorKind::InvalidRequest,
                format!("invalid configuration: {why}"),
            )
        })?;
        let layout = Layout::new(&config.state_dir);
        layout
            .create()
            .map_err(io_error("create the state directory"))?;
        claim_prefix(&layout, &config.prefix)?;
        let inner = Inner {
            config,
            pool,
            layout,
        };
        // The latency may differ from what the last driver of this directory was given.
        let held = inner.global_lock()?;
        inner.sync_router(&held)?;
        drop(held);
        Ok(LocalCloud {
            inner: Arc::new(inner),
        })
    }

    /// Runs `work` on a blocking thread: every call runs commands and waits on locks.
    async fn blocking<T, F>(&self, work: F) -> Result<T, CloudError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, CloudError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| host_error("finish the call", e))?
    }
}

/// Records which prefix the state directory belongs to, so that [`cleanup`] knows which
/// interfaces and namespaces are its; refuses a directory that belongs to another prefix.
fn claim_prefix(layout: &Layout, prefix: &str) -> Result<(), CloudError> {
    match fs::read_to_string(layout.prefix_file()) {
        Ok(existing) if existing.trim() == prefix => Ok(()),
        Ok(existing) => Err(error(
            CloudErrorKind::InvalidRequest,
            format!(
                "the state directory {} belongs to prefix '{}', not '{prefix}'",
                layout.root().display(),
                existing.trim()
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            host::write_file(&layout.prefix_file(), prefix.as_bytes(), 0o600)
                .map_err(io_error("write the state directory's prefix"))
        }
        Err(e) => Err(host_error("read the state directory's prefix", e)),
    }
}

impl Inner {
    fn prefix(&self) -> &str {
        &self.config.prefix
    }

    /// The number of `id` if it is an id of `kind` this driver makes; ids are paths, so nothing
    /// else may be used.
    fn number(&self, kind: ResourceKind, id: &str) -> Option<u64> {
        model::parse_id(self.prefix(), kind, id)
    }

    /// Hands out the next number, under the global lock the caller holds.
    fn next_number(&self, _held: &Lock) -> Result<u64, CloudError> {
        let path = self.layout.seq_file();
        let last = match fs::read_to_string(&path) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|e| host_error("read the id sequence", e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(host_error("read the id sequence", e)),
        };
        let next = last + 1;
        host::write_file(&path, next.to_string().as_bytes(), 0o600)
            .map_err(io_error("write the id sequence"))?;
        Ok(next)
    }

    fn global_lock(&self) -> Result<Lock, CloudError> {
        Lock::exclusive(&self.layout.lock_file()).map_err(io_error("lock the state directory"))
    }

    /// The record of `id`, if it exists in `connection`.
    fn find<T>(
        &self,
        kind: ResourceKind,
        id: &str,
        connection: &Connection,
    ) -> Result<Option<T>, CloudError>
    where
        T: serde::de::DeserializeOwned + HasConnection,
    {
        if self.number(kind, id).is_none() {
            return Ok(None);
        }
        let record: Option<T> = self
            .layout
            .read(kind, id)
            .map_err(io_error("read a record"))?;
        Ok(record.filter(|r| r.connection() == connection))
    }

    fn write<T: Serialize>(
        &self,
        kind: ResourceKind,
        id: &str,
        record: &T,
    ) -> Result<(), CloudError> {
        self.layout
            .write(kind, id, record)
            .map_err(io_error("write a record"))
    }

    // -----------------------------------------------------------------------------------------
    // vNets, security groups, key pairs.

    fn create_vnet(&self, request: &VnetRequest) -> Result<String, CloudError> {
        let held = self.global_lock()?;
        let used: Vec<String> = self
            .layout
            .all::<VnetRecord>(ResourceKind::Vnet)
            .map_err(io_error("list vNets"))?
            .into_iter()
            .map(|v| v.subnet)
            .collect();
        let prefix_len = self.config.subnet_prefix;
        let subnet = (0..)
            .map_while(|i| self.pool.subnet(prefix_len, i))
            .find(|s| !used.contains(&s.to_string()))
            .ok_or_else(|| {
                error(
                    CloudErrorKind::Quota,
                    format!(
                        "the address pool {} has no free /{prefix_len} subnet left",
                        self.pool
                    ),
                )
            })?;
        let n = self.next_number(&held)?;
        let id = model::make_id(self.prefix(), ResourceKind::Vnet, n);
        let record = VnetRecord {
            id: id.clone(),
            name: request.name.clone(),
            connection: request.connection.clone(),
            requested_cidr: request.cidr.clone(),
            requested_subnet: request.subnet_cidr.clone(),
            subnet: subnet.to_string(),
            bridge: model::bridge_name(self.prefix(), n),
            tags: request.tags.clone(),
        };
        // The record first: a crash after it leaves something cleanup and list_tagged can find.
        self.write(ResourceKind::Vnet, &id, &record)?;
        let gateway = format!("{}/{prefix_len}", net::address(subnet, 1));
        let made = self
            .make_bridge(&record.bridge, &gateway)
            .map_err(|e| host_error("create the bridge", e))
            .and_then(|_| self.sync_router(&held));
        if let Err(e) = made {
            let _ = self.remove_bridge(&record.bridge);
            let _ = self.layout.remove(ResourceKind::Vnet, &id);
            return Err(e);
        }
        Ok(id)
    }

    /// A vNet's bridge, holding `gateway`, and forwarding what its VMs send to the other vNets
    /// (see [`model::bridge_rules`]). Forwarding is turned on for the bridge alone, so the host's
    /// other interfaces keep their setting.
    fn make_bridge(&self, bridge: &str, gateway: &str) -> Result<(), String> {
        host::run("ip", &["link", "add", bridge, "type", "bridge"])?;
        host::run("ip", &["addr", "add", gateway, "dev", bridge])?;
        host::set_interface_setting(bridge, "forwarding", "1")?;
        let table = model::route_table(self.prefix());
        for rule in model::bridge_rules(bridge, &self.pool.to_string(), table) {
            let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
            host::run("ip", &[&["-4", "rule", "add"], &rule[..]].concat())?;
        }
        host::run("ip", &["link", "set", bridge, "up"]).map(|_| ())
    }

    /// Removes a bridge and its rules.
    fn remove_bridge(&self, bridge: &str) -> Result<(), String> {
        host::delete_rules(|input| input == bridge)?;
        host::run_removal("ip", &["link", "del", bridge])
    }

    /// Makes the delay router match the vNets and the configured latency: serving, and reading
    /// the records again, while two vNets lie in regions with a delay between them; gone
    /// otherwise. Called under the global lock whenever vNets come or go, and on open.
    fn sync_router(&self, _held: &Lock) -> Result<(), CloudError> {
        let table = serde_json::to_vec_pretty(&self.config.latency)
            .map_err(|e| host_error("write the latency table", e))?;
        host::write_file(&self.layout.latency_file(), &table, 0o600)
            .map_err(io_error("write the latency table"))?;
        let needed = router::load_delays(&self.layout)
            .map_err(|e| host_error("read the latency table", e))?
            .any();
        let updated = if needed {
            let pool = self.pool.to_string();
            router::start(
                &self.layout,
                self.prefix(),
                &pool,
                &self.config.router_command,
            )
        } else {
            router::stop(&self.layout, self.prefix()).map(|_| ())
        };
        updated.map_err(|e| host_error("update the delay router", e))
    }

    fn delete_vnet(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        let held = self.global_lock()?;
        let Some(record) = self.find::<VnetRecord>(ResourceKind::Vnet, id, connection)? else {
            return Ok(());
        };
        let mut users: Vec<String> = self
            .layout
            .all::<VmRecord>(ResourceKind::Vm)
            .map_err(io_error("list VMs"))?
            .into_iter()
            .filter(|vm| vm.vnet_id == id)
            .map(|vm| vm.id)
            .collect();
        users.extend(
            self.layout
                .all::<GroupRecord>(ResourceKind::SecurityGroup)
                .map_err(io_error("list security groups"))?
                .into_iter()
                .filter(|sg| sg.vnet_id == id)
                .map(|sg| sg.id),
        );
        if !users.is_empty() {
            return Err(in_use(ResourceKind::Vnet, id, &users));
        }
        self.remove_bridge(&record.bridge)
            .map_err(|e| host_error("delete the bridge", e))?;
        self.layout
            .remove(ResourceKind::Vnet, id)
            .map_err(io_error("remove a record"))?;
        self.sync_router(&held)
    }

    /// Records a security group whose rules VMs can enforce (see [`model::accept_statement`]).
    fn create_security_group(&self, request: &SecurityGroupRequest) -> Result<String, CloudError> {
        let directions = [
            ("ingress", &request.ingress, model::Direction::Ingress),
            ("egress", &request.egress, model::Direction::Egress),
        ];
        for (name, rules, direction) in directions {
            for (i, rule) in rules.iter().enumerate() {
                model::accept_statement(rule, direction).map_err(|why| {
                    error(
                        CloudErrorKind::InvalidRequest,
                        format!("security group '{}': {name}[{i}]: {why}", request.name),
                    )
                })?;
            }
        }
        let held = self.global_lock()?;
        let connection = &request.connection;
        if self
            .find::<VnetRecord>(ResourceKind::Vnet, &request.vnet_id, connection)?
            .is_none()
        {
            return Err(missing(ResourceKind::Vnet, &request.vnet_id, connection));
        }
        let n = self.next_number(&held)?;
        let id = model::make_id(self.prefix(), ResourceKind::SecurityGroup, n);
        let record = GroupRecord {
            id: id.clone(),
            name: request.name.clone(),
            connection: connection.clone(),
            vnet_id: request.vnet_id.clone(),
            ingress: request.ingress.clone(),
            egress: request.egress.clone(),
            tags: request.tags.clone(),
        };
        self.write(ResourceKind::SecurityGroup, &id, &record)?;
        Ok(id)
    }

    fn delete_security_group(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        let _held = self.global_lock()?;
        if self
            .find::<GroupRecord>(ResourceKind::SecurityGroup, id, connection)?
            .is_none()
        {
            return Ok(());
        }
        let users: Vec<String> = self
            .layout
            .all::<VmRecord>(ResourceKind::Vm)
            .map_err(io_error("list VMs"))?
            .into_iter()
            .filter(|vm| vm.security_group_id == id)
            .map(|vm| vm.id)
            .collect();
        if !users.is_empty() {
            return Err(in_use(ResourceKind::SecurityGroup, id, &users));
        }
        self.layout
            .remove(ResourceKind::SecurityGroup, id)
            .map_err(io_error("remove a record"))
    }

    fn create_key_pair(&self, request: &KeyPairRequest) -> Result<String, CloudError> {
        let Some(public_key) = model::key_line(&request.public_key)
            .filter(|_| !request.public_key.trim().contains('\n'))
        else {
            return Err(error(
                CloudErrorKind::InvalidRequest,
                format!(
                    "key pair '{}': the public key must be one OpenSSH public key line",
                    request.name
                ),
            ));
        };
        let held = self.global_lock()?;
        let n = self.next_number(&held)?;
        let id = model::make_id(self.prefix(), ResourceKind::KeyPair, n);
        let record = KeyRecord {
            id: id.clone(),
            name: request.name.clone(),
            connection: request.connection.clone(),
            public_key,
            tags: request.tags.clone(),
        };
        self.write(ResourceKind::KeyPair, &id, &record)?;
        Ok(id)
    }

    /// Deleting a key pair leaves the VMs created with it as they are (as on real clouds: the key
    /// was copied into them).
    fn delete_key_pair(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        let _held = self.global_lock()?;
        if self
            .find::<KeyRecord>(ResourceKind::KeyPair, id, connection)?
            .is_none()
        {
            return Ok(());
        }
        self.layout
            .remove(ResourceKind::KeyPair, id)
            .map_err(io_error("remove a record"))
    }

    // -----------------------------------------------------------------------------------------
    // VMs.

    /// Hands out an id and an address, writes the record (`creating`) and takes the VM's lock,
    /// all under the global lock; then builds the VM with only the VM's lock held, so creates run
    /// in parallel. A failure removes whatever was built and the record.
    fn create_vm(&self, request: &VmRequest) -> Result<String, CloudError> {
        let connection = &request.connection;
        let (record, key, group, vm_lock) = {
            let held = self.global_lock()?;
            let vnet = self
                .find::<VnetRecord>(ResourceKind::Vnet, &request.vnet_id, connection)?
                .ok_or_else(|| missing(ResourceKind::Vnet, &request.vnet_id, connection))?;
            let group = self
                .find::<GroupRecord>(
                    ResourceKind::SecurityGroup,
                    &request.security_group_id,
                    connection,
                )?
                .ok_or_else(|| {
                    missing(
                        ResourceKind::SecurityGroup,
                        &request.security_group_id,
                        connection,
                    )
                })?;
            if group.vnet_id != vnet.id {
                return Err(error(
                    CloudErrorKind::InvalidRequest,
                    format!(
                        "security group {} belongs to vNet {}, not {}",
                        group.id, group.vnet_id, vnet.id
                    ),
                ));
            }
            let key = self
                .find::<KeyRecord>(ResourceKind::KeyPair, &request.key_pair_id, connection)?
                .ok_or_else(|| missing(ResourceKind::KeyPair, &request.key_pair_id, connection))?;
            let subnet =
                Cidr::parse(&vnet.subnet).map_err(|e| host_error("read the vNet's subnet", e))?;
            let mut used: Vec<u32> = self
                .layout
                .all::<VmRecord>(ResourceKind::Vm)
                .map_err(io_error("list VMs"))?
                .into_iter()
                .filter(|vm| vm.vnet_id == vnet.id)
                .filter_map(|vm| vm.address.parse::<Ipv4Addr>().ok())
                .map(|a| u32::from(a).wrapping_sub(subnet.base))
                .collect();
            used.sort_unstable();
            // Offset 1 is the host's (the gateway).
            let host_offset = net::lowest_free(subnet, 2, &used).ok_or_else(|| {
                error(
                    CloudErrorKind::Quota,
                    format!("subnet {subnet} of vNet {} has no free address", vnet.id),
                )
            })?;
            let n = self.next_number(&held)?;
            let id = model::make_id(self.prefix(), ResourceKind::Vm, n);
            let record = VmRecord {
                id: id.clone(),
                name: request.name.clone(),
                connection: connection.clone(),
                zone: request
                    .zone
                    .clone()
                    .unwrap_or_else(|| connection.region.clone()),
                spec: request.spec.clone(),
                image: request.image.clone(),
                vnet_id: vnet.id.clone(),
                security_group_id: group.id.clone(),
                key_pair_id: key.id.clone(),
                tags: request.tags.clone(),
                address: net::address(subnet, host_offset),
                prefix_len: subnet.prefix,
                gateway: net::address(subnet, 1),
                netns: id.clone(),
                veth: model::veth_name(self.prefix(), n),
                bridge: vnet.bridge.clone(),
                phase: Phase::Creating,
                message: None,
                host_key: None,
            };
            host::make_dir(&self.layout.vm_dir(&id), 0o700)
                .map_err(io_error("create the VM's directory"))?;
            let vm_lock =
                Lock::exclusive(&self.layout.vm_lock(&id)).map_err(io_error("lock the VM"))?;
            self.write(ResourceKind::Vm, &id, &record)?;
            (record, key, group, vm_lock)
        };
        match self.build(&record, &key.public_key, &group) {
            Ok(host_key) => {
                let record = VmRecord {
                    phase: Phase::Running,
                    host_key: Some(host_key),
                    ..record
                };
                self.write(ResourceKind::Vm, &record.id, &record)?;
                drop(vm_lock);
                Ok(record.id)
            }
            Err(e) => {
                let _ = self.tear_down(&record);
                drop(vm_lock);
                Err(host_error(&format!("create VM {}", record.id), e))
            }
        }
    }

    /// Builds a VM: its files, host key, namespace with its firewall, link and sshd. Returns its
    /// host key line.
    fn build(
        &self,
        vm: &VmRecord,
        public_key: &str,
        group: &GroupRecord,
    ) -> Result<String, String> {
        let fs_dir = self.layout.vm_fs(&vm.id);
        let io = |what: &str| {
            let what = what.to_string();
            move |e: io::Error| format!("{what}: {e}")
        };
        for (dir, _, mode) in PRIVATE_PATHS {
            host::make_dir(&fs_dir.join(dir), mode).map_err(io("create the private paths"))?;
        }
        // sshd's privilege separation directory, in the VM's own /run.
        host::make_dir(&fs_dir.join("run/sshd"), 0o755).map_err(io("create /run/sshd"))?;
        host::make_dir(&fs_dir.join("root/.ssh"), 0o700).map_err(io("create /root/.ssh"))?;
        host::write_file(
            &fs_dir.join("root/.ssh/authorized_keys"),
            format!("{public_key}\n").as_bytes(),
            0o600,
        )
        .map_err(io("write authorized_keys"))?;
        let etc = fs_dir.join("etc-ssh");
        host::write_file(
            &etc.join("sshd_config"),
            model::sshd_config().as_bytes(),
            0o644,
        )
        .map_err(io("write sshd_config"))?;
        let key_file = etc.join("ssh_host_ed25519_key");
        host::run(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "",
                "-f",
                &key_file.to_string_lossy(),
            ],
        )?;
        let host_key = fs::read_to_string(etc.join("ssh_host_ed25519_key.pub"))
            .ok()
            .and_then(|text| model::key_line(&text))
            .ok_or("ssh-keygen wrote no public host key")?;
        let (ns, veth) = (vm.netns.as_str(), vm.veth.as_str());
        let address = format!("{}/{}", vm.address, vm.prefix_len);
        host::run("ip", &["netns", "add", ns])?;
        // The firewall before any interface, so the VM is never open.
        let firewall = self.layout.vm_dir(&vm.id).join("firewall.nft");
        host::write_file(
            &firewall,
            model::firewall(&group.ingress, &group.egress)?.as_bytes(),
            0o600,
        )
        .map_err(io("write the firewall"))?;
        host::run(
            "ip",
            &[
                "netns",
                "exec",
                ns,
                "nft",
                "-f",
                &firewall.to_string_lossy(),
            ],
        )?;
        host::run(
            "ip",
            &[
                "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ],
        )?;
        host::run("ip", &["link", "set", veth, "master", &vm.bridge])?;
        host::run("ip", &["link", "set", veth, "up"])?;
        host::run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
        host::run("ip", &["-n", ns, "addr", "add", &address, "dev", "eth0"])?;
        host::run("ip", &["-n", ns, "link", "set", "eth0", "up"])?;
        host::run(
            "ip",
            &["-n", ns, "route", "add", "default", "via", &vm.gateway],
        )?;
        if self.config.bandwidth_mbit > 0 {
            let tbf = model::tbf_args(self.config.bandwidth_mbit);
            let tbf: Vec<&str> = tbf.iter().map(String::as_str).collect();
            host::run(
                "tc",
                &[&["-n", ns, "qdisc", "add", "dev", "eth0"], &tbf[..]].concat(),
            )?;
            host::run("tc", &[&["qdisc", "add", "dev", veth], &tbf[..]].concat())?;
        }
        self.start(vm)?;
        Ok(host_key)
    }

    /// Starts the VM's sshd and waits until it answers.
    fn start(&self, vm: &VmRecord) -> Result<(), String> {
        let ip: Ipv4Addr = vm
            .address
            .parse()
            .map_err(|_| format!("bad address {}", vm.address))?;
        host::start_sshd(
            &vm.netns,
            &self.layout.vm_fs(&vm.id),
            &self.config.sshd,
            SocketAddr::from((ip, 22)),
        )
    }

    /// Removes everything of a VM: processes, veth, namespace, directory (with its record).
    fn tear_down(&self, vm: &VmRecord) -> Result<(), String> {
        host::kill_all(&vm.netns, GRACE)?;
        host::run_removal("ip", &["link", "del", &vm.veth])?;
        host::run_removal("ip", &["netns", "del", &vm.netns])?;
        match fs::remove_dir_all(self.layout.vm_dir(&vm.id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(format!("remove the VM's directory: {e}"))
            }
            _ => Ok(()),
        }
    }

    /// What the host says about the VM, read while no action can start or finish.
    fn facts(&self, vm: &VmRecord, busy: bool) -> Facts {
        let pid_file = self.layout.vm_fs(&vm.id).join("run/sshd.pid");
        Facts {
            phase: vm.phase,
            busy,
            netns: host::netns_exists(&vm.netns),
            sshd: host::sshd_state(&vm.netns, &pid_file).0,
        }
    }

    fn vm_status(&self, connection: &Connection, id: &str) -> Result<VmObservation, CloudError> {
        let absent = VmObservation {
            native: NativeStatus::Absent,
            zone: None,
            public_ip: None,
            private_ip: None,
            message: None,
            host_key: None,
        };
        if self.number(ResourceKind::Vm, id).is_none() {
            return Ok(absent);
        }
        // Holding the shared lock while reading keeps any action from starting or finishing
        // meanwhile; when an action holds the lock, its record tells what it is doing.
        let busy_or_lock = match Lock::try_shared(&self.layout.vm_lock(id)) {
            Ok(lock) => lock,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(absent),
            Err(e) => return Err(host_error("lock the VM", e)),
        };
        let Some(vm) = self.find::<VmRecord>(ResourceKind::Vm, id, connection)? else {
            return Ok(absent);
        };
        let facts = self.facts(&vm, busy_or_lock.is_none());
        let (word, message) = model::observe(facts, vm.message.as_deref(), &vm.netns);
        Ok(VmObservation {
            native: NativeStatus::word(word.word()),
            zone: Some(vm.zone),
            public_ip: Some(vm.address.clone()),
            private_ip: Some(vm.address),
            message,
            host_key: vm.host_key,
        })
    }

    /// Suspend, resume, reboot or terminate, under the VM's lock.
    fn act(&self, connection: &Connection, id: &str, action: Action) -> Result<(), CloudError> {
        let gone = || match action {
            Action::Terminate => Ok(()),
            _ => Err(missing(ResourceKind::Vm, id, connection)),
        };
        if self
            .find::<VmRecord>(ResourceKind::Vm, id, connection)?
            .is_none()
        {
            return gone();
        }
        let _lock = match Lock::exclusive(&self.layout.vm_lock(id)) {
            Ok(lock) => lock,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return gone(),
            Err(e) => return Err(host_error("lock the VM", e)),
        };
        // Read again under the lock: a terminate may have removed the VM while this call waited.
        let Some(vm) = self.find::<VmRecord>(ResourceKind::Vm, id, connection)? else {
            return gone();
        };
        if action == Action::Terminate {
            self.write(
                ResourceKind::Vm,
                id,
                &VmRecord {
                    phase: Phase::Terminating,
                    ..vm.clone()
                },
            )?;
            return self
                .tear_down(&vm)
                .map_err(|e| host_error(&format!("terminate VM {id}"), e));
        }
        let (now, _) = model::observe(self.facts(&vm, false), vm.message.as_deref(), &vm.netns);
        match model::decide(action, now) {
            Decision::AlreadyThere => return Ok(()),
            Decision::Refuse => {
                return Err(error(
                    CloudErrorKind::InvalidRequest,
                    format!("cannot {action} VM {id} while it is {}", now.word()),
                ))
            }
            Decision::Act => {}
        }
        let (doing, done) = match action {
            Action::Suspend => (Phase::Stopping, Phase::Stopped),
            Action::Resume => (Phase::Starting, Phase::Running),
            _ => (Phase::Rebooting, Phase::Running),
        };
        self.write(
            ResourceKind::Vm,
            id,
            &VmRecord {
                phase: doing,
                ..vm.clone()
            },
        )?;
        let pid_file = self.layout.vm_fs(id).join("run/sshd.pid");
        let result = match action {
            Action::Suspend => {
                host::stop_sshd(&vm.netns, &pid_file);
                host::freeze(&vm.netns)
            }
            Action::Resume => {
                host::thaw(&vm.netns);
                // A server stopped by someone else serves again once thawed.
                if host::sshd_state(&vm.netns, &pid_file).0 == model::Sshd::Serving {
                    Ok(())
                } else {
                    self.start(&vm)
                }
            }
            _ => host::kill_all(&vm.netns, GRACE).and_then(|_| self.start(&vm)),
        };
        let (phase, message) = match &result {
            Ok(()) => (done, None),
            Err(e) => (Phase::Error, Some(format!("{action} failed: {e}"))),
        };
        self.write(
            ResourceKind::Vm,
            id,
            &VmRecord {
                phase,
                message,
                ..vm
            },
        )?;
        result.map_err(|e| host_error(&format!("{action} VM {id}"), e))
    }

    fn list_tagged(
        &self,
        connection: &Connection,
        key: &str,
        value: &str,
    ) -> Result<Vec<TaggedResource>, CloudError> {
        let mut found = Vec::new();
        for kind in [
            ResourceKind::Vnet,
            ResourceKind::SecurityGroup,
            ResourceKind::KeyPair,
            ResourceKind::Vm,
        ] {
            let records: Vec<Common> = self.layout.all(kind).map_err(io_error("list records"))?;
            found.extend(
                records
                    .into_iter()
                    .filter(|r| {
                        r.connection == *connection
                            && r.tags.get(key).map(String::as_str) == Some(value)
                    })
                    .map(|r| TaggedResource {
                        kind,
                        id: r.id,
                        connection: r.connection,
                        tags: r.tags,
                    }),
            );
        }
        Ok(found)
    }
}

/// A deletion refused because other resources still use the thing.
fn in_use(kind: ResourceKind, id: &str, users: &[String]) -> CloudError {
    error(
        CloudErrorKind::InvalidRequest,
        format!("{} {id} is in use by {}", kind_word(kind), users.join(", ")),
    )
}

/// Records that live in one connection.
trait HasConnection {
    fn connection(&self) -> &Connection;
}

macro_rules! has_connection {
    ($($record:ty),*) => {
        $(impl HasConnection for $record {
            fn connection(&self) -> &Connection {
                &self.connection
            }
        })*
    };
}

has_connection!(VnetRecord, GroupRecord, KeyRecord, VmRecord);

#[async_trait]
impl CloudDriver for LocalCloud {
    async fn create_vnet(&self, request: &VnetRequest) -> Result<String, CloudError> {
        let request = request.clone();
        self.blocking(move |inner| inner.create_vnet(&request))
            .await
    }

    async fn delete_vnet(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        let (connection, id) = (connection.clone(), id.to_string());
        self.blocking(move |inner| inner.delete_vnet(&connection, &id))
            .await
    }

    async fn create_security_group(
        &self,
        request: &SecurityGroupRequest,
    ) -> Result<String, CloudError> {
        let request = request.clone();
        self.blocking(move |inner| inner.create_security_group(&request))
            .await
    }

    async fn delete_security_group(
        &self,
        connection: &Connection,
        id: &str,
    ) -> Result<(), CloudError> {
        let (connection, id) = (connection.clone(), id.to_string());
        self.blocking(move |inner| inner.delete_security_group(&connection, &id))
            .await
    }

    async fn create_key_pair(&self, request: &KeyPairRequest) -> Result<String, CloudError> {
        let request = request.clone();
        self.blocking(move |inner| inner.create_key_pair(&request))
            .await
    }

    async fn delete_key_pair(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        let (connection, id) = (connection.clone(), id.to_string());
        self.blocking(move |inner| inner.delete_key_pair(&connection, &id))
            .await
    }

    async fn create_vm(&self, request: &VmRequest) -> Result<String, CloudError> {
        let request = request.clone();
        self.blocking(move |inner| inner.create_vm(&request)).await
    }

    async fn vm_status(
        &self,
        connection: &Connection,
        id: &str,
    ) -> Result<VmObservation, CloudError> {
        let (connection, id) = (connection.clone(), id.to_string());
        self.blocking(move |inner| inner.vm_status(&connection, &id))
            .await
    }

    async fn suspend_vm(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        let (connection, id) = (connection.clone(), id.to_string());
        self.blocking(move |inner| inner.act(&connection, &id, Action::Suspend))
            .await
    }

    async fn resume_vm(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        let (connection, id) = (connection.clone(), id.to_string());
        self.blocking(move |inner| inner.act(&connection, &id, Action::Resume))
            .await
    }

    async fn reboot_vm(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        let (connection, id) = (connection.clone(), id.to_string());
        self.blocking(move |inner| inner.act(&connection, &id, Action::Reboot))
            .await
    }

    async fn terminate_vm(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        let (connection, id) = (connection.clone(), id.to_string());
        self.blocking(move |inner| inner.act(&connection, &id, Action::Terminate))
            .await
    }

    async fn list_tagged(
        &self,
        connection: &Connection,
        key: &str,
        value: &str,
    ) -> Result<Vec<TaggedResource>, CloudError> {
        let (connection, key, value) = (connection.clone(), key.to_string(), value.to_string());
        self.blocking(move |inner| inner.list_tagged(&connection, &key, &value))
            .await
    }
}

/// What [`cleanup`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// Network namespaces deleted (VMs).
    pub namespaces: Vec<String>,
    /// Interfaces deleted: bridges (vNets), the host ends of veths and the delay router's TUN
    /// device.
    pub interfaces: Vec<String>,
    /// Processes ended (sshd and whatever ran in the VMs).
    pub processes: usize,
    /// True if and only if the delay router's process was running and was ended.
    pub router: bool,
    /// Policy-routing rules deleted (those of the bridges).
    pub rules: usize,
    /// True if and only if the state directory existed and was removed.
    pub removed_state_dir: bool,
}

impl CleanupReport {
    /// True if and only if there was nothing to remove.
    pub fn is_empty(&self) -> bool {
        *self == CleanupReport::default()
    }
}

/// Removes every leftover of the driver whose state directory is `state_dir`, whatever state a
/// crash left it in: the processes of its VMs, their network namespaces, its bridges and veths,
/// the bridges' policy-routing rules, the delay router (process and TUN device, whose route goes
/// with it), and the state directory itself (records and VM directories). Meant for after a
/// crash or to start over; it does not ask the provider's store, so the provider's records of
/// these VMs become stale.
///
/// Namespaces, interfaces and rules are found by name: every namespace named like a VM id, every
/// interface named like a bridge, veth or TUN device of the directory's prefix (see
/// [`LocalConfig::prefix`]) and every rule for such an interface, so that things created just
/// before a crash recorded them are found too; the router by the lock it holds. A missing state
/// directory is not an error: there is nothing to clean. Blocks for up to a few seconds per VM
/// whose processes ignore `SIGTERM`. No [`LocalCloud`] may be using the directory meanwhile.
pub fn cleanup(state_dir: &Path) -> Result<CleanupReport, CloudError> {
    let layout = Layout::new(state_dir);
    let prefix = match fs::read_to_string(layout.prefix_file()) {
        Ok(prefix) => prefix.trim().to_string(),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !state_dir.exists() => {
            return Ok(CleanupReport::default())
        }
        Err(e) => return Err(host_error("read the state directory's prefix", e)),
    };
    config::check_prefix(&prefix).map_err(|why| {
        host_error(
            &format!("trust the state directory {}", state_dir.display()),
            why,
        )
    })?;
    if !host::is_root() {
        return Err(needs_root());
    }
    let mut report = CleanupReport {
        router: router::stop_process(&layout)
            .map_err(|e| host_error("stop the delay router", e))?,
        ..CleanupReport::default()
    };
    let mut namespaces: Vec<String> = host::netns_names()
        .into_iter()
        .filter(|name| model::parse_id(&prefix, ResourceKind::Vm, name).is_some())
        .collect();
    namespaces.sort();
    for ns in namespaces {
        report.processes +=
            host::kill_all(&ns, GRACE).map_err(|e| host_error("end a VM's processes", e))?;
        host::run_removal("ip", &["netns", "del", &ns])
            .map_err(|e| host_error("delete a namespace", e))?;
        report.namespaces.push(ns);
    }
    let links =
        host::run("ip", &["-o", "link", "show"]).map_err(|e| host_error("list interfaces", e))?;
    for name in model::link_names(&links) {
        if model::is_our_interface(&prefix, &name) {
            host::run_removal("ip", &["link", "del", &name])
                .map_err(|e| host_error("delete an interface", e))?;
            report.interfaces.push(name);
        }
    }
    report.rules = host::delete_rules(|input| model::is_our_interface(&prefix, input))
        .map_err(|e| host_error("delete the routing rules", e))?;
    fs::remove_dir_all(state_dir).map_err(io_error("remove the state directory"))?;
    report.removed_state_dir = true;
    Ok(report)
}
