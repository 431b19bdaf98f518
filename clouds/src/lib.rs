//! Cloud drivers: one async interface, [`CloudDriver`], that every cloud implements, and the
//! embedded multi-cloud simulator, [`sim::SimCloud`], the default driver.
//!
//! A driver speaks one cloud's API and reports what the cloud says, in the cloud's own words
//! ([`lifecycle::NativeStatus`]); it never interprets them. Interpretation is the lifecycle
//! normaliser's job, with the action journal the provider keeps.
//!
//! **Architecture invariant:** this crate knows nothing about Terraform. The provider chooses a
//! driver per cloud name (`aws`, `azure`, ...) from its configuration and calls it through
//! [`CloudDriver`] only.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use lifecycle::NativeStatus;
use serde::{Deserialize, Serialize};

pub mod local;
mod net;
pub mod sim;

/// Tags attached to everything the provider creates. They are how a restarted provider finds
/// what an interrupted run created (adoption) and what was left behind (orphans).
pub type Tags = BTreeMap<String, String>;

/// A CB-Tumblebug "connection": one provider (cloud) and one of its regions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Connection {
    /// Cloud name: `aws`, `azure`, `gcp`, `alibaba`, `openstack`, `cloudit`, ...
    pub provider: String,
    /// Region name in the cloud's own spelling, e.g. `ap-northeast-2`.
    pub region: String,
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.region)
    }
}

/// What to create for a virtual network: one network with one subnet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VnetRequest {
    /// Where.
    pub connection: Connection,
    /// Name (unique per connection in the provider's naming scheme).
    pub name: String,
    /// Network CIDR, e.g. `10.0.0.0/16`.
    pub cidr: String,
    /// Subnet CIDR inside `cidr`, e.g. `10.0.1.0/24`.
    pub subnet_cidr: String,
    /// Tags to attach.
    pub tags: Tags,
}

/// One firewall rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRule {
    /// `tcp`, `udp`, `icmp` or `all`.
    pub protocol: String,
    /// First port (inclusive); 0 with `icmp`/`all`.
    pub from_port: u16,
    /// Last port (inclusive).
    pub to_port: u16,
    /// Source (ingress) or destination (egress) CIDR.
    pub cidr: String,
}

/// What to create for a security group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupRequest {
    /// Where.
    pub connection: Connection,
    /// Name.
    pub name: String,
    /// The cloud id of the vNet the group belongs to.
    pub vnet_id: String,
    /// Inbound rules.
    pub ingress: Vec<FirewallRule>,
    /// Outbound rules.
    pub egress: Vec<FirewallRule>,
    /// Tags to attach.
    pub tags: Tags,
}

/// An SSH public key to register with the cloud (the provider generates the pair; the private
/// key never reaches a driver).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyPairRequest {
    /// Where.
    pub connection: Connection,
    /// Name.
    pub name: String,
    /// OpenSSH public key line.
    pub public_key: String,
    /// Tags to attach.
    pub tags: Tags,
}

/// What to create for a VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmRequest {
    /// Where.
    pub connection: Connection,
    /// Zone, or `None` to let the cloud choose.
    pub zone: Option<String>,
    /// Name.
    pub name: String,
    /// Spec (instance type / size / machine type) in the cloud's own name.
    pub spec: String,
    /// Image in the cloud's own name or id.
    pub image: String,
    /// Spot (AWS), Spot priority (Azure), Spot/preemptible (GCP) instead of on-demand. Drivers
    /// without a spot market (the simulator, the local cloud) run such a VM like any other.
    pub spot: bool,
    /// Cloud id of the vNet.
    pub vnet_id: String,
    /// Cloud id of the security group.
    pub security_group_id: String,
    /// Cloud id of the key pair.
    pub key_pair_id: String,
    /// Tags to attach.
    pub tags: Tags,
}

/// What the cloud says about one VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmObservation {
    /// The native status (or absent / unreadable).
    pub native: NativeStatus,
    /// Zone the VM runs in, when the cloud says.
    pub zone: Option<String>,
    /// Public IP address, when it has one.
    pub public_ip: Option<String>,
    /// Private IP address, when it has one.
    pub private_ip: Option<String>,
    /// The cloud's last message about the VM (e.g. an error text), when there is one.
    pub message: Option<String>,
    /// The VM's SSH host key as an OpenSSH public key line (`ssh-ed25519 AAAA...`), when the
    /// cloud captured it at creation. Callers pin it (a known_hosts entry for the VM's address)
    /// so that SSH never trusts a key it is merely shown; `None` means nothing to pin (the
    /// simulator runs no SSH server), not "trust whatever answers".
    #[serde(default)]
    pub host_key: Option<String>,
}

