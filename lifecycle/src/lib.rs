//! The lifecycle normaliser: what each cloud says about a VM, turned into one vocabulary.
//!
//! Every cloud reports a VM's state in its own words, and some of those words mislead when read
//! alone: GCP says `TERMINATED` for a stopped VM, Alibaba says `Stopping` while it deletes a VM, GCP
//! and Azure say `stopping` during a reboot, and a VM that is simply gone has no word at all. This
//! crate turns what a cloud said ([`NativeStatus`]) into a [`UnifiedStatus`], corrects it with the
//! control [`Action`] still in flight (taken from the caller's durable journal), declares a
//! transition that outlives its deadline [`UnifiedStatus::Failed`], folds the statuses of an MCIS's
//! VMs into one line in CB-Tumblebug's format ([`aggregate`]), and says which actions a status
//! allows ([`allowed`]).
//!
//! The rules are those of `docs/lifecycle.md`: the seed talk's table of native words per cloud,
//! plus CB-Tumblebug's corrections. [`raw_status`] is the table alone; [`normalize_status`] is the
//! table plus every correction, and its documentation lists the rules by name.
//!
//! **Architecture Invariant:** this crate does no I/O. It knows nothing about Terraform, SQLite or
//! any cloud API: the caller reads the cloud and the action journal and hands the facts in as an
//! [`Observation`]. Because of that, nothing here can fail except parsing a name; every other
//! function is total on arbitrary input (unknown words become [`UnifiedStatus::Undefined`]), and
//! the tests need no fixtures.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use lifecycle::{aggregate, normalize_status, Action, NativeStatus, Observation, UnifiedStatus};
//!
//! // Alibaba stops a VM before deleting it; read alone, `Stopping` would say Suspending.
//! let native = NativeStatus::word("Stopping");
//! let obs = Observation {
//!     cloud: "alibaba".parse().unwrap(),
//!     native: &native,
//!     action: Some(Action::Terminate),
//!     since_action: Duration::from_secs(20),
//!     deadline: Duration::from_secs(300),
//!     previous: Some(UnifiedStatus::Running),
//! };
//! let seen = normalize_status(&obs);
//! assert_eq!(seen.status, UnifiedStatus::Terminating);
//! assert_eq!(seen.reason, "alibaba reports Stopping while a terminate is in flight: terminating");
//! assert!(!seen.action_confirmed);
//!
//! // One line for the whole MCIS, as CB-Tumblebug prints it.
//! let mcis = aggregate([UnifiedStatus::Running, UnifiedStatus::Running, seen.status]);
//! assert_eq!(mcis.text, "Partial-Running:2 (R:2/3)");
//! ```

#![deny(missing_docs)]

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod aggregate;
mod native;
mod normalize;
mod transitions;

#[cfg(test)]
mod tests;

pub use aggregate::{aggregate, McisStatus, TIE_ORDER};
pub use native::raw_status;
pub use normalize::{normalize_status, REBOOT_SETTLE};
pub use transitions::{allowed, allowed_actions};

/// A cloud whose native status words this crate knows.
///
/// The names (`FromStr`, `Display`, serde) are CB-Tumblebug's provider names in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// Amazon Web Services (EC2).
    Aws,
    /// Microsoft Azure; its status is a power state plus a provisioning state.
    Azure,
    /// Google Cloud Platform (Compute Engine).
    Gcp,
    /// Alibaba Cloud (ECS).
    Alibaba,
    /// OpenStack (Nova).
    OpenStack,
    /// Cloudit.
    Cloudit,
    /// The `local` cloud of this project: VMs that are network namespaces on the provider's own
    /// host (`clouds::local`). Not in the seed; its words are that driver's own.
    Local,
}

impl Cloud {
    /// Every cloud: the seed's, in the order of its table columns, then `local`.
    pub const ALL: [Cloud; 7] = [
        Cloud::Alibaba,
        Cloud::Aws,
        Cloud::Gcp,
        Cloud::Azure,
        Cloud::OpenStack,
        Cloud::Cloudit,
        Cloud::Local,
    ];

