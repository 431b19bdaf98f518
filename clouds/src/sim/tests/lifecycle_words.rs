//! Every personality through every action: the native words seen over time, and what the
//! lifecycle normaliser makes of them with that action in flight.

use std::time::Duration;

use lifecycle::{
    normalize_status, raw_status, Action, Cloud, NativeStatus, Observation, UnifiedStatus,
};

use super::{block, home, Harness};
use crate::CloudDriver;

/// Seconds every operation takes in these tests.
const D: f64 = 3.0;

/// The words each cloud shows, in order, from the moment the action is sent until long after.
/// "absent" is a VM the cloud no longer lists.
fn expected(cloud: Cloud, action: Action, from_stopped: bool) -> &'static [&'static str] {
    use Action::*;
    use Cloud::*;
    match (cloud, action, from_stopped) {
        (Aws, Create, _) => &["pending", "running"],
        (Aws, Suspend, _) => &["stopping", "stopped"],
        (Aws, Resume, _) => &["pending", "running"],
        (Aws, Reboot, _) => &["rebooting", "running"],
        (Aws, Terminate, _) => &["shutting-down", "terminated", "absent"],

        (Azure, Create, _) => &["-/creating", "starting/-", "running/succeeded"],
        (Azure, Suspend, _) => &["stopping/-", "stopped/succeeded"],
        (Azure, Resume, _) => &["starting/-", "running/succeeded"],
        (Azure, Reboot, _) => &["stopping/-", "starting/-", "running/succeeded"],
        (Azure, Terminate, false) => &["deallocating/-", "absent"],
        (Azure, Terminate, true) => &["-/deleting", "absent"],

        (Gcp, Create, _) => &["PROVISIONING", "STAGING", "RUNNING"],
        (Gcp, Suspend, _) => &["STOPPING", "TERMINATED"],
        (Gcp, Resume, _) => &["PROVISIONING", "STAGING", "RUNNING"],
        (Gcp, Reboot, _) => &["STOPPING", "TERMINATED", "STAGING", "RUNNING"],
        (Gcp, Terminate, false) => &["STOPPING", "absent"],
        (Gcp, Terminate, true) => &["TERMINATED", "absent"],

        (Alibaba, Create, _) => &["Pending", "Running"],
        (Alibaba, Suspend, _) => &["Stopping", "Stopped"],
        (Alibaba, Resume, _) => &["Starting", "Running"],
        (Alibaba, Reboot, _) => &["Stopping", "Starting", "Running"],
        (Alibaba, Terminate, false) => &["Stopping", "Deleted", "absent"],
        (Alibaba, Terminate, true) => &["Stopped", "Deleted", "absent"],

        (OpenStack, Create, _) => &["BUILD", "ACTIVE"],
        (OpenStack, Suspend, _) => &["ACTIVE", "SHUTOFF"],
        (OpenStack, Resume, _) => &["SHUTOFF", "ACTIVE"],
        (OpenStack, Reboot, _) => &["REBOOT", "ACTIVE"],
        (OpenStack, Terminate, false) => &["ACTIVE", "absent"],
        (OpenStack, Terminate, true) => &["SHUTOFF", "absent"],

        (Cloudit, Create, _) => &["CREATING", "RUNNING"],
        (Cloudit, Suspend, _) => &["STOPPING", "STOPPED"],
        (Cloudit, Resume, _) => &["STARTING", "RUNNING"],
        (Cloudit, Reboot, _) => &["REBOOTING", "RUNNING"],
        (Cloudit, Terminate, _) => &["DESTROYING", "absent"],

        (Local, Create, _) => &["creating", "running"],
        (Local, Suspend, _) => &["stopping", "stopped"],
        (Local, Resume, _) => &["starting", "running"],
        (Local, Reboot, _) => &["rebooting", "running"],
        (Local, Terminate, _) => &["terminating", "absent"],
    }
}

/// What one run of an action showed.
struct Trace {
    /// The distinct words in order.
    words: Vec<String>,
    /// The distinct normalised statuses in order.
    statuses: Vec<UnifiedStatus>,
    /// Whether the last poll confirmed the action.
    confirmed_at_end: bool,
    /// Every (seconds since the action, word) polled.
    polls: Vec<(f64, String)>,
}

