//! MCIS domain logic, free of Terraform types: what an MCIS is made of ([`McisSpec`]) and the
//! engine that makes the clouds match it ([`engine`]).

pub mod access;
pub mod engine;

use serde::{Deserialize, Serialize};

/// What the user asked for: the groups of VMs and their power state. Stored with the MCIS so that
/// `terraform import` can rebuild the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McisSpec {
    /// VM groups, in configuration order.
    pub groups: Vec<VmGroupSpec>,
    /// `running` or `suspended`.
    pub desired_status: DesiredStatus,
}

/// One `vm_group` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmGroupSpec {
    /// Group name, unique in the MCIS.
    pub name: String,
    /// Number of VMs.
    pub count: u32,
    /// Cloud name.
    pub provider: String,
    /// Region.
    pub region: String,
    /// Spec (instance type).
    pub spec: String,
    /// Image.
    pub image: String,
    /// Name of a `tumblebug_vnet` to use; `None` = created automatically per connection.
    pub vnet: Option<String>,
    /// Name of a `tumblebug_security_group` to use; `None` = automatic.
    pub security_group: Option<String>,
    /// Name of a `tumblebug_ssh_key` to use; `None` = automatic.
    pub ssh_key: Option<String>,
}

/// The power state the user wants for every VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredStatus {
    /// Every VM running.
    Running,
    /// Every VM suspended (stopped).
    Suspended,
}

impl DesiredStatus {
    /// Parses the HCL value.
    pub fn parse(text: &str) -> Option<DesiredStatus> {
        match text {
            "running" => Some(DesiredStatus::Running),
            "suspended" => Some(DesiredStatus::Suspended),
            _ => None,
        }
    }
}
