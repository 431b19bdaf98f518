//! What each simulated cloud says: its status words per operation, its ids and its error texts.
//!
//! The words follow the seed's table (`docs/lifecycle.md`) and the lifecycle crate's word lists,
//! traps included: GCP says `TERMINATED` for a stopped VM, Alibaba says `Stopping` while it
//! deletes a VM, GCP, Azure and Alibaba reboot by stopping and starting, and a deleted VM is absent
//! (AWS and Alibaba first list it for a while as `terminated` / `Deleted`).

use lifecycle::{Action, Cloud};

use crate::{CloudError, CloudErrorKind, ResourceKind};

/// The words an operation shows while it runs, each with its share of the operation's duration.
pub(crate) type Words = &'static [(&'static str, f64)];

/// Where a VM stood when an operation started; it changes the words of a terminate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Settled and running.
    Running,
    /// Settled and stopped.
    Stopped,
    /// In the middle of another operation.
    Busy,
}

impl Origin {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Origin::Running => "running",
            Origin::Stopped => "stopped",
            Origin::Busy => "busy",
        }
    }

    pub(crate) fn parse(s: &str) -> Origin {
        match s {
            "running" => Origin::Running,
            "stopped" => Origin::Stopped,
            _ => Origin::Busy,
        }
    }
}

/// One cloud's words.
pub(crate) struct Personality {
    /// The word of a running VM.
    pub(crate) running: &'static str,
    /// The word of a stopped VM.
    pub(crate) stopped: &'static str,
    create: Words,
    suspend: Words,
    resume: Words,
    reboot: Words,
    /// Terminate of a running (or busy) VM.
    terminate: Words,
    /// Terminate of a stopped VM.
    terminate_stopped: Words,
    /// The word a deleted VM is listed with for a while before it is absent; `None` when it is
    /// absent at once.
    pub(crate) deleted: Option<&'static str>,
    /// Host offset of the first private address a subnet hands out (clouds reserve the first few).
    pub(crate) first_host: u32,
}

const AWS: Personality = Personality {
    running: "running",
    stopped: "stopped",
    create: &[("pending", 1.0)],
    suspend: &[("stopping", 1.0)],
    resume: &[("pending", 1.0)],
    // The seed's word. Real EC2 keeps saying `running` during a reboot; the normaliser copes with
    // both, and the seed's word makes the phase visible.
    reboot: &[("rebooting", 1.0)],
    terminate: &[("shutting-down", 1.0)],
    terminate_stopped: &[("shutting-down", 1.0)],
    deleted: Some("terminated"),
    first_host: 4,
};

const GCP: Personality = Personality {
    running: "RUNNING",
    // The trap: GCP's word for a stopped VM.
    stopped: "TERMINATED",
    create: &[("PROVISIONING", 0.5), ("STAGING", 0.5)],
    suspend: &[("STOPPING", 1.0)],
    resume: &[("PROVISIONING", 0.3), ("STAGING", 0.7)],
    // The seed: a GCP reboot is a stop and a start.
    reboot: &[("STOPPING", 0.4), ("TERMINATED", 0.2), ("STAGING", 0.4)],
    terminate: &[("STOPPING", 1.0)],
    terminate_stopped: &[("TERMINATED", 1.0)],
    deleted: None,
    first_host: 2,
};

const AZURE: Personality = Personality {
    running: "running/succeeded",
    stopped: "stopped/succeeded",
    create: &[("-/creating", 0.5), ("starting/-", 0.5)],
    suspend: &[("stopping/-", 1.0)],
    resume: &[("starting/-", 1.0)],
    // The seed: an Azure reboot is a stop and a start.
    reboot: &[("stopping/-", 0.5), ("starting/-", 0.5)],
    terminate: &[("deallocating/-", 1.0)],
    terminate_stopped: &[("-/deleting", 1.0)],
    deleted: None,
    first_host: 4,
};

