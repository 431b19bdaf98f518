//! Properties that must hold for any input, checked with proptest.

use std::time::Duration;

use proptest::prelude::*;

use crate::{
    aggregate, normalize_status, raw_status, Action, Cloud, NativeStatus, Observation,
    UnifiedStatus,
};

/// Words the tables know (so the generators hit the rules, not only the unknown-word path).
const KNOWN: &[&str] = &[
    "Pending",
    "Running",
    "Stopping",
    "Stopped",
    "Deleted",
    "Starting",
    "pending",
    "running",
    "stopping",
    "stopped",
    "rebooting",
    "shutting-down",
    "terminated",
    "PROVISIONING",
    "STAGING",
    "RUNNING",
    "STOPPING",
    "TERMINATED",
    "SUSPENDED",
    "BUILD",
    "ACTIVE",
    "SHUTOFF",
    "REBOOT",
    "ERROR",
    "DELETED",
    "CREATING",
    "STOPPED",
    "STARTING",
    "REBOOTING",
    "DESTROYING",
    "FAILED",
    "starting/-",
    "running/succeeded",
    "stopping/-",
    "stopped/succeeded",
    "deallocating/-",
    "-/failed",
    "-/deleting",
];

fn cloud() -> impl Strategy<Value = Cloud> {
    prop::sample::select(Cloud::ALL.to_vec())
}

fn status() -> impl Strategy<Value = UnifiedStatus> {
    prop::sample::select(UnifiedStatus::ALL.to_vec())
}

fn action() -> impl Strategy<Value = Action> {
    prop::sample::select(Action::ALL.to_vec())
}

/// Any answer: a known word, any string at all, absent, or an error.
fn native() -> impl Strategy<Value = NativeStatus> {
    prop_oneof![
        prop::sample::select(KNOWN.to_vec()).prop_map(NativeStatus::word),
        any::<String>().prop_map(NativeStatus::Word),
        "[a-zA-Z/ _-]{0,12}".prop_map(NativeStatus::Word),
        Just(NativeStatus::Absent),
        any::<String>().prop_map(NativeStatus::Unreadable),
    ]
}

fn millis(max: u64) -> impl Strategy<Value = Duration> {
    (0..max).prop_map(Duration::from_millis)
}

proptest! {
    #[test]
    fn aggregate_adds_up(statuses in prop::collection::vec(status(), 0..40)) {
        let got = aggregate(statuses.clone());
        prop_assert_eq!(got.total, statuses.len());
        prop_assert_eq!(got.counts.values().sum::<usize>(), statuses.len());
        let running = statuses.iter().filter(|&&s| s == UnifiedStatus::Running).count();
        prop_assert_eq!(got.running, running);
        let Some(winner) = got.winner else {
            prop_assert!(statuses.is_empty());
            prop_assert_eq!(got.text, "Empty:0 (R:0/0)");
            return Ok(());
        };
        let n = got.counts[&winner];
        prop_assert!(got.counts.values().all(|&c| c <= n), "the winner is the most common");
        let partial = got.text.starts_with("Partial-");
        prop_assert_eq!(partial, n < got.total);
        let body = got.text.trim_start_matches("Partial-");
        prop_assert_eq!(body, format!("{winner}:{n} (R:{running}/{})", statuses.len()));
    }

    #[test]
    fn nothing_transitional_after_the_deadline(
        cloud in cloud(),
        native in native(),
        action in action(),
        deadline in millis(600_000),
        extra in 1..1_000_000u64,
        previous in prop::option::of(status()),
    ) {
        let obs = Observation {
            cloud,
            native: &native,
            action: Some(action),
            since_action: deadline + Duration::from_millis(extra),
            deadline,
            previous,
        };
        let got = normalize_status(&obs);
        prop_assert!(!got.status.is_transitional(), "{:?} from {:?}", got, obs);
    }

    #[test]
    fn normalize_is_total(
        cloud in cloud(),
        native in native(),
        action in prop::option::of(action()),
        since in millis(2_000_000),
        deadline in millis(2_000_000),
        previous in prop::option::of(status()),
    ) {
        let obs = Observation { cloud, native: &native, action, since_action: since, deadline, previous };
        let got = normalize_status(&obs);
        prop_assert!(!got.reason.is_empty());
        if got.action_confirmed {
            prop_assert_eq!(Some(got.status), action.map(Action::target));
        }
        if action.is_none() {
            prop_assert!(!got.action_confirmed);
        }
    }

    #[test]
    fn raw_status_ignores_case(cloud in cloud(), word in prop::sample::select(KNOWN.to_vec())) {
        let as_given = raw_status(cloud, &NativeStatus::word(word));
        prop_assert_eq!(raw_status(cloud, &NativeStatus::word(word.to_uppercase())), as_given);
        prop_assert_eq!(raw_status(cloud, &NativeStatus::word(word.to_lowercase())), as_given);
    }
}
