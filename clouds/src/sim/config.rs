//! The simulator's settings, as the provider block gives them: transition durations per
//! personality, how long deleted VMs stay listed, faults to inject, and the catalog.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use lifecycle::{Action, Cloud};

use super::catalog::SimCatalog;
use super::SimError;

/// How long each operation takes when `durations` does not name the personality, in seconds.
pub const DEFAULT_DURATION_SECS: f64 = 3.0;

/// How long AWS (`terminated`) and Alibaba (`Deleted`) keep listing a deleted VM, in seconds,
/// unless [`SimConfig::deleted_linger`] says otherwise. Real AWS keeps it about an hour; a minute
/// is enough to exercise the word.
pub const DEFAULT_DELETED_LINGER_SECS: f64 = 60.0;

/// Everything configurable about the simulator.
///
/// Serde shape (JSON shown; every field is optional):
///
/// ```json
/// {
///   "durations": { "aws": 3.0, "gcp": 0.5 },
///   "default_duration": 3.0,
///   "deleted_linger": 60.0,
///   "faults": [
///     { "type": "create_failure", "provider": "aws", "region": "us-east-1", "kind": "capacity" },
///     { "type": "status_error", "provider": "gcp", "region": "us-central1", "message": "503" },
///     { "type": "stuck", "provider": "azure", "phase": "resuming" }
///   ],
///   "catalog": { "regions": [ { "provider": "aws", "region": "us-east-1",
///                               "zones": ["us-east-1a"], "specs": ["t3.small"] } ] }
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seconds each operation (create, suspend, resume, reboot, terminate) takes, per
    /// personality (`aws`, `azure`, `gcp`, `alibaba`, `openstack`, `cloudit`). The operation's
    /// native words share that time. 0 makes every operation instant.
    pub durations: BTreeMap<String, f64>,
    /// Seconds for personalities `durations` does not name; [`DEFAULT_DURATION_SECS`] if unset.
    pub default_duration: Option<f64>,
    /// Seconds a deleted VM stays listed with its deleted word (AWS `terminated`, Alibaba
    /// `Deleted`) before it is absent; [`DEFAULT_DELETED_LINGER_SECS`] if unset.
    pub deleted_linger: Option<f64>,
    /// Faults to inject. They are read at every call from the configuration the simulator was
    /// opened with, so removing one and re-running Terraform removes its effect.
    pub faults: Vec<Fault>,
    /// The regions, zones and specs to accept; [`SimCatalog::builtin`] if unset.
    pub catalog: Option<SimCatalog>,
}

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// `create_vm` in this provider's region fails with the cloud's own capacity or quota error.
    CreateFailure {
        /// Cloud name.
        provider: String,
        /// Region name.
        region: String,
        /// Which error.
        kind: FaultKind,
        /// The error text to return instead of the personality's default text.
        #[serde(default)]
        message: Option<String>,
    },
    /// `vm_status` fails (`CloudErrorKind::Unavailable`) for VMs of this provider (in `region`,
    /// or in every region).
    StatusError {
        /// Cloud name.
        provider: String,
        /// Region name; every region of the provider when unset.
        #[serde(default)]
        region: Option<String>,
        /// The error text to return instead of the personality's default text.
        #[serde(default)]
        message: Option<String>,
    },
    /// VMs of this provider (in `region`, or in every region) that enter `phase` stay in its
    /// last native word and never complete it.
    ///
    /// Stuck-ness is decided twice: a VM is marked when the operation starts while the fault is
    /// configured, and a marked VM is stuck only while the fault is still configured. So removing
    /// the fault (and re-running) lets the stuck transition complete (at once if its normal
    /// duration has passed), and adding a fault never affects a transition that started without
    /// it.
    Stuck {
        /// Cloud name.
        provider: String,
        /// Region name; every region of the provider when unset.
        #[serde(default)]
        region: Option<String>,
        /// `creating`, `suspending`, `resuming`, `rebooting` or `terminating`.
        phase: String,
    },
}

/// Which create failure to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// Not enough capacity in the region or zone (`CloudErrorKind::Capacity`).
    Capacity,
    /// The account's quota is exhausted (`CloudErrorKind::Quota`).
    Quota,
}

/// The phase names [`Fault::Stuck`] accepts, in action order.
pub const STUCK_PHASES: [&str; 5] = [
    "creating",
    "suspending",
    "resuming",
    "rebooting",
    "terminating",
];

/// The action whose in-progress phase is `phase` (`creating` -> create, ...).
pub(crate) fn phase_action(phase: &str) -> Option<Action> {
    Action::ALL
        .into_iter()
        .find(|a| a.in_progress().as_str().eq_ignore_ascii_case(phase.trim()))
}

impl SimConfig {
    /// Checks every name and number, without opening anything: providers must have a
    /// personality, fault regions must be in the catalog, phases must be known, durations must be
    /// finite and not negative. The error says what is valid.
    pub fn validate(&self) -> Result<(), SimError> {
        self.resolve().map(|_| ())
    }

