//! The `local` driver's settings, and the checks that turn them into what the driver uses.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::net::Cidr;

/// Where the driver keeps its state unless [`LocalConfig::state_dir`] says otherwise. Under
/// `/var/lib`, not `/run`, so that the records of what exists survive a host restart and a later
/// [`super::cleanup`] or terminate can still find them (the namespaces themselves do not survive
/// one: see the module documentation).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/tumblebug-local";

/// The default name prefix of everything the driver creates.
pub const DEFAULT_PREFIX: &str = "tb";

/// The default range the vNets' subnets are carved from: private (RFC 1918) and unusual enough
/// not to meet a host's own networks.
pub const DEFAULT_ADDRESS_POOL: &str = "10.213.0.0/16";

/// The default prefix length of each vNet's subnet: 253 VMs per vNet.
pub const DEFAULT_SUBNET_PREFIX: u8 = 24;

/// The default per-VM link rate, in Mbit/s.
pub const DEFAULT_BANDWIDTH_MBIT: u32 = 100;

/// The longest name prefix: interface names are `<prefix>b<n>` and `<prefix>v<n>`, and Linux
/// allows 15 characters, which leaves 9 digits for `n`.
pub const MAX_PREFIX_LEN: usize = 5;

/// The longest round-trip time [`RegionLatency::rtt_ms`] accepts: a minute, far beyond any place
/// on Earth, yet short enough that the delay router's queue stays within bounds.
pub const MAX_RTT_MS: u32 = 60_000;

/// The round-trip time the driver adds between the VMs of two regions: see
/// [`LocalConfig::latency`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionLatency {
    /// The two regions (the `region` of the connections), different from each other.
    pub regions: [String; 2],
    /// Round-trip time in milliseconds, 1 to [`MAX_RTT_MS`]; each direction gets half.
    pub rtt_ms: u32,
}

/// Everything configurable about the `local` driver.
///
/// Serde shape (JSON shown; every field is optional):
///
/// ```json
/// {
///   "state_dir": "/var/lib/tumblebug-local",
///   "prefix": "tb",
///   "address_pool": "10.213.0.0/16",
///   "subnet_prefix": 24,
///   "bandwidth_mbit": 100,
///   "sshd": "/usr/sbin/sshd",
///   "latency": [{ "regions": ["seoul", "virginia"], "rtt_ms": 180 }],
///   "router_command": ["/usr/bin/terraform-provider-tumblebug", "local", "delay-router"]
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    /// Where the driver keeps one JSON record per resource (with its tags) and each VM's private
    /// directory. Two drivers must not share it.
    pub state_dir: PathBuf,
    /// Prefix of every id, namespace and interface name: 1 to [`MAX_PREFIX_LEN`] lower-case
    /// letters or digits, starting with a letter. [`super::cleanup`] removes every interface and
    /// namespace carrying it, so give each state directory its own.
    pub prefix: String,
    /// IPv4 range the vNets' subnets are carved from. It must not overlap the host's own
    /// networks: the host gets the first address of every subnet, as the VMs' gateway.
    pub address_pool: String,
    /// Prefix length of each vNet's subnet, within `address_pool`.
    pub subnet_prefix: u8,
    /// Rate of each VM's link, in Mbit/s, in both directions (`tc tbf` on both ends of its veth);
    /// 0 leaves the link unlimited.
    pub bandwidth_mbit: u32,
    /// The OpenSSH server each VM runs.
    pub sshd: PathBuf,
    /// Round-trip times added between the VMs of two regions, one entry per pair of regions;
    /// pairs not listed, and VMs of one region, get none. Traffic between vNets of such regions
    /// passes through the delay router (see the module documentation).
    pub latency: Vec<RegionLatency>,
    /// The command that runs the delay router: a program and its first arguments, to which the
    /// driver appends the state directory; the program must call [`super::run_delay_router`]
    /// with it. Needed when `latency` is not empty. The provider sets it to itself
    /// (`terraform-provider-tumblebug local delay-router`).
    pub router_command: Vec<String>,
}

