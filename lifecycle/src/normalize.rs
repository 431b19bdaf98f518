//! The raw reading corrected by the action in flight, the journal's last status and the deadline.

use std::time::Duration;

use crate::native::{read, Reading};
use crate::{Action, Cloud, NativeStatus, Normalized, Observation, UnifiedStatus};

use UnifiedStatus::*;

/// How long after a reboot is recorded a `Running` answer is still taken for `Rebooting`.
///
/// EC2 says `running` all through a reboot, and GCP and Azure may still say `running` for a few
/// seconds before they start stopping, so a `Running` right after the action proves nothing.
/// The journal's `previous` cannot prove more: while a reboot is in flight it only ever holds
/// what this function returned, `Rebooting`, whether the cloud said `stopping` or a too-early
/// `running`. So time is the only evidence; the cost is that a reboot is never confirmed sooner
/// than this, which is shorter than any real cloud's reboot anyway.
pub const REBOOT_SETTLE: Duration = Duration::from_secs(30);

/// The unified status of one VM: the cloud's word, corrected by everything the journal knows.
///
/// The rules, by the names the tests use, applied in this order:
///
/// 1. **sticky-terminated**: if the journal last recorded `Terminated`, the VM is `Terminated`
///    whatever the cloud says (AWS keeps listing deleted VMs for a while, other clouds may answer
///    with stale words), unless a create is in flight, which is a new VM. A terminate is confirmed
///    only if the cloud agrees (absent, or its word for deleted).
/// 2. With no action in flight: the table ([`crate::raw_status`]), except
///    **no-action-unreadable** (an unreadable status is `Undefined`, with the error in the reason)
///    and **vanished** (an absent VM is `Terminated` with the reason "vanished outside the
///    provider", because nobody here asked for it).
/// 3. With an action in flight, the seed's corrections plus the ones its table implies:
///    - Create: **create-unreadable** and **create-absent-early** (unreadable, absent or an
///      unknown word is `Creating`: clouds list a new VM late), **create-failed-stays** (the
///      cloud's error word is `Failed`, and so is no evidence at all when the journal already
///      recorded `Failed`), **create-terminated-word** (a VM the cloud deleted during its create,
///      as EC2 does when a launch fails, is `Failed`, which allows a retry, not `Terminated`).
///    - Terminate: **terminate-gone** (absent or the cloud's deleted word: `Terminated`,
///      confirmed), **terminate-unreadable** (`Terminated`, as CB-Tumblebug does, but not
///      confirmed, so the journal keeps polling and a VM behind a flaky API is not leaked),
///      **terminate-non-final** (any other answer, `Failed` included, is `Terminating`: Alibaba's
///      `Stopping`, a VM still running before the delete starts, an errored VM being removed).
///    - Resume: **resume-suspended** (`Suspended` is `Resuming`), **resume-unreadable**,
///      **resume-starting** (a start phase the table reads as `Creating`: AWS `pending`, GCP
///      `STAGING`, Azure `starting`, which the old Azure driver reported as Creating).
///    - Suspend: **suspend-running** (`Running` is `Suspending`), **suspend-unreadable**.
///    - Reboot: **reboot-stop-start** (`Suspending`, `Suspended`, `Creating`, `Resuming`: the
///      stop and start of a GCP or Azure reboot), **reboot-unreadable**, **reboot-running-settle**
///      (`Running` is confirmed only once [`REBOOT_SETTLE`] has passed, or the deadline).
///    - Suspend, resume, reboot on an absent VM: **vanished**.
///    - Every action: **unknown-word-in-action** (a word the table does not know is the action's
///      [`Action::in_progress`] status, so the deadline can still end it), and an answer no rule
///      corrects keeps its raw reading (e.g. the cloud's error word is `Failed`).
/// 4. **deadline**: with an action in flight, a transitional status after more than
///    `obs.deadline` since the action is `Failed`, with the action, the time and the cloud's last
///    word or error in the reason: never an eternal `Resuming`. **deadline-terminate-exception**:
///    a terminate whose VM is absent or unreadable is `Terminated` by rule 3, not `Failed`.
///    With no action in flight there is no deadline (**no-action-no-deadline**): the cloud's own
///    transitional word then describes something nobody here started, and `since_action` says
///    nothing about how long it has lasted.
///
/// `action_confirmed` is true if and only if the status is the action's target and the cloud's
/// own answer shows it. The function is total: it never panics, whatever the words.
pub fn normalize_status(obs: &Observation) -> Normalized {
    let heard = Heard::new(obs.cloud, obs.native);
    let verdict = correct(obs, &heard);
    match obs.action {
        Some(action) if verdict.status.is_transitional() && obs.since_action > obs.deadline => {
            Normalized {
                status: Failed,
                reason: format!(
                    "no transition after {}s (deadline {}s) for action {}; cloud last said {}: failed",
                    obs.since_action.as_secs(),
                    obs.deadline.as_secs(),
                    action,
                    heard.last_said(),
                ),
                action_confirmed: false,
            }
        }
        _ => verdict,
    }
}

