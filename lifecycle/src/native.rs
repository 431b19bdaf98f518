//! Each cloud's native status words, read without any knowledge of the action in flight.
//!
//! The tables are the seed's table (`docs/lifecycle.md`), one per cloud, in the seed's row order
//! (plus `local`, this project's own cloud, which the seed does not know);
//! words below a "beyond the seed" comment are real words of that cloud's API that the seed does not
//! list. Azure is not a word list: its status is two states (power and provisioning), so it has its
//! own reader. Cells the seed marks "(synth)" have no word here: they only exist with an action in
//! flight, and `normalize` makes them.

use crate::{Cloud, NativeStatus, UnifiedStatus};

use UnifiedStatus::*;

/// What one native word means on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reading {
    /// The unified status the word stands for.
    pub(crate) status: UnifiedStatus,
    /// Why the word means that, when the word misleads (the seed's traps). Shown to the user only
    /// when no action correction changed the status, because then nothing else explains it.
    pub(crate) note: Option<&'static str>,
}

/// One row of a cloud's table.
struct Word {
    word: &'static str,
    reading: Reading,
}

const fn plain(word: &'static str, status: UnifiedStatus) -> Word {
    Word {
        word,
        reading: Reading { status, note: None },
    }
}

const fn trap(word: &'static str, status: UnifiedStatus, note: &'static str) -> Word {
    Word {
        word,
        reading: Reading {
            status,
            note: Some(note),
        },
    }
}

const ALIBABA: &[Word] = &[
    plain("Pending", Creating),
    plain("Running", Running),
    trap(
        "Stopping",
        Suspending,
        "which Alibaba also says while it deletes a VM",
    ),
    plain("Stopped", Suspended),
    plain("Deleted", Terminated),
    // Beyond the seed: ECS passes through Starting when a stopped VM is started.
    plain("Starting", Resuming),
];

const AWS: &[Word] = &[
    plain("pending", Creating),
    plain("running", Running),
    plain("stopping", Suspending),
    plain("stopped", Suspended),
    // The seed lists it; EC2 itself keeps saying running during a reboot (see `normalize`).
    plain("rebooting", Rebooting),
    plain("shutting-down", Terminating),
    trap(
        "terminated",
        Terminated,
        "which for AWS means the VM is deleted",
    ),
];

const GCP: &[Word] = &[
    plain("PROVISIONING", Creating),
    plain("STAGING", Creating),
    plain("RUNNING", Running),
    trap(
        "STOPPING",
        Suspending,
        "which GCP also says during a reboot (stop, then start)",
    ),
    trap(
        "TERMINATED",
        Suspended,
        "which is GCP's word for a stopped VM",
    ),
    // Beyond the seed: GCP's suspend-to-memory states.
    plain("SUSPENDING", Suspending),
    plain("SUSPENDED", Suspended),
];

const OPENSTACK: &[Word] = &[
    plain("BUILD", Creating),
    plain("ACTIVE", Running),
    plain("SHUTOFF", Suspended),
    plain("REBOOT", Rebooting),
    plain("ERROR", Failed),
    // Beyond the seed: Nova's other reboot, its suspend, and the words of a deleted server that is
    // still listed.
    plain("HARD_REBOOT", Rebooting),
    plain("SUSPENDED", Suspended),
    plain("DELETED", Terminated),
    plain("SOFT_DELETED", Terminated),
];

const CLOUDIT: &[Word] = &[
    plain("CREATING", Creating),
    plain("RUNNING", Running),
    plain("STOPPING", Suspending),
    plain("STOPPED", Suspended),
    plain("STARTING", Resuming),
    plain("REBOOTING", Rebooting),
    plain("DESTROYING", Terminating),
    plain("FAILED", Failed),
];

/// The words of this project's `local` driver (`clouds::local`), which names its phases after
/// what it is doing to the VM's processes. Like Cloudit it has a word for every phase, so nothing
/// here is a trap; a VM it deleted is absent.
const LOCAL: &[Word] = &[
    plain("creating", Creating),
    plain("running", Running),
    plain("stopping", Suspending),
    plain("stopped", Suspended),
    plain("starting", Resuming),
    plain("rebooting", Rebooting),
    plain("terminating", Terminating),
    plain("error", Failed),
];