/// Seconds after the action at which the tests poll: every 0.1 s through the operation, then after
/// the lifecycle's reboot settle time, then after AWS/Alibaba stop listing deleted VMs.
fn poll_times() -> Vec<f64> {
    let mut times: Vec<f64> = (0..=(D * 10.0) as i64).map(|i| i as f64 / 10.0).collect();
    times.extend([D + 0.5, 31.0, D + 61.0]);
    times
}

fn push_distinct<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if list.last() != Some(&item) {
        list.push(item);
    }
}

/// Brings a VM of `cloud` to the state `action` starts from, sends `action`, and polls.
fn drive(cloud: Cloud, action: Action, from_stopped: bool) -> Trace {
    let h = Harness::with_duration(D);
    let c = home(cloud);
    let net = h.net(&c, "t");
    let id = h.create(&net, "vm-1").expect("create_vm");
    let mut previous = None;
    if action != Action::Create {
        h.clock.advance(D);
        assert_eq!(
            h.word(&c, &id),
            expected(cloud, Action::Create, false)[..]
                .last()
                .unwrap()
                .to_string()
        );
        previous = Some(UnifiedStatus::Running);
        if action == Action::Resume || from_stopped {
            block(h.sim.suspend_vm(&c, &id)).expect("suspend_vm");
            h.clock.advance(D);
            previous = Some(UnifiedStatus::Suspended);
        }
        let sent = match action {
            Action::Suspend => block(h.sim.suspend_vm(&c, &id)),
            Action::Resume => block(h.sim.resume_vm(&c, &id)),
            Action::Reboot => block(h.sim.reboot_vm(&c, &id)),
            Action::Terminate => block(h.sim.terminate_vm(&c, &id)),
            Action::Create => unreachable!(),
        };
        sent.unwrap_or_else(|e| panic!("{cloud} {action}: {e}"));
    }
    let mut trace = Trace {
        words: Vec::new(),
        statuses: Vec::new(),
        confirmed_at_end: false,
        polls: Vec::new(),
    };
    let mut elapsed = 0.0;
    for t in poll_times() {
        h.clock.advance(t - elapsed);
        elapsed = t;
        let native = h.status(&c, &id).expect("vm_status").native;
        let word = match &native {
            NativeStatus::Word(w) => w.clone(),
            NativeStatus::Absent => "absent".to_string(),
            NativeStatus::Unreadable(e) => panic!("unreadable: {e}"),
        };
        let seen = normalize_status(&Observation {
            cloud,
            native: &native,
            action: Some(action),
            since_action: Duration::from_secs_f64(t),
            deadline: Duration::from_secs(300),
            previous,
        });
        assert_eq!(
            seen.action_confirmed,
            seen.status == action.target(),
            "{cloud} {action} at {t}s: {word} gave {seen:?}"
        );
        previous = Some(seen.status);
        trace.confirmed_at_end = seen.action_confirmed;
        push_distinct(&mut trace.statuses, seen.status);
        push_distinct(&mut trace.words, word.clone());
        trace.polls.push((t, word));
    }
    trace
}