/// Rules 1 to 3: the status before the deadline is considered.
fn correct(obs: &Observation, heard: &Heard) -> Normalized {
    if obs.previous == Some(Terminated) && obs.action != Some(Action::Create) {
        return Normalized {
            status: Terminated,
            reason: format!(
                "{}, but the journal already recorded the VM as terminated, which is final: terminated",
                heard.said(false)
            ),
            action_confirmed: obs.action == Some(Action::Terminate) && heard.gone(),
        };
    }
    let Some(action) = obs.action else {
        return without_action(heard);
    };
    if heard.is_absent() && !matches!(action, Action::Create | Action::Terminate) {
        return vanished(heard, Some(action));
    }
    let raw = heard.raw();
    let status = match action {
        Action::Create => during_create(heard, raw, obs.previous),
        Action::Terminate => during_terminate(heard),
        Action::Resume => match raw {
            Suspended | Creating | Resuming | Undefined => Resuming,
            other => other,
        },
        Action::Suspend => match raw {
            Running | Suspending | Undefined => Suspending,
            other => other,
        },
        Action::Reboot => match raw {
            Suspending | Suspended | Creating | Resuming | Rebooting | Undefined => Rebooting,
            Running if obs.since_action < REBOOT_SETTLE.min(obs.deadline) => Rebooting,
            other => other,
        },
    };
    let confirmed = status == action.target() && !heard.is_unreadable();
    let mut reason = format!(
        "{} while a {} is in flight: {}",
        heard.said(status == raw),
        action,
        status.as_str().to_ascii_lowercase()
    );
    if let Some(why) = why_corrected(obs, action, heard, raw, status) {
        reason.push_str(&format!(" ({why})"));
    }
    Normalized {
        status,
        reason,
        action_confirmed: confirmed,
    }
}

fn during_create(
    heard: &Heard,
    raw: UnifiedStatus,
    previous: Option<UnifiedStatus>,
) -> UnifiedStatus {
    match raw {
        // Absent reads as Terminated in the table; an unreadable status or unknown word as
        // Undefined. During a create none of them is evidence of anything but a slow cloud.
        _ if heard.is_absent() || raw == Undefined => {
            if previous == Some(Failed) {
                Failed
            } else {
                Creating
            }
        }
        Terminated => Failed,
        other => other,
    }
}

fn during_terminate(heard: &Heard) -> UnifiedStatus {
    if heard.gone() || heard.is_unreadable() {
        Terminated
    } else {
        Terminating
    }
}