impl Default for LocalConfig {
    fn default() -> LocalConfig {
        LocalConfig {
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            prefix: DEFAULT_PREFIX.to_string(),
            address_pool: DEFAULT_ADDRESS_POOL.to_string(),
            subnet_prefix: DEFAULT_SUBNET_PREFIX,
            bandwidth_mbit: DEFAULT_BANDWIDTH_MBIT,
            sshd: PathBuf::from("/usr/sbin/sshd"),
            latency: Vec::new(),
            router_command: Vec::new(),
        }
    }
}

impl LocalConfig {
    /// Checks every value without touching the host; the error says what is valid.
    pub fn validate(&self) -> Result<(), String> {
        self.pool().map(|_| ())?;
        check_prefix(&self.prefix)?;
        if !self.state_dir.is_absolute() {
            return Err(format!(
                "state_dir '{}' must be an absolute path",
                self.state_dir.display()
            ));
        }
        if !self.sshd.is_absolute() {
            // sshd re-executes itself for every connection and refuses a relative path.
            return Err(format!(
                "sshd '{}' must be an absolute path",
                self.sshd.display()
            ));
        }
        self.check_latency()
    }

    /// Checks that the delay router can be started when the latency calls for it.
    fn check_latency(&self) -> Result<(), String> {
        check_latency(&self.latency).map_err(|problem| problem.to_string())?;
        if !self.latency.is_empty() && self.router_command.is_empty() {
            return Err(
                "latency needs router_command, the command that runs the delay router".to_string(),
            );
        }
        Ok(())
    }

    /// The address pool, checked against the subnet prefix: each subnet needs a gateway, at least
    /// one VM, and a broadcast address.
    pub(crate) fn pool(&self) -> Result<Cidr, String> {
        let pool = Cidr::parse(&self.address_pool)
            .map_err(|why| format!("address_pool '{}': {why}", self.address_pool))?;
        if !(pool.prefix..=29).contains(&self.subnet_prefix) {
            return Err(format!(
                "subnet_prefix {} must be from {} (the pool's own length) to 29",
                self.subnet_prefix, pool.prefix
            ));
        }
        Ok(pool)
    }
}

/// What is wrong with an entry of [`LocalConfig::latency`], for a message that points at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyProblem {
    /// The entry's index.
    pub entry: usize,
    /// `regions` or `rtt_ms`.
    pub attribute: &'static str,
    /// What is wrong, and what would do.
    pub problem: String,
}

impl std::fmt::Display for LatencyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "latency[{}].{}: {}",
            self.entry, self.attribute, self.problem
        )
    }
}

/// Checks the entries of [`LocalConfig::latency`]: two different regions each, an RTT in range,
/// and no pair given twice (either way round).
pub fn check_latency(latency: &[RegionLatency]) -> Result<(), LatencyProblem> {
    for (entry, given) in latency.iter().enumerate() {
        let wrong = |attribute, problem| LatencyProblem {
            entry,
            attribute,
            problem,
        };
        let [a, b] = &given.regions;
        if a.trim().is_empty() || b.trim().is_empty() || a == b {
            return Err(wrong(
                "regions",
                format!("{:?} must name two different regions", given.regions),
            ));
        }
        if !(1..=MAX_RTT_MS).contains(&given.rtt_ms) {
            return Err(wrong(
                "rtt_ms",
                format!(
                    "{} must be from 1 to {MAX_RTT_MS} (leave the pair out for none)",
                    given.rtt_ms
                ),
            ));
        }
        let same_pair = |other: &RegionLatency| {
            let [c, d] = &other.regions;
            (a, b) == (c, d) || (a, b) == (d, c)
        };
        if let Some(first) = latency[..entry].iter().position(same_pair) {
            return Err(wrong(
                "regions",
                format!("{a} and {b} are already given by latency[{first}]"),
            ));
        }
    }
    Ok(())
}

/// Checks a name prefix: see [`LocalConfig::prefix`].
pub(crate) fn check_prefix(prefix: &str) -> Result<(), String> {
    let starts_with_letter = prefix.starts_with(|c: char| c.is_ascii_lowercase());
    let all_allowed = prefix
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if prefix.len() <= MAX_PREFIX_LEN && starts_with_letter && all_allowed {
        Ok(())
    } else {
        Err(format!(
            "prefix '{prefix}' must be 1 to {MAX_PREFIX_LEN} lower-case letters or digits, \
             starting with a letter (interface names are limited to 15 characters)"
        ))
    }
}