#[test]
fn every_personality_through_every_action() {
    let mut checked = 0;
    for cloud in Cloud::ALL {
        for action in Action::ALL {
            for from_stopped in [false, true] {
                if from_stopped && action != Action::Terminate {
                    continue;
                }
                let label = format!(
                    "{cloud} {action}{}",
                    if from_stopped { " (stopped)" } else { "" }
                );
                let trace = drive(cloud, action, from_stopped);
                assert_eq!(
                    trace.words,
                    expected(cloud, action, from_stopped),
                    "{label}: words"
                );
                assert_eq!(
                    trace.statuses,
                    [action.in_progress(), action.target()],
                    "{label}: normalised phases, words {:?}",
                    trace.words
                );
                assert!(trace.confirmed_at_end, "{label}: not confirmed at the end");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 42);
}

/// The operation's words share its duration; the settled word appears exactly at the end.
#[test]
fn words_change_at_their_share_of_the_duration() {
    let trace = drive(Cloud::Gcp, Action::Create, false);
    let at = |t: f64| trace.polls.iter().find(|(s, _)| *s == t).unwrap().1.clone();
    assert_eq!(at(0.0), "PROVISIONING");
    assert_eq!(at(1.4), "PROVISIONING");
    assert_eq!(at(1.5), "STAGING");
    assert_eq!(at(2.9), "STAGING");
    assert_eq!(at(3.0), "RUNNING");

    let trace = drive(Cloud::Gcp, Action::Reboot, false);
    let at = |t: f64| trace.polls.iter().find(|(s, _)| *s == t).unwrap().1.clone();
    assert_eq!(at(1.1), "STOPPING");
    assert_eq!(at(1.3), "TERMINATED");
    assert_eq!(at(1.9), "STAGING");
    assert_eq!(at(3.0), "RUNNING");

    let trace = drive(Cloud::Aws, Action::Terminate, false);
    let at = |t: f64| trace.polls.iter().find(|(s, _)| *s == t).unwrap().1.clone();
    assert_eq!(at(2.9), "shutting-down");
    assert_eq!(at(3.0), "terminated");
    assert_eq!(
        at(31.0),
        "terminated",
        "AWS keeps listing a deleted VM for a while"
    );
    assert_eq!(at(D + 61.0), "absent");
}

#[test]
fn gcp_suspend_ends_in_terminated_which_means_suspended() {
    let trace = drive(Cloud::Gcp, Action::Suspend, false);
    assert_eq!(trace.words.last().unwrap(), "TERMINATED");
    let native = NativeStatus::word("TERMINATED");
    assert_eq!(raw_status(Cloud::Gcp, &native), UnifiedStatus::Suspended);
    assert_eq!(trace.statuses.last(), Some(&UnifiedStatus::Suspended));
}

#[test]
fn alibaba_terminate_shows_stopping_which_normalises_to_terminating() {
    let trace = drive(Cloud::Alibaba, Action::Terminate, false);
    assert_eq!(trace.words[0], "Stopping");
    let native = NativeStatus::word("Stopping");
    // Read alone, the word says Suspending: the trap.
    assert_eq!(
        raw_status(Cloud::Alibaba, &native),
        UnifiedStatus::Suspending
    );
    // With the terminate in flight, it is Terminating.
    assert_eq!(trace.statuses[0], UnifiedStatus::Terminating);
    assert!(!trace.statuses.contains(&UnifiedStatus::Suspending));
}

#[test]
fn gcp_and_azure_reboot_pass_through_stopping() {
    for (cloud, stopping) in [(Cloud::Gcp, "STOPPING"), (Cloud::Azure, "stopping/-")] {
        let trace = drive(cloud, Action::Reboot, false);
        assert_eq!(trace.words[0], stopping, "{cloud}");
        let native = NativeStatus::word(stopping);
        assert_eq!(
            raw_status(cloud, &native),
            UnifiedStatus::Suspending,
            "{cloud}"
        );
        assert_eq!(trace.statuses[0], UnifiedStatus::Rebooting, "{cloud}");
        assert!(
            !trace.statuses.contains(&UnifiedStatus::Suspending),
            "{cloud}"
        );
    }
}

#[test]
fn a_deleted_vm_is_simply_absent() {
    for cloud in [
        Cloud::Gcp,
        Cloud::Azure,
        Cloud::OpenStack,
        Cloud::Cloudit,
        Cloud::Local,
    ] {
        let trace = drive(cloud, Action::Terminate, false);
        let first_absent = trace.polls.iter().find(|(_, w)| w == "absent").unwrap().0;
        assert_eq!(
            first_absent, D,
            "{cloud}: absent as soon as the delete is over"
        );
    }
}

/// Without an action in flight, the settled words read as they should on their own.
#[test]
fn settled_words_read_right_without_an_action() {
    for cloud in Cloud::ALL {
        let running = expected(cloud, Action::Create, false).last().unwrap();
        let stopped = expected(cloud, Action::Suspend, false).last().unwrap();
        assert_eq!(
            raw_status(cloud, &NativeStatus::word(*running)),
            UnifiedStatus::Running,
            "{cloud}"
        );
        assert_eq!(
            raw_status(cloud, &NativeStatus::word(*stopped)),
            UnifiedStatus::Suspended,
            "{cloud}"
        );
    }
}