/// Kinds of things a driver creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A virtual network.
    Vnet,
    /// A security group.
    SecurityGroup,
    /// An SSH key pair.
    KeyPair,
    /// A VM.
    Vm,
}

/// Something the cloud holds that carries a given tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaggedResource {
    /// What it is.
    pub kind: ResourceKind,
    /// The cloud's id for it.
    pub id: String,
    /// Where it is.
    pub connection: Connection,
    /// All its tags.
    pub tags: Tags,
}

/// Why a cloud refused or failed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudErrorKind {
    /// Not enough capacity for this spec in this region/zone right now (retry elsewhere).
    Capacity,
    /// The account's quota is exhausted.
    Quota,
    /// The thing does not exist.
    NotFound,
    /// The request is wrong (unknown region, spec, image, ...): retrying will not help.
    InvalidRequest,
    /// The API did not answer properly (timeouts, 5xx): retrying may help.
    Unavailable,
    /// The credentials are missing or refused.
    Unauthorized,
}

/// A cloud error, carrying the cloud's own text so users can search for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudError {
    /// Classification used by the provider to decide what to do.
    pub kind: CloudErrorKind,
    /// The cloud's own message, verbatim.
    pub message: String,
}

impl fmt::Display for CloudError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CloudError {}

/// One cloud's API. Every method is idempotent where the cloud allows it: deleting something
/// already gone succeeds, so retries and double destroys are harmless.
#[async_trait]
pub trait CloudDriver: Send + Sync {
    /// Creates a vNet with its subnet; returns its id.
    async fn create_vnet(&self, request: &VnetRequest) -> Result<String, CloudError>;
    /// Deletes a vNet; `Ok` when it is already gone.
    async fn delete_vnet(&self, connection: &Connection, id: &str) -> Result<(), CloudError>;
    /// Creates a security group; returns its id.
    async fn create_security_group(
        &self,
        request: &SecurityGroupRequest,
    ) -> Result<String, CloudError>;
    /// Deletes a security group; `Ok` when it is already gone.
    async fn delete_security_group(
        &self,
        connection: &Connection,
        id: &str,
    ) -> Result<(), CloudError>;
    /// Registers an SSH public key; returns the key pair's id.
    async fn create_key_pair(&self, request: &KeyPairRequest) -> Result<String, CloudError>;
    /// Deletes a key pair; `Ok` when it is already gone.
    async fn delete_key_pair(&self, connection: &Connection, id: &str) -> Result<(), CloudError>;
    /// Starts creating a VM; returns its id at once (the VM is then in its cloud's creating state).
    async fn create_vm(&self, request: &VmRequest) -> Result<String, CloudError>;
    /// What the cloud says about a VM now. A VM the cloud does not know is `NativeStatus::Absent`,
    /// not an error; an `Err` means the status API itself failed.
    async fn vm_status(
        &self,
        connection: &Connection,
        id: &str,
    ) -> Result<VmObservation, CloudError>;
    /// Asks the cloud to stop (suspend) a VM.
    async fn suspend_vm(&self, connection: &Connection, id: &str) -> Result<(), CloudError>;
    /// Asks the cloud to start (resume) a stopped VM.
    async fn resume_vm(&self, connection: &Connection, id: &str) -> Result<(), CloudError>;
    /// Asks the cloud to reboot a VM.
    async fn reboot_vm(&self, connection: &Connection, id: &str) -> Result<(), CloudError>;
    /// Asks the cloud to terminate (delete) a VM; `Ok` when it is already gone.
    async fn terminate_vm(&self, connection: &Connection, id: &str) -> Result<(), CloudError>;
    /// Everything in `connection` whose tags include `key = value`.
    async fn list_tagged(
        &self,
        connection: &Connection,
        key: &str,
        value: &str,
    ) -> Result<Vec<TaggedResource>, CloudError>;
}
