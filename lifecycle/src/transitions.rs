//! Which control actions a VM's current status allows.

use crate::{Action, UnifiedStatus};

use UnifiedStatus::*;

/// The actions [`allowed`] accepts for a VM in `current`, in [`Action::ALL`] order.
///
/// - `Running`: suspend, reboot, terminate.
/// - `Suspended`: resume, terminate.
/// - A transitional status: terminate only. The seed refuses every action while a VM is
///   transitional; terminate is the exception because it is the way out of a VM stuck in a
///   phase, and clouds accept a delete in any phase. The cost: terminating a VM mid-create may
///   leave the cloud to clean up what the create had started.
/// - `Terminated`: terminate only (a no-op), as in CB-Tumblebug.
/// - `Failed`: every action. A VM can fail in any phase, and the way out is either to retry what
///   failed or to terminate; which action failed is in the journal, not in the status, so this
///   function cannot narrow it down and leaves it to the cloud to refuse a nonsensical one.
/// - `Undefined`: terminate only, until the cloud answers again; anything else would be a guess.
///
/// Create is absent from every list but `Failed`'s: a new VM has no status to check, and an
/// existing one cannot be created again except as a retry.
pub fn allowed_actions(current: UnifiedStatus) -> &'static [Action] {
    match current {
        Running => &[Action::Suspend, Action::Reboot, Action::Terminate],
        Suspended => &[Action::Resume, Action::Terminate],
        Creating | Suspending | Resuming | Rebooting | Terminating | Terminated | Undefined => {
            &[Action::Terminate]
        }
        Failed => &Action::ALL,
    }
}

/// Whether `action` may be sent to a VM in `current`; the error says what is allowed instead.
///
/// The rules are [`allowed_actions`]'s.
pub fn allowed(current: UnifiedStatus, action: Action) -> Result<(), String> {
    let allowed = allowed_actions(current);
    if allowed.contains(&action) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
    let why = match current {
        Creating | Suspending | Resuming | Rebooting | Terminating => {
            " (it is changing state: wait for it to settle, or terminate it)"
        }
        Terminated => " (it is gone)",
        Undefined => " (until the cloud reports its status again)",
        Running | Suspended | Failed => "",
    };
    Err(format!(
        "cannot {action} a VM that is {current}; allowed actions: {}{why}",
        names.join(", ")
    ))
}