/// The unified status a cloud's answer stands for, by the table alone: no action knowledge.
///
/// A word the table does not know is [`UnifiedStatus::Undefined`]; so is an unreadable status.
/// [`NativeStatus::Absent`] is [`UnifiedStatus::Terminated`], the seed's "NotExist" cell; whether
/// that is true depends on the action in flight, which is [`crate::normalize_status`]'s business.
pub fn raw_status(cloud: Cloud, native: &NativeStatus) -> UnifiedStatus {
    match native {
        NativeStatus::Word(word) => read(cloud, word).map_or(Undefined, |r| r.status),
        NativeStatus::Absent => Terminated,
        NativeStatus::Unreadable(_) => Undefined,
    }
}

/// Looks a native word up in the cloud's table; `None` if the word is unknown.
pub(crate) fn read(cloud: Cloud, word: &str) -> Option<Reading> {
    let table = match cloud {
        Cloud::Alibaba => ALIBABA,
        Cloud::Aws => AWS,
        Cloud::Gcp => GCP,
        Cloud::OpenStack => OPENSTACK,
        Cloud::Cloudit => CLOUDIT,
        Cloud::Local => LOCAL,
        Cloud::Azure => return read_azure(word),
    };
    table
        .iter()
        .find(|row| same_word(row.word, word))
        .map(|row| row.reading)
}

/// Reads Azure's `power/provisioning` pair.
///
/// A failed provisioning state wins over any power state: a VM whose provisioning failed is not
/// usable whatever its power says. Otherwise the power state decides, and the provisioning state
/// is only used when the power state is missing (Azure omits it while creating or deleting).
fn read_azure(word: &str) -> Option<Reading> {
    let (power, provisioning) = split_azure(word);
    if provisioning.as_deref() == Some("failed") {
        return Some(Reading {
            status: Failed,
            note: Some("meaning Azure's provisioning failed"),
        });
    }
    let by_power = match power.as_deref() {
        Some("starting") => Some(plain_reading(Creating)),
        Some("running") => Some(plain_reading(Running)),
        Some("stopping") => Some(Reading {
            status: Suspending,
            note: Some("which Azure also says during a reboot (stop, then start)"),
        }),
        Some("stopped") => Some(plain_reading(Suspended)),
        Some("deallocating") => Some(Reading {
            status: Terminating,
            note: Some("which Azure shows while it deletes a VM"),
        }),
        // Beyond the seed: a deallocated VM is stopped, keeps its disks and can be started again.
        Some("deallocated") => Some(plain_reading(Suspended)),
        _ => None,
    };
    by_power.or(match provisioning.as_deref() {
        // Beyond the seed: the provisioning states Azure shows while the power state is still empty.
        Some("creating") => Some(plain_reading(Creating)),
        Some("deleting") => Some(plain_reading(Terminating)),
        _ => None,
    })
}

fn plain_reading(status: UnifiedStatus) -> Reading {
    Reading { status, note: None }
}

/// Splits an Azure status into (power, provisioning), lower-cased, `None` where not given.
///
/// Accepts `running/succeeded`, `-/failed`, `deallocating/-`, a lone power state `running`, the
/// API's codes `PowerState/running/ProvisioningState/succeeded` (in either order, or only one of
/// them) and display strings such as `VM running`.
fn split_azure(word: &str) -> (Option<String>, Option<String>) {
    let mut power = None;
    let mut provisioning = None;
    let mut positional = Vec::new();
    let mut parts = word.split('/').map(|p| p.trim().to_ascii_lowercase());
    while let Some(part) = parts.next() {
        match part.as_str() {
            "powerstate" => power = parts.next(),
            "provisioningstate" => provisioning = parts.next(),
            _ => positional.push(part),
        }
    }
    let mut positional = positional.into_iter();
    let power = power.or_else(|| positional.next());
    let provisioning = provisioning.or_else(|| positional.next());
    let given = |state: Option<String>| {
        let state = state?;
        let state = state
            .strip_prefix("vm ")
            .unwrap_or(&state)
            .trim()
            .to_string();
        (!state.is_empty() && state != "-").then_some(state)
    };
    (given(power), given(provisioning))
}

/// True if and only if two words are equal ignoring ASCII case and treating `-`, `_` and space
/// alike, after trimming: clouds and their SDKs disagree on both.
fn same_word(table_word: &str, given: &str) -> bool {
    let fold = |b: u8| match b {
        b'_' | b' ' => b'-',
        other => other.to_ascii_lowercase(),
    };
    let given = given.trim();
    table_word.len() == given.len()
        && table_word
            .bytes()
            .zip(given.bytes())
            .all(|(a, b)| fold(a) == fold(b))
}