const ALIBABA: Personality = Personality {
    running: "Running",
    stopped: "Stopped",
    create: &[("Pending", 1.0)],
    suspend: &[("Stopping", 1.0)],
    resume: &[("Starting", 1.0)],
    reboot: &[("Stopping", 0.5), ("Starting", 0.5)],
    // The trap: Alibaba stops a VM before deleting it.
    terminate: &[("Stopping", 1.0)],
    terminate_stopped: &[("Stopped", 1.0)],
    deleted: Some("Deleted"),
    first_host: 3,
};

const OPENSTACK: Personality = Personality {
    running: "ACTIVE",
    stopped: "SHUTOFF",
    create: &[("BUILD", 1.0)],
    // Nova keeps the status while a task (powering-off, powering-on, deleting) runs: the
    // seed's "(synth)" cells.
    suspend: &[("ACTIVE", 1.0)],
    resume: &[("SHUTOFF", 1.0)],
    reboot: &[("REBOOT", 1.0)],
    terminate: &[("ACTIVE", 1.0)],
    terminate_stopped: &[("SHUTOFF", 1.0)],
    deleted: None,
    first_host: 2,
};

const CLOUDIT: Personality = Personality {
    running: "RUNNING",
    stopped: "STOPPED",
    create: &[("CREATING", 1.0)],
    suspend: &[("STOPPING", 1.0)],
    resume: &[("STARTING", 1.0)],
    reboot: &[("REBOOTING", 1.0)],
    terminate: &[("DESTROYING", 1.0)],
    terminate_stopped: &[("DESTROYING", 1.0)],
    deleted: None,
    first_host: 2,
};

/// The words of the real `local` driver (`crate::local`), so that the simulator can stand in for
/// it where namespaces cannot be made (no root).
const LOCAL: Personality = Personality {
    running: "running",
    stopped: "stopped",
    create: &[("creating", 1.0)],
    suspend: &[("stopping", 1.0)],
    resume: &[("starting", 1.0)],
    reboot: &[("rebooting", 1.0)],
    terminate: &[("terminating", 1.0)],
    terminate_stopped: &[("terminating", 1.0)],
    deleted: None,
    first_host: 2,
};

/// The personality of `cloud`.
pub(crate) fn of(cloud: Cloud) -> &'static Personality {
    match cloud {
        Cloud::Aws => &AWS,
        Cloud::Azure => &AZURE,
        Cloud::Gcp => &GCP,
        Cloud::Alibaba => &ALIBABA,
        Cloud::OpenStack => &OPENSTACK,
        Cloud::Cloudit => &CLOUDIT,
        Cloud::Local => &LOCAL,
    }
}

impl Personality {
    /// The words `action` shows while it runs, when it started from `origin`.
    pub(crate) fn words(&self, action: Action, origin: Origin) -> Words {
        match action {
            Action::Create => self.create,
            Action::Suspend => self.suspend,
            Action::Resume => self.resume,
            Action::Reboot => self.reboot,
            Action::Terminate if origin == Origin::Stopped => self.terminate_stopped,
            Action::Terminate => self.terminate,
        }
    }

    /// The word shown at `fraction` (0 to 1, excluded) of `action`'s duration.
    pub(crate) fn word_at(&self, action: Action, origin: Origin, fraction: f64) -> &'static str {
        let words = self.words(action, origin);
        let mut end = 0.0;
        for (word, share) in words {
            end += share;
            if fraction < end {
                return word;
            }
        }
        words[words.len() - 1].0
    }
}

// ---------------------------------------------------------------------------------------------
// Ids.