    /// The cloud's name: `aws`, `azure`, `gcp`, `alibaba`, `openstack`, `cloudit` or `local`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Azure => "azure",
            Cloud::Gcp => "gcp",
            Cloud::Alibaba => "alibaba",
            Cloud::OpenStack => "openstack",
            Cloud::Cloudit => "cloudit",
            Cloud::Local => "local",
        }
    }
}

/// The Cloud-Barista lifecycle vocabulary, plus CB-Tumblebug's `Undefined`.
///
/// The order of the variants (used by `Ord`, so by [`McisStatus::counts`]) is the lifecycle's
/// natural order; it is not the tie-break order of [`aggregate`], which is [`TIE_ORDER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum UnifiedStatus {
    /// The VM is being created (or, for some clouds, started: see [`normalize_status`]).
    Creating,
    /// The VM is up.
    Running,
    /// The VM is being stopped.
    Suspending,
    /// The VM is stopped and can be resumed.
    Suspended,
    /// The VM is being started again after a suspend.
    Resuming,
    /// The VM is rebooting.
    Rebooting,
    /// The VM is being deleted.
    Terminating,
    /// The VM is gone. Final: see [`normalize_status`] for why it is sticky.
    Terminated,
    /// The cloud reports an error state, or a transition outlived its deadline.
    Failed,
    /// The status could not be read, or the cloud used a word this crate does not know.
    Undefined,
}

impl UnifiedStatus {
    /// Every status, in declaration order.
    pub const ALL: [UnifiedStatus; 10] = [
        UnifiedStatus::Creating,
        UnifiedStatus::Running,
        UnifiedStatus::Suspending,
        UnifiedStatus::Suspended,
        UnifiedStatus::Resuming,
        UnifiedStatus::Rebooting,
        UnifiedStatus::Terminating,
        UnifiedStatus::Terminated,
        UnifiedStatus::Failed,
        UnifiedStatus::Undefined,
    ];

    /// The status word: `Creating`, `Running`, ... exactly as CB-Tumblebug spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            UnifiedStatus::Creating => "Creating",
            UnifiedStatus::Running => "Running",
            UnifiedStatus::Suspending => "Suspending",
            UnifiedStatus::Suspended => "Suspended",
            UnifiedStatus::Resuming => "Resuming",
            UnifiedStatus::Rebooting => "Rebooting",
            UnifiedStatus::Terminating => "Terminating",
            UnifiedStatus::Terminated => "Terminated",
            UnifiedStatus::Failed => "Failed",
            UnifiedStatus::Undefined => "Undefined",
        }
    }

    /// True if and only if the status is a phase on the way to another one (Creating, Suspending,
    /// Resuming, Rebooting, Terminating). These are the statuses a deadline applies to.
    pub fn is_transitional(self) -> bool {
        matches!(
            self,
            UnifiedStatus::Creating
                | UnifiedStatus::Suspending
                | UnifiedStatus::Resuming
                | UnifiedStatus::Rebooting
                | UnifiedStatus::Terminating
        )
    }
}

/// A control action on a VM, as the journal records it before sending it to the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Create the VM.
    Create,
    /// Stop the VM, keeping its disks.
    Suspend,
    /// Start a suspended VM.
    Resume,
    /// Restart a running VM.
    Reboot,
    /// Delete the VM.
    Terminate,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 5] = [
        Action::Create,
        Action::Suspend,
        Action::Resume,
        Action::Reboot,
        Action::Terminate,
    ];

    /// The action's name in lower case: `create`, `suspend`, `resume`, `reboot`, `terminate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Reboot => "reboot",
            Action::Terminate => "terminate",
        }
    }

    /// The status that confirms the action is done.
    pub fn target(self) -> UnifiedStatus {
        match self {
            Action::Create | Action::Resume | Action::Reboot => UnifiedStatus::Running,
            Action::Suspend => UnifiedStatus::Suspended,
            Action::Terminate => UnifiedStatus::Terminated,
        }
    }

    /// The transitional status the VM is in while the action runs.
    pub fn in_progress(self) -> UnifiedStatus {
        match self {
            Action::Create => UnifiedStatus::Creating,
            Action::Suspend => UnifiedStatus::Suspending,
            Action::Resume => UnifiedStatus::Resuming,
            Action::Reboot => UnifiedStatus::Rebooting,
            Action::Terminate => UnifiedStatus::Terminating,
        }
    }
}

