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
///   "sshd": "/usr/sbin/sshd"
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