/// SplitMix64: a bijection on u64, so distinct sequence numbers give distinct ids.
fn mix(seq: u64) -> u64 {
    let mut z = seq.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The subscription every simulated Azure id lives in.
const AZURE_SUBSCRIPTION: &str = "5e1a0000-0000-4000-8000-00000000c10d";
/// The project every simulated GCP id lives in.
const GCP_PROJECT: &str = "tumblebug-sim";

/// True if and only if `cloud` derives ids from names, so a name can be used once per region.
pub(crate) fn ids_from_names(cloud: Cloud) -> bool {
    matches!(cloud, Cloud::Azure | Cloud::Gcp)
}

/// A new id in `cloud`'s style. `seq` is unique per store; `name`, `region` and `zone` are used by
/// the clouds whose ids are paths.
pub(crate) fn make_id(
    cloud: Cloud,
    kind: ResourceKind,
    region: &str,
    zone: &str,
    name: &str,
    seq: u64,
) -> String {
    let bits = mix(seq);
    let uuid = || {
        let more = mix(seq ^ 0x5eed);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            bits >> 32,
            (bits >> 16) & 0xffff,
            bits & 0xfff,
            0x8000 | ((more >> 48) & 0x3fff),
            more & 0xffff_ffff_ffff
        )
    };
    match cloud {
        Cloud::Aws => {
            let prefix = match kind {
                ResourceKind::Vm => "i",
                ResourceKind::Vnet => "vpc",
                ResourceKind::SecurityGroup => "sg",
                ResourceKind::KeyPair => "key",
            };
            format!("{prefix}-{:017x}", bits)
        }
        Cloud::Alibaba => {
            let prefix = match kind {
                ResourceKind::Vm => "i",
                ResourceKind::Vnet => "vpc",
                ResourceKind::SecurityGroup => "sg",
                ResourceKind::KeyPair => "kp",
            };
            format!("{prefix}-{:016x}{:04x}", bits, mix(seq ^ 0xa11) & 0xffff)
        }
        Cloud::Azure => {
            let (namespace, kind) = match kind {
                ResourceKind::Vm => ("Microsoft.Compute", "virtualMachines"),
                ResourceKind::Vnet => ("Microsoft.Network", "virtualNetworks"),
                ResourceKind::SecurityGroup => ("Microsoft.Network", "networkSecurityGroups"),
                ResourceKind::KeyPair => ("Microsoft.Compute", "sshPublicKeys"),
            };
            format!(
                "/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/tumblebug-sim-{region}\
                 /providers/{namespace}/{kind}/{name}"
            )
        }
        Cloud::Gcp => match kind {
            ResourceKind::Vm => format!("projects/{GCP_PROJECT}/zones/{zone}/instances/{name}"),
            ResourceKind::Vnet => {
                format!("projects/{GCP_PROJECT}/regions/{region}/subnetworks/{name}")
            }
            ResourceKind::SecurityGroup => {
                format!("projects/{GCP_PROJECT}/regions/{region}/firewalls/{name}")
            }
            ResourceKind::KeyPair => {
                format!("projects/{GCP_PROJECT}/regions/{region}/sshKeys/{name}")
            }
        },
        Cloud::OpenStack | Cloud::Cloudit => uuid(),
        Cloud::Local => {
            let prefix = match kind {
                ResourceKind::Vm => "vm",
                ResourceKind::Vnet => "vnet",
                ResourceKind::SecurityGroup => "sg",
                ResourceKind::KeyPair => "key",
            };
            format!("tb-{prefix}-{seq}")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Error texts.

fn err(kind: CloudErrorKind, message: String) -> CloudError {
    CloudError { kind, message }
}

fn invalid(message: String) -> CloudError {
    err(CloudErrorKind::InvalidRequest, message)
}

/// An unknown provider: no cloud to speak for, so the simulator's own words.
pub(crate) fn unknown_provider(given: &str) -> CloudError {
    let names: Vec<&str> = Cloud::ALL.iter().map(|c| c.as_str()).collect();
    invalid(format!(
        "the simulator has no cloud '{given}': it simulates {}",
        names.join(", ")
    ))
}

/// An unknown region, listing the valid ones.
pub(crate) fn unknown_region(cloud: Cloud, region: &str, valid: &[&str]) -> CloudError {
    let list = valid.join(", ");
    invalid(match cloud {
        Cloud::Aws => format!(
            "InvalidParameterValue: Invalid availability zone/region '{region}' \
             (valid regions: {list})"
        ),
        Cloud::Azure => format!(
            "LocationNotAvailableForResourceType: The provided location '{region}' is not \
             available for resource type 'Microsoft.Compute/virtualMachines'. List of available \
             regions for the resource type is '{list}'."
        ),
        Cloud::Gcp => format!(
            "400 invalid: Invalid value for field 'region': '{region}'. Unknown region. \
             (valid regions: {list})"
        ),
        Cloud::Alibaba => format!(
            "InvalidRegionId.NotFound: The specified RegionId '{region}' does not exist. \
             (valid regions: {list})"
        ),
        Cloud::OpenStack => format!(
            "EndpointNotFound: Could not find requested endpoint in Service Catalog for region \
             '{region}' (regions: {list})"
        ),
        Cloud::Cloudit => {
            format!("INVALID_REGION: region '{region}' does not exist (regions: {list})")
        }
        Cloud::Local => format!("local: unknown region '{region}' (regions: {list})"),
    })
}

/// A request field with a wrong value; `why` ends the sentence (e.g. the valid values).
pub(crate) fn invalid_parameter(cloud: Cloud, field: &str, value: &str, why: &str) -> CloudError {
    invalid(match cloud {
        Cloud::Aws => {
            format!(
                "InvalidParameterValue: Value ({value}) for parameter {field} is invalid. {why}"
            )
        }
        Cloud::Azure => format!(
            "InvalidParameter: The value '{value}' of parameter '{field}' is not valid. {why}"
        ),
        Cloud::Gcp => format!("400 invalid: Invalid value for field '{field}': '{value}'. {why}"),
        Cloud::Alibaba => format!(
            "InvalidParameter: The specified parameter \"{field}\" is not valid ('{value}'). {why}"
        ),
        Cloud::OpenStack => {
            format!("Invalid input for field/attribute {field}. Value: {value}. {why} (HTTP 400)")
        }
        Cloud::Cloudit => format!("INVALID_PARAMETER: {field} '{value}': {why}"),
        Cloud::Local => format!("local: invalid {field} '{value}': {why}"),
    })
}

/// An unknown spec, listing the valid ones.
pub(crate) fn unknown_spec(cloud: Cloud, spec: &str, zone: &str, valid: &[&str]) -> CloudError {
    let list = valid.join(", ");
    invalid(match cloud {
        Cloud::Aws => format!(
            "InvalidParameterValue: Invalid value '{spec}' for InstanceType. \
             (offered here: {list})"
        ),
        Cloud::Azure => format!(
            "InvalidParameter: The value {spec} provided for the VM size is not valid. The valid \
             sizes in the current region are: {list}."
        ),
        Cloud::Gcp => format!(
            "400 invalid: Invalid value for field 'resource.machineType': \
             'zones/{zone}/machineTypes/{spec}'. Machine type with name '{spec}' does not exist \
             in zone '{zone}'. (offered here: {list})"
        ),
        Cloud::Alibaba => format!(
            "InvalidInstanceType.ValueNotSupported: The specified InstanceType '{spec}' does not \
             exist or is not supported. (offered here: {list})"
        ),
        Cloud::OpenStack => {
            format!("Flavor {spec} could not be found. (HTTP 404) (flavors: {list})")
        }
        Cloud::Cloudit => format!("INVALID_SPEC: spec '{spec}' does not exist (specs: {list})"),
        Cloud::Local => format!("local: unknown spec '{spec}' (specs: {list})"),
    })
}

/// Something a request refers to that does not exist in the connection.
pub(crate) fn missing(cloud: Cloud, kind: ResourceKind, id: &str) -> CloudError {
    use ResourceKind::*;
    let message = match (cloud, kind) {
        (Cloud::Aws, Vnet) => format!("InvalidVpcID.NotFound: The vpc ID '{id}' does not exist"),
        (Cloud::Aws, SecurityGroup) => {
            format!("InvalidGroup.NotFound: The security group '{id}' does not exist")
        }
        (Cloud::Aws, KeyPair) => {
            format!("InvalidKeyPair.NotFound: The key pair '{id}' does not exist")
        }
        (Cloud::Aws, Vm) => {
            format!("InvalidInstanceID.NotFound: The instance ID '{id}' does not exist")
        }
        (Cloud::Azure, _) => format!("ResourceNotFound: The Resource '{id}' was not found."),
        (Cloud::Gcp, _) => format!("404 notFound: The resource '{id}' was not found"),
        (Cloud::Alibaba, kind) => {
            let (code, param) = match kind {
                Vnet => ("InvalidVpcId.NotFound", "VpcId"),
                SecurityGroup => ("InvalidSecurityGroupId.NotFound", "SecurityGroupId"),
                KeyPair => ("InvalidKeyPairName.NotFound", "KeyPairName"),
                Vm => ("InvalidInstanceId.NotFound", "InstanceId"),
            };
            format!("{code}: The specified {param} does not exist. ({id})")
        }
        (Cloud::OpenStack, kind) => match kind {
            Vnet => format!("Network {id} could not be found. (HTTP 404)"),
            SecurityGroup => format!("Security group {id} not found. (HTTP 404)"),
            KeyPair => format!("Keypair {id} not found for user. (HTTP 404)"),
            Vm => format!("Instance {id} could not be found. (HTTP 404)"),
        },
        (Cloud::Cloudit, kind) => {
            format!("NOT_FOUND: {} '{id}' does not exist", kind_word(kind))
        }
        (Cloud::Local, kind) => format!("local: no {} '{id}'", kind_word(kind)),
    };
    let kind = if kind == Vm {
        CloudErrorKind::NotFound
    } else {
        CloudErrorKind::InvalidRequest
    };
    err(kind, message)
}

fn kind_word(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Vm => "server",
        ResourceKind::Vnet => "vnet",
        ResourceKind::SecurityGroup => "security group",
        ResourceKind::KeyPair => "key pair",
    }
}

/// A security group that belongs to another vNet than the VM's.
pub(crate) fn group_not_in_vnet(cloud: Cloud, sg: &str, vnet: &str) -> CloudError {
    invalid(match cloud {
        Cloud::Aws => format!(
            "InvalidParameter: Security group {sg} and subnet of {vnet} belong to different \
             networks."
        ),
        _ => {
            let text = format!("the security group {sg} does not belong to the network {vnet}");
            return invalid_parameter(cloud, "securityGroup", sg, &text);
        }
    })
}

/// A name already used in the region by a cloud whose ids are names.
pub(crate) fn already_exists(cloud: Cloud, id: &str) -> CloudError {
    invalid(match cloud {
        Cloud::Gcp => format!("409 alreadyExists: The resource '{id}' already exists"),
        Cloud::Azure => format!(
            "Conflict: The resource '{id}' already exists and is not in a state that allows it to \
             be created again."
        ),
        Cloud::Aws => format!("InvalidKeyPair.Duplicate: The keypair '{id}' already exists."),
        Cloud::Alibaba => {
            format!("KeyPair.AlreadyExist: The key pair '{id}' already exists.")
        }
        Cloud::OpenStack => format!("Key pair '{id}' already exists. (HTTP 409)"),
        Cloud::Cloudit => format!("ALREADY_EXISTS: '{id}' already exists"),
        Cloud::Local => format!("local: '{id}' already exists"),
    })
}

/// A deletion refused because other resources still use the thing.
pub(crate) fn dependency(
    cloud: Cloud,
    kind: ResourceKind,
    id: &str,
    users: &[String],
) -> CloudError {
    let list = users.join(", ");
    let vnet = kind == ResourceKind::Vnet;
    invalid(match cloud {
        Cloud::Aws if vnet => format!(
            "DependencyViolation: The vpc '{id}' has dependencies and cannot be deleted. \
             (dependents: {list})"
        ),
        Cloud::Aws => format!("DependencyViolation: resource {id} has a dependent object ({list})"),
        Cloud::Azure if vnet => format!(
            "InUseSubnetCannotBeDeleted: Subnet default of {id} is in use by {list} and cannot be \
             deleted. In order to delete the subnet, delete all the resources within the subnet."
        ),
        Cloud::Azure => format!(
            "InUseNetworkSecurityGroupCannotBeDeleted: Network security group {id} cannot be \
             deleted because it is in use by the following resources: {list}."
        ),
        Cloud::Gcp => format!(
            "400 resourceInUseByAnotherResource: The resource '{id}' is already being used by \
             '{list}'"
        ),
        Cloud::Alibaba => format!(
            "DependencyViolation: The specified resource {id} has dependent resources: {list}."
        ),
        Cloud::OpenStack if vnet => format!(
            "Unable to complete operation on network {id}. There are one or more ports still in \
             use on the network: {list}. (HTTP 409)"
        ),
        Cloud::OpenStack => format!("Security Group {id} in use by {list}. (HTTP 409)"),
        Cloud::Cloudit => format!(
            "RESOURCE_IN_USE: {} {id} is in use by {list}",
            kind_word(kind)
        ),
        Cloud::Local => format!("local: {} {id} is in use by {list}", kind_word(kind)),
    })
}

/// An action refused because of the VM's state (`word` is what the cloud says now).
pub(crate) fn incorrect_state(
    cloud: Cloud,
    action: Action,
    id: &str,
    name: &str,
    word: &str,
) -> CloudError {
    let (verb, past) = match action {
        Action::Suspend => ("stop", "stopped"),
        Action::Resume => ("start", "started"),
        Action::Reboot => ("reboot", "rebooted"),
        Action::Create => ("create", "created"),
        Action::Terminate => ("terminate", "terminated"),
    };
    invalid(match cloud {
        Cloud::Aws => format!(
            "IncorrectInstanceState: The instance '{id}' is not in a state from which it can be \
             {past}."
        ),
        Cloud::Azure => {
            let op = match action {
                Action::Suspend => "powerOff",
                Action::Reboot => "restart",
                _ => verb,
            };
            format!(
                "OperationNotAllowed: Operation '{op}' is not allowed on VM '{name}' since the VM \
                 is in state '{word}'."
            )
        }
        Cloud::Gcp => format!(
            "400 resourceNotReady: The resource '{id}' is not ready (status {word}, cannot \
             {verb})"
        ),
        Cloud::Alibaba => format!(
            "IncorrectInstanceStatus: The current status of the resource does not support this \
             operation. (InstanceId {id}, Status {word})"
        ),
        Cloud::OpenStack => {
            let vm_state = match word {
                "SHUTOFF" => "stopped",
                "BUILD" => "building",
                _ => "active",
            };
            format!(
                "Cannot '{verb}' instance {id} while it is in vm_state {vm_state} (status {word}) \
                 (HTTP 409)"
            )
        }
        Cloud::Cloudit => format!("INVALID_STATE: cannot {verb} server {id} while it is {word}"),
        Cloud::Local => format!("local: cannot {verb} VM {id} while it is {word}"),
    })
}

/// The subnet has no free address left.
pub(crate) fn subnet_full(cloud: Cloud, subnet: &str) -> CloudError {
    invalid(match cloud {
        Cloud::Aws => format!(
            "InsufficientFreeAddressesInSubnet: There are not enough free addresses in subnet \
             {subnet} to satisfy the requested number of instances."
        ),
        Cloud::Azure => format!("SubnetIsFull: Subnet {subnet} has no more available addresses."),
        Cloud::Gcp => format!("IP_SPACE_EXHAUSTED: IP space of subnetwork {subnet} is exhausted."),
        Cloud::Alibaba => format!(
            "InvalidVSwitchId.IpNotEnough: The specified VSwitch ({subnet}) has not enough IP \
             addresses."
        ),
        Cloud::OpenStack => {
            format!("No more IP addresses available on network {subnet}. (HTTP 409)")
        }
        Cloud::Cloudit => format!("IP_EXHAUSTED: subnet {subnet} has no free address"),
        Cloud::Local => format!("local: subnet {subnet} has no free address"),
    })
}

/// The injected create failure's text.
pub(crate) fn create_failure(
    cloud: Cloud,
    quota: bool,
    spec: &str,
    region: &str,
    zone: &str,
    other_zones: &[String],
) -> String {
    let others = if other_zones.is_empty() {
        "another region".to_string()
    } else {
        other_zones.join(", ")
    };
    match (cloud, quota) {
        (Cloud::Aws, false) => format!(
            "InsufficientInstanceCapacity: We currently do not have sufficient {spec} capacity in \
             the Availability Zone you requested ({zone}). Our system will be working on \
             provisioning additional capacity. You can currently get {spec} capacity by not \
             specifying an Availability Zone in your request or choosing {others}."
        ),
        (Cloud::Aws, true) => "VcpuLimitExceeded: You have requested more vCPU capacity than your \
             current vCPU limit of 32 allows for the instance bucket that the specified instance \
             type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request \
             an adjustment to this limit."
            .to_string(),
        (Cloud::Azure, false) => format!(
            "AllocationFailed: Allocation failed. We do not have sufficient capacity for the \
             requested VM size {spec} in this region ({region}). Read more about improving \
             likelihood of allocation success at http://aka.ms/allocation-guidance"
        ),
        (Cloud::Azure, true) => format!(
            "OperationNotAllowed: Operation could not be completed as it results in exceeding \
             approved Total Regional Cores quota. Additional details - Deployment Model: Resource \
             Manager, Location: {region}, Current Limit: 10, Current Usage: 10, Additional \
             Required: 2, (Minimum) New Limit Required: 12."
        ),
        (Cloud::Gcp, false) => format!(
            "ZONE_RESOURCE_POOL_EXHAUSTED: The zone 'projects/{GCP_PROJECT}/zones/{zone}' does \
             not have enough resources available to fulfill the request. Try a different zone, \
             or try again later."
        ),
        (Cloud::Gcp, true) => {
            format!("QUOTA_EXCEEDED: Quota 'CPUS' exceeded. Limit: 24.0 in region {region}.")
        }
        (Cloud::Alibaba, false) => format!(
            "OperationDenied.NoStock: The requested resource ({spec}) is sold out in the \
             specified zone ({zone}); try other types of resources or other regions and zones."
        ),
        (Cloud::Alibaba, true) => "QuotaExceed.ElasticQuota: The number of vCPUs assigned to the \
             ECS instances has exceeded the quota in the zone. Please apply for more quota."
            .to_string(),
        (Cloud::OpenStack, false) => {
            "No valid host was found. There are not enough hosts available. (HTTP 500)".to_string()
        }
        (Cloud::OpenStack, true) => "Quota exceeded for cores: Requested 2, but already used 20 \
             of 20 cores (HTTP 403)"
            .to_string(),
        (Cloud::Cloudit, false) => format!(
            "INSUFFICIENT_RESOURCE: not enough resources in zone {zone} to create a server of \
             spec {spec}"
        ),
        (Cloud::Cloudit, true) => {
            "QUOTA_EXCEEDED: the tenant's vCPU quota is exhausted".to_string()
        }
        (Cloud::Local, false) => {
            format!("local: this host cannot start another VM of spec {spec} in {zone}")
        }
        (Cloud::Local, true) => "local: the host's VM limit is reached".to_string(),
    }
}

/// The injected status-API failure's text.
pub(crate) fn status_failure(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Aws => {
            "InternalError: An internal error has occurred. (Service: Ec2, Status Code: 500)"
        }
        Cloud::Azure => {
            "InternalServerError: An unexpected error occured while processing the request."
        }
        Cloud::Gcp => "503 backendError: Internal error. Please try again.",
        Cloud::Alibaba => {
            "ServiceUnavailable: The request has failed due to a temporary failure of the server."
        }
        Cloud::OpenStack => "Service Unavailable: The server is currently unavailable. (HTTP 503)",
        Cloud::Cloudit => "SERVICE_UNAVAILABLE: the compute service is unavailable, try later",
        Cloud::Local => "local: the state directory cannot be read",
    }
}

/// The state reason a deleted AWS/Alibaba VM is listed with.
pub(crate) fn deleted_message(cloud: Cloud) -> Option<&'static str> {
    match cloud {
        Cloud::Aws => Some("Client.UserInitiatedShutdown: User initiated shutdown"),
        _ => None,
    }
}
