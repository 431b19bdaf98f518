//! MCIS domain logic, free of Terraform types: what an MCIS is made of ([`McisSpec`]) and the
//! engine that makes the clouds match it ([`engine`]).

pub mod access;
pub mod engine;
pub mod plan;

use serde::{Deserialize, Serialize};

/// What the user asked for: the groups of VMs and their power state. Stored with the MCIS so that
/// `terraform import` can rebuild the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McisSpec {
    /// VM groups, in configuration order.
    pub groups: Vec<VmGroupSpec>,
    /// `running` or `suspended`.
    pub desired_status: DesiredStatus,
    /// The configuration's `placement` block, when groups are placed by the planner (kept for
    /// `terraform import`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<serde_json::Value>,
}

/// One `vm_group` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmGroupSpec {
    /// Group name, unique in the MCIS.
    pub name: String,
    /// Number of VMs.
    pub count: u32,
    /// Where its VMs go: one place given by the user, or one place per VM chosen by the planner.
    /// Flattened so that a fixed group is stored as `provider`, `region` and `spec` fields.
    #[serde(flatten)]
    pub place: GroupPlace,
    /// Image.
    pub image: String,
    /// Name of a `tumblebug_vnet` to use; `None` = created automatically per connection.
    pub vnet: Option<String>,
    /// Name of a `tumblebug_security_group` to use; `None` = automatic.
    pub security_group: Option<String>,
    /// Name of a `tumblebug_ssh_key` to use; `None` = automatic.
    pub ssh_key: Option<String>,
}

impl VmGroupSpec {
    /// Where VM `index` of the group goes.
    pub fn place_of(&self, index: u32) -> &VmPlace {
        match &self.place {
            GroupPlace::Fixed(place) => place,
            GroupPlace::Planned { vms, .. } => &vms[index as usize],
        }
    }
}

/// Where one VM runs: cloud, region and spec.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VmPlace {
    /// Cloud name.
    pub provider: String,
    /// Region.
    pub region: String,
    /// Spec (instance type).
    pub spec: String,
    /// Spot/preemptible instead of on-demand (the planner chose the offer's spot price).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub spot: bool,
}

impl From<&crate::store::VmRecord> for VmPlace {
    fn from(vm: &crate::store::VmRecord) -> Self {
        VmPlace {
            provider: vm.provider.clone(),
            region: vm.region.clone(),
            spec: vm.spec.clone(),
            spot: vm.spot,
        }
    }
}

/// How a group's VMs are placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GroupPlace {
    /// Every VM at the place the configuration names.
    Fixed(VmPlace),
    /// Each VM where the planner put it (`vms[index]`), for the group's `requirements` (kept
    /// as the configuration's block, so that `terraform import` can rebuild it).
    Planned {
        requirements: serde_json::Value,
        vms: Vec<VmPlace>,
    },
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