/// The explanation a correction needs beyond "X while a Y is in flight", when it is not obvious.
fn why_corrected(
    obs: &Observation,
    action: Action,
    heard: &Heard,
    raw: UnifiedStatus,
    status: UnifiedStatus,
) -> Option<String> {
    match (action, status) {
        (Action::Create, Creating) if heard.is_absent() => {
            Some("clouds list a new VM late".to_string())
        }
        (Action::Create, Failed) if heard.is_absent() || raw == Undefined => {
            Some("the journal already recorded this create as failed".to_string())
        }
        (Action::Create, Failed) if raw == Terminated => {
            Some("the cloud deleted the new VM, so the create failed".to_string())
        }
        (Action::Terminate, Terminated) if heard.is_unreadable() => {
            Some("the terminate stays open until the cloud stops listing the VM".to_string())
        }
        (Action::Reboot, Rebooting) if raw == Running => Some(format!(
            "a running answer confirms a reboot only {}s after it was asked",
            REBOOT_SETTLE.min(obs.deadline).as_secs()
        )),
        _ => None,
    }
}

fn without_action(heard: &Heard) -> Normalized {
    if heard.is_absent() {
        return vanished(heard, None);
    }
    let status = heard.raw();
    Normalized {
        status,
        reason: format!(
            "{}: {}",
            heard.said(true),
            status.as_str().to_ascii_lowercase()
        ),
        action_confirmed: false,
    }
}

fn vanished(heard: &Heard, action: Option<Action>) -> Normalized {
    let during = match action {
        Some(action) => format!(" while a {action} is in flight"),
        None => String::new(),
    };
    Normalized {
        status: Terminated,
        reason: format!(
            "{}{} and no terminate was asked: it vanished outside the provider: terminated",
            heard.said(false),
            during
        ),
        action_confirmed: false,
    }
}

/// What the cloud said, with its table reading, and how to put it in a sentence.
struct Heard<'a> {
    cloud: Cloud,
    native: &'a NativeStatus,
    reading: Option<Reading>,
}

impl<'a> Heard<'a> {
    fn new(cloud: Cloud, native: &'a NativeStatus) -> Heard<'a> {
        let reading = match native {
            NativeStatus::Word(word) => read(cloud, word),
            NativeStatus::Absent | NativeStatus::Unreadable(_) => None,
        };
        Heard {
            cloud,
            native,
            reading,
        }
    }

    /// The table's reading, as [`crate::raw_status`] gives it.
    fn raw(&self) -> UnifiedStatus {
        match (self.native, self.reading) {
            (NativeStatus::Absent, _) => Terminated,
            (_, Some(reading)) => reading.status,
            _ => Undefined,
        }
    }

    fn is_absent(&self) -> bool {
        matches!(self.native, NativeStatus::Absent)
    }

    fn is_unreadable(&self) -> bool {
        matches!(self.native, NativeStatus::Unreadable(_))
    }

    /// True if and only if the cloud itself says the VM is deleted.
    fn gone(&self) -> bool {
        self.raw() == Terminated
    }

    /// The cloud's answer as the start of a sentence; with `note`, a misleading word is explained.
    fn said(&self, note: bool) -> String {
        let cloud = self.cloud;
        match self.native {
            NativeStatus::Word(word) if word.trim().is_empty() => {
                format!("{cloud} reports an empty status word")
            }
            NativeStatus::Word(word) => match self.reading {
                Some(Reading {
                    note: Some(why), ..
                }) if note => format!("{cloud} reports {}, {why}", word.trim()),
                Some(_) => format!("{cloud} reports {}", word.trim()),
                None => format!(
                    "{cloud} reports {}, which is not a status word known for {cloud}",
                    word.trim()
                ),
            },
            NativeStatus::Absent => format!("{cloud} does not list the VM"),
            NativeStatus::Unreadable(message) => {
                format!("{cloud} status could not be read ({})", message.trim())
            }
        }
    }

    /// The cloud's answer for the end of the deadline sentence ("cloud last said ...").
    fn last_said(&self) -> String {
        match self.native {
            NativeStatus::Word(word) => format!("'{}'", word.trim()),
            NativeStatus::Absent => "nothing (it does not list the VM)".to_string(),
            NativeStatus::Unreadable(message) => format!("an error: {}", message.trim()),
        }
    }
}