    pub(crate) fn resolve(&self) -> Result<Resolved, SimError> {
        let mut catalog = self.catalog.clone().unwrap_or_else(SimCatalog::builtin);
        // Provider names are matched in lower case, as `Connection` spells them.
        for region in &mut catalog.regions {
            region.provider = region.provider.trim().to_ascii_lowercase();
        }
        let seconds = |what: &str, value: f64| -> Result<i64, SimError> {
            if value.is_finite() && (0.0..=1e9).contains(&value) {
                Ok((value * 1000.0).round() as i64)
            } else {
                Err(config_error(format!(
                    "{what} is {value}: it must be a number of seconds, 0 or more"
                )))
            }
        };
        let default_ms = seconds(
            "default_duration",
            self.default_duration.unwrap_or(DEFAULT_DURATION_SECS),
        )?;
        let mut durations = BTreeMap::new();
        for cloud in Cloud::ALL {
            durations.insert(cloud, default_ms);
        }
        for (name, secs) in &self.durations {
            let cloud = personality(name)?;
            durations.insert(cloud, seconds(&format!("durations.{name}"), *secs)?);
        }
        let linger_ms = seconds(
            "deleted_linger",
            self.deleted_linger.unwrap_or(DEFAULT_DELETED_LINGER_SECS),
        )?;
        let region_known = |cloud: Cloud, region: &str| -> Result<(), SimError> {
            if catalog.region(cloud.as_str(), region).is_some() {
                Ok(())
            } else {
                Err(config_error(format!(
                    "a fault names the region '{region}' of {cloud}, which the simulator's catalog \
                     does not have; {cloud} regions: {}",
                    catalog.regions(cloud.as_str()).join(", ")
                )))
            }
        };
        let mut faults = Vec::new();
        for fault in &self.faults {
            faults.push(match fault {
                Fault::CreateFailure {
                    provider,
                    region,
                    kind,
                    message,
                } => {
                    let cloud = personality(provider)?;
                    region_known(cloud, region)?;
                    Active::CreateFailure {
                        cloud,
                        region: region.clone(),
                        kind: *kind,
                        message: message.clone(),
                    }
                }
                Fault::StatusError {
                    provider,
                    region,
                    message,
                } => {
                    let cloud = personality(provider)?;
                    if let Some(region) = region {
                        region_known(cloud, region)?;
                    }
                    Active::StatusError {
                        cloud,
                        region: region.clone(),
                        message: message.clone(),
                    }
                }
                Fault::Stuck {
                    provider,
                    region,
                    phase,
                } => {
                    let cloud = personality(provider)?;
                    if let Some(region) = region {
                        region_known(cloud, region)?;
                    }
                    let action = phase_action(phase).ok_or_else(|| {
                        config_error(format!(
                            "unknown phase '{phase}' in a stuck fault: expected one of {}",
                            STUCK_PHASES.join(", ")
                        ))
                    })?;
                    Active::Stuck {
                        cloud,
                        region: region.clone(),
                        action,
                    }
                }
            });
        }
        Ok(Resolved {
            catalog,
            durations,
            linger_ms,
            faults,
        })
    }
}

fn config_error(message: String) -> SimError {
    SimError::Config(message)
}

/// The personality called `name`.
fn personality(name: &str) -> Result<Cloud, SimError> {
    Cloud::from_str(name).map_err(|e| {
        config_error(format!(
            "the simulator has no personality '{}': expected one of {}",
            e.given,
            e.valid.join(", ")
        ))
    })
}

/// The configuration checked and turned into what the simulator looks up at every call.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) catalog: SimCatalog,
    /// Milliseconds per operation, for every personality.
    pub(crate) durations: BTreeMap<Cloud, i64>,
    pub(crate) linger_ms: i64,
    pub(crate) faults: Vec<Active>,
}

/// A checked fault.
#[derive(Debug, Clone)]
pub(crate) enum Active {
    CreateFailure {
        cloud: Cloud,
        region: String,
        kind: FaultKind,
        message: Option<String>,
    },
    StatusError {
        cloud: Cloud,
        region: Option<String>,
        message: Option<String>,
    },
    Stuck {
        cloud: Cloud,
        region: Option<String>,
        action: Action,
    },
}

impl Resolved {
    /// The create failure configured for `cloud`'s `region`, if any.
    pub(crate) fn create_failure(
        &self,
        cloud: Cloud,
        region: &str,
    ) -> Option<(FaultKind, Option<&str>)> {
        self.faults.iter().find_map(|f| match f {
            Active::CreateFailure {
                cloud: c,
                region: r,
                kind,
                message,
            } if *c == cloud && r == region => Some((*kind, message.as_deref())),
            _ => None,
        })
    }

    /// The status error configured for `cloud`'s `region`, if any: `Some(custom message)`.
    pub(crate) fn status_error(&self, cloud: Cloud, region: &str) -> Option<Option<&str>> {
        self.faults.iter().find_map(|f| match f {
            Active::StatusError {
                cloud: c,
                region: r,
                message,
            } if *c == cloud && r.as_deref().is_none_or(|r| r == region) => {
                Some(message.as_deref())
            }
            _ => None,
        })
    }

    /// True if and only if a stuck fault covers `action` in `cloud`'s `region`.
    pub(crate) fn stuck(&self, cloud: Cloud, region: &str, action: Action) -> bool {
        self.faults.iter().any(|f| {
            matches!(f, Active::Stuck { cloud: c, region: r, action: a }
                if *c == cloud && *a == action && r.as_deref().is_none_or(|r| r == region))
        })
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultKind::Capacity => "capacity",
            FaultKind::Quota => "quota",
        })
    }
}
