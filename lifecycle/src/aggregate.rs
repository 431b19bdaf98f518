//! One status line for an MCIS, in CB-Tumblebug's format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::UnifiedStatus;

use UnifiedStatus::*;

/// Which status wins when two are equally common: CB-Tumblebug's order, so that the same VMs give
/// the same text in both systems. It puts problems first: a tie with `Failed` shows `Failed`.
pub const TIE_ORDER: [UnifiedStatus; 10] = [
    Failed,
    Suspended,
    Running,
    Terminated,
    Creating,
    Suspending,
    Resuming,
    Rebooting,
    Terminating,
    Undefined,
];

/// The integrated status of an MCIS: one line for people, and the numbers behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McisStatus {
    /// `<Status>:<n> (R:<running>/<total>)`, prefixed `Partial-` when the VMs disagree (n < total),
    /// e.g. `Running:5 (R:5/5)`, `Partial-Running:3 (R:3/5)`; `Empty:0 (R:0/0)` for no VMs.
    pub text: String,
    /// How many VMs are in each status; statuses no VM is in are left out.
    pub counts: BTreeMap<UnifiedStatus, usize>,
    /// How many VMs there are.
    pub total: usize,
    /// How many VMs are `Running`.
    pub running: usize,
    /// The status the text shows: the most common one, ties broken by [`TIE_ORDER`]. `None` if
    /// and only if there are no VMs.
    pub winner: Option<UnifiedStatus>,
}

/// Folds the statuses of an MCIS's VMs into one [`McisStatus`].
///
/// An empty MCIS gets CB-Tumblebug's `Empty` word, which is not a [`UnifiedStatus`] because no VM
/// can be in it.
pub fn aggregate<I: IntoIterator<Item = UnifiedStatus>>(statuses: I) -> McisStatus {
    let mut counts = BTreeMap::new();
    let mut total = 0;
    for status in statuses {
        *counts.entry(status).or_insert(0) += 1;
        total += 1;
    }
    let count = |status: UnifiedStatus| counts.get(&status).copied().unwrap_or(0);
    let running = count(Running);
    // The first status in TIE_ORDER among the most common: only a strictly larger count replaces it.
    let winner = TIE_ORDER
        .into_iter()
        .filter(|&status| count(status) > 0)
        .fold(None, |best: Option<UnifiedStatus>, status| match best {
            Some(best) if count(best) >= count(status) => Some(best),
            _ => Some(status),
        });
    let text = match winner {
        None => "Empty:0 (R:0/0)".to_string(),
        Some(winner) => {
            let n = count(winner);
            let partial = if n < total { "Partial-" } else { "" };
            format!("{partial}{winner}:{n} (R:{running}/{total})")
        }
    };
    McisStatus {
        text,
        counts,
        total,
        running,
        winner,
    }
}
