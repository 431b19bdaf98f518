//! Tests: tables of cases through one `check` helper, and proptest properties.
//!
//! Every table row goes through [`check`], so a change to [`normalize_status`]'s signature touches
//! this file only.

use std::time::Duration;

use crate::{
    normalize_status, Action, Cloud, NativeStatus, Normalized, Observation, UnifiedStatus,
};

mod aggregation;
mod names;
mod properties;
mod rules;
mod seed_table;
mod transitions;

/// The deadline table rows use unless they say otherwise, in seconds.
const DEADLINE: u64 = 300;

/// What the cloud said, in a form a `const`-free table row can hold.
#[derive(Debug, Clone, Copy)]
enum Said {
    /// A native word.
    Word(&'static str),
    /// The VM is not listed.
    Gone,
    /// The status API failed with this message.
    Unreadable(&'static str),
}

/// One poll of one VM, as a table row describes it.
#[derive(Debug, Clone, Copy)]
struct Case {
    cloud: Cloud,
    said: Said,
    action: Option<Action>,
    since_secs: u64,
    deadline_secs: u64,
    previous: Option<UnifiedStatus>,
}

/// A poll with nothing in flight, at the start of time.
fn on(cloud: Cloud, said: Said) -> Case {
    Case {
        cloud,
        said,
        action: None,
        since_secs: 0,
        deadline_secs: DEADLINE,
        previous: None,
    }
}

impl Case {
    /// With `action` in flight, recorded 10s ago (well inside the deadline and the reboot settle
    /// time, so rows that do not care about time are not surprised by either).
    fn doing(self, action: Action) -> Case {
        Case {
            action: Some(action),
            since_secs: 10,
            ..self
        }
    }

    fn after(self, secs: u64) -> Case {
        Case {
            since_secs: secs,
            ..self
        }
    }

    fn within(self, deadline_secs: u64) -> Case {
        Case {
            deadline_secs,
            ..self
        }
    }

    fn was(self, previous: UnifiedStatus) -> Case {
        Case {
            previous: Some(previous),
            ..self
        }
    }
}

/// What a row expects. `confirmed` and `reason_has` are only checked when given.
#[derive(Debug, Clone, Copy)]
struct Expect {
    status: UnifiedStatus,
    confirmed: Option<bool>,
    reason_has: &'static str,
}

fn is(status: UnifiedStatus) -> Expect {
    Expect {
        status,
        confirmed: None,
        reason_has: "",
    }
}

impl Expect {
    fn confirmed(self, confirmed: bool) -> Expect {
        Expect {
            confirmed: Some(confirmed),
            ..self
        }
    }

    fn because(self, reason_has: &'static str) -> Expect {
        Expect { reason_has, ..self }
    }
}

/// Runs one case through [`normalize_status`] and checks it; `label` names the table row.
///
/// Beyond the row's expectations, every verdict must have a reason, and a confirmed action must
/// have reached its target.
fn check(label: &str, case: Case, expect: Expect) -> Normalized {
    let native = match case.said {
        Said::Word(word) => NativeStatus::word(word),
        Said::Gone => NativeStatus::Absent,
        Said::Unreadable(message) => NativeStatus::Unreadable(message.to_string()),
    };
    let got = normalize_status(&Observation {
        cloud: case.cloud,
        native: &native,
        action: case.action,
        since_action: Duration::from_secs(case.since_secs),
        deadline: Duration::from_secs(case.deadline_secs),
        previous: case.previous,
    });
    assert_eq!(got.status, expect.status, "{label}: {case:?} gave {got:?}");
    if let Some(confirmed) = expect.confirmed {
        assert_eq!(
            got.action_confirmed, confirmed,
            "{label}: confirmation for {case:?} in {got:?}"
        );
    }
    assert!(
        got.reason.contains(expect.reason_has),
        "{label}: reason {:?} lacks {:?}",
        got.reason,
        expect.reason_has
    );
    assert!(!got.reason.is_empty(), "{label}: empty reason");
    if got.action_confirmed {
        assert_eq!(Some(got.status), case.action.map(Action::target), "{label}");
    }
    got
}