/// What the cloud answered when asked for a VM's status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum NativeStatus {
    /// The cloud's own status word, as it sent it. Matching is case-insensitive and treats `-`,
    /// `_` and spaces alike. Azure's is `power/provisioning`, e.g. `running/succeeded`,
    /// `stopped/succeeded`, `-/failed`, `deallocating/-`; `-` or an empty part means "not given",
    /// and the API's own prefixes (`PowerState/running/ProvisioningState/succeeded`) and display
    /// strings (`VM running`) are accepted too.
    Word(String),
    /// The cloud does not know the VM: a 404, or the VM is missing from the list.
    Absent,
    /// The status API itself failed; the message is kept for the reason shown to the user.
    Unreadable(String),
}

impl NativeStatus {
    /// Shorthand for [`NativeStatus::Word`].
    pub fn word(word: impl Into<String>) -> NativeStatus {
        NativeStatus::Word(word.into())
    }
}

/// Everything [`normalize_status`] needs to know about one VM at one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation<'a> {
    /// The cloud the VM lives in.
    pub cloud: Cloud,
    /// What the cloud said.
    pub native: &'a NativeStatus,
    /// The last control action in the journal that is not yet confirmed; `None` when nothing is in
    /// flight.
    pub action: Option<Action>,
    /// Time since the journal recorded `action`. Ignored when `action` is `None`.
    pub since_action: Duration,
    /// How long a transitional status may last, counted from the action, before it is declared
    /// [`UnifiedStatus::Failed`].
    pub deadline: Duration,
    /// The last status the journal recorded for this VM. When the journal records a retry of a
    /// failed action, it should record the action's [`Action::in_progress`] status with it, so that
    /// a `Failed` here means this very action failed.
    pub previous: Option<UnifiedStatus>,
}

/// The verdict for one VM at one poll.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Normalized {
    /// The unified status.
    pub status: UnifiedStatus,
    /// One short sentence saying why, naming what the cloud said, for the user to read.
    pub reason: String,
    /// True if and only if the cloud's own answer shows the action's [`Action::target`], so the
    /// journal can clear the action. An answer the status API could not give confirms nothing.
    pub action_confirmed: bool,
}

/// A name that is not a known cloud, status or action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What was being parsed: `cloud`, `status` or `action`.
    pub kind: &'static str,
    /// The text that did not parse.
    pub given: String,
    /// Every name that would have parsed.
    pub valid: Vec<&'static str>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} '{}': expected one of {}",
            self.kind,
            self.given,
            self.valid.join(", ")
        )
    }
}

impl std::error::Error for ParseError {}

/// Finds `given` among `all` by name, ignoring case and surrounding spaces.
fn parse_name<T: Copy>(
    kind: &'static str,
    given: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, ParseError> {
    let wanted = given.trim();
    all.iter()
        .copied()
        .find(|&item| name(item).eq_ignore_ascii_case(wanted))
        .ok_or_else(|| ParseError {
            kind,
            given: given.to_string(),
            valid: all.iter().map(|&item| name(item)).collect(),
        })
}

impl FromStr for Cloud {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Cloud, ParseError> {
        parse_name("cloud", s, &Cloud::ALL, Cloud::as_str)
    }
}

impl FromStr for UnifiedStatus {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<UnifiedStatus, ParseError> {
        parse_name("status", s, &UnifiedStatus::ALL, UnifiedStatus::as_str)
    }
}

impl FromStr for Action {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Action, ParseError> {
        parse_name("action", s, &Action::ALL, Action::as_str)
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for UnifiedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
