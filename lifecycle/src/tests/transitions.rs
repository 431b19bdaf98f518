//! The allowed-transitions rules, every (status, action) pair.

use crate::Action::{self, *};
use crate::UnifiedStatus::{self, *};
use crate::{allowed, allowed_actions};

fn check(current: UnifiedStatus, action: Action, ok: bool) {
    let got = allowed(current, action);
    assert_eq!(got.is_ok(), ok, "{action} on {current}: {got:?}");
    if let Err(message) = got {
        // The refusal names what is allowed instead.
        for allowed in allowed_actions(current) {
            assert!(message.contains(allowed.as_str()), "{message}");
        }
        assert!(message.contains(current.as_str()), "{message}");
    }
}

#[test]
fn every_status_and_action() {
    // The actions each status allows; every other pair must be refused.
    let rows: [(UnifiedStatus, &[Action]); 10] = [
        (Running, &[Suspend, Reboot, Terminate]),
        (Suspended, &[Resume, Terminate]),
        (Creating, &[Terminate]),
        (Suspending, &[Terminate]),
        (Resuming, &[Terminate]),
        (Rebooting, &[Terminate]),
        (Terminating, &[Terminate]),
        (Terminated, &[Terminate]),
        (Failed, &[Create, Suspend, Resume, Reboot, Terminate]),
        (Undefined, &[Terminate]),
    ];
    for (current, ok) in rows {
        for action in Action::ALL {
            check(current, action, ok.contains(&action));
        }
    }
}

#[test]
fn refusal_text() {
    assert_eq!(
        allowed(Resuming, Suspend),
        Err(
            "cannot suspend a VM that is Resuming; allowed actions: terminate \
             (it is changing state: wait for it to settle, or terminate it)"
                .to_string()
        )
    );
    assert_eq!(
        allowed(Suspended, Reboot),
        Err("cannot reboot a VM that is Suspended; allowed actions: resume, terminate".to_string())
    );
}
