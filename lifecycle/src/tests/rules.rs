//! Every correction rule of `normalize_status` and the deadline rule, one or more rows each,
//! named by the rule they cover (the names of `normalize_status`'s documentation).

use super::{check, is, on, Said::*, DEADLINE};
use crate::Action::*;
use crate::Cloud::*;
use crate::UnifiedStatus::*;
use crate::REBOOT_SETTLE;

#[test]
fn every_correction_rule() {
    let settle = REBOOT_SETTLE.as_secs();
    let rows = [
        // No action in flight.
        (
            "no-action-unreadable",
            on(Gcp, Unreadable("403 quota exceeded")),
            is(Undefined).confirmed(false).because("403 quota exceeded"),
        ),
        (
            "unknown-word",
            on(Aws, Word("hibernating")),
            is(Undefined).because("hibernating, which is not a status word known for aws"),
        ),
        (
            "vanished",
            on(Azure, Gone),
            is(Terminated)
                .confirmed(false)
                .because("vanished outside the provider"),
        ),
        (
            "vanished (during a suspend)",
            on(OpenStack, Gone).doing(Suspend),
            is(Terminated)
                .confirmed(false)
                .because("vanished outside the provider"),
        ),
        (
            "vanished (during a reboot)",
            on(Gcp, Gone).doing(Reboot),
            is(Terminated).because("vanished outside the provider"),
        ),
        (
            "vanished (during a resume)",
            on(Cloudit, Gone).doing(Resume),
            is(Terminated).because("vanished outside the provider"),
        ),
        // sticky-terminated
        (
            "sticky-terminated",
            on(Aws, Word("running")).was(Terminated),
            is(Terminated).because("already recorded the VM as terminated"),
        ),
        (
            "sticky-terminated (whatever the cloud says)",
            on(Gcp, Unreadable("timeout")).was(Terminated),
            is(Terminated),
        ),
        (
            "sticky-terminated (a create is a new VM)",
            on(Aws, Word("running")).doing(Create).was(Terminated),
            is(Running).confirmed(true),
        ),
        (
            "sticky-terminated (confirms a terminate the cloud agrees with)",
            on(Gcp, Gone).doing(Terminate).was(Terminated),
            is(Terminated).confirmed(true),
        ),
        (
            "sticky-terminated (no confirmation without the cloud's word)",
            on(Gcp, Unreadable("timeout"))
                .doing(Terminate)
                .was(Terminated),
            is(Terminated).confirmed(false),
        ),
        // Create
        (
            "create-confirmed",
            on(OpenStack, Word("ACTIVE")).doing(Create),
            is(Running).confirmed(true),
        ),
        (
            "create-unreadable",
            on(Alibaba, Unreadable("Throttling")).doing(Create),
            is(Creating).confirmed(false).because("Throttling"),
        ),
        (
            "create-absent-early",
            on(Gcp, Gone).doing(Create),
            is(Creating).because("clouds list a new VM late"),
        ),
        (
            "create-failed-stays (the cloud's error word)",
            on(OpenStack, Word("ERROR")).doing(Create),
            is(Failed).confirmed(false),
        ),
        (
            "create-failed-stays (the journal's Failed)",
            on(Aws, Unreadable("timeout")).doing(Create).was(Failed),
            is(Failed).because("already recorded this create as failed"),
        ),
        (
            "create-failed-stays (absent after a recorded failure)",
            on(Azure, Gone).doing(Create).was(Failed),
            is(Failed)
                .because("does not list the VM while a create is in flight: failed (the journal"),
        ),
        (
            "create-terminated-word",
            on(Aws, Word("terminated")).doing(Create),
            is(Failed).because("the cloud deleted the new VM"),
        ),
        (
            "unknown-word-in-action (create)",
            on(Aws, Word("hibernating")).doing(Create),
            is(Creating),
        ),
        // Terminate
        (
            "terminate-gone (absent)",
            on(Azure, Gone).doing(Terminate),
            is(Terminated).confirmed(true),
        ),
        (
            "terminate-gone (the cloud's deleted word)",
            on(Alibaba, Word("Deleted")).doing(Terminate),
            is(Terminated).confirmed(true),
        ),
        (
            "terminate-unreadable",
            on(Aws, Unreadable("timeout")).doing(Terminate),
            is(Terminated)
                .confirmed(false)
                .because("stays open until the cloud stops listing the VM"),
        ),
        (
            "terminate-non-final (running)",
            on(Aws, Word("running")).doing(Terminate),
            is(Terminating).confirmed(false),
        ),
        (
            "terminate-non-final (suspended)",
            on(Cloudit, Word("STOPPED")).doing(Terminate),
            is(Terminating),
        ),
        (
            "terminate-non-final (failed)",
            on(OpenStack, Word("ERROR")).doing(Terminate),
            is(Terminating),
        ),
        (
            "terminate-non-final (azure failed)",
            on(Azure, Word("-/failed")).doing(Terminate),
            is(Terminating),
        ),
        (
            "unknown-word-in-action (terminate)",
            on(Gcp, Word("REPAIRING")).doing(Terminate),
            is(Terminating),
        ),
        // Resume
        (
            "resume-suspended",
            on(Aws, Word("stopped")).doing(Resume),
            is(Resuming).confirmed(false),
        ),
        (
            "resume-unreadable",
            on(Azure, Unreadable("429 TooManyRequests")).doing(Resume),
            is(Resuming).because("429 TooManyRequests"),
        ),
        (
            "resume-starting (aws pending)",
            on(Aws, Word("pending")).doing(Resume),
            is(Resuming),
        ),
        (
            "resume-starting (gcp staging)",
            on(Gcp, Word("STAGING")).doing(Resume),
            is(Resuming),
        ),
        (
            "resume-starting (alibaba Starting)",
            on(Alibaba, Word("Starting")).doing(Resume),
            is(Resuming),
        ),
        (
            "resume-confirmed",
            on(Gcp, Word("RUNNING")).doing(Resume),
            is(Running).confirmed(true),
        ),
        (
            "unknown-word-in-action (resume)",
            on(Cloudit, Word("MIGRATING")).doing(Resume),
            is(Resuming),
        ),
        // Suspend
        (
            "suspend-running",
            on(Aws, Word("running")).doing(Suspend),
            is(Suspending).confirmed(false),
        ),
        (
            "suspend-unreadable",
            on(OpenStack, Unreadable("502")).doing(Suspend),
            is(Suspending),
        ),
        (
            "suspend-confirmed (gcp TERMINATED)",
            on(Gcp, Word("TERMINATED")).doing(Suspend),
            is(Suspended)
                .confirmed(true)
                .because("which is GCP's word for a stopped VM"),
        ),
        (
            "suspend (the cloud's error word stays Failed)",
            on(Cloudit, Word("FAILED")).doing(Suspend),
            is(Failed).confirmed(false),
        ),
        // Reboot
        (
            "reboot-stop-start (suspending)",
            on(Azure, Word("stopping/-")).doing(Reboot),
            is(Rebooting),
        ),
        (
            "reboot-stop-start (suspended)",
            on(Alibaba, Word("Stopped")).doing(Reboot),
            is(Rebooting),
        ),
        (
            "reboot-stop-start (creating)",
            on(Gcp, Word("PROVISIONING")).doing(Reboot),
            is(Rebooting),
        ),
        (
            "reboot-stop-start (resuming)",
            on(Cloudit, Word("STARTING")).doing(Reboot),
            is(Rebooting),
        ),
        (
            "reboot-unreadable",
            on(Gcp, Unreadable("timeout")).doing(Reboot),
            is(Rebooting),
        ),
        (
            "reboot-running-settle (too early)",
            on(Aws, Word("running")).doing(Reboot).after(settle - 1),
            is(Rebooting)
                .confirmed(false)
                .because("confirms a reboot only 30s after"),
        ),
        (
            "reboot-running-settle (settled)",
            on(Aws, Word("running")).doing(Reboot).after(settle),
            is(Running).confirmed(true),
        ),
        (
            "reboot-running-settle (the cloud's own word)",
            on(OpenStack, Word("REBOOT"))
                .doing(Reboot)
                .after(settle + 5),
            is(Rebooting),
        ),
    ];
    for (rule, case, expect) in rows {
        check(rule, case, expect);
    }
}

#[test]
fn deadline_rule() {
    let late = DEADLINE + 1;
    let rows = [
        (
            "deadline (resume, exactly at the deadline)",
            on(Aws, Word("stopped")).doing(Resume).after(DEADLINE),
            is(Resuming),
        ),
        (
            "deadline (resume)",
            on(Aws, Word("stopped")).doing(Resume).after(late),
            is(Failed).confirmed(false).because(
                "no transition after 301s (deadline 300s) for action resume; \
                 cloud last said 'stopped': failed",
            ),
        ),
        (
            "deadline (create, still pending)",
            on(Aws, Word("pending")).doing(Create).after(late),
            is(Failed).because("for action create; cloud last said 'pending'"),
        ),
        (
            "deadline (create-absent-late)",
            on(Gcp, Gone).doing(Create).after(late),
            is(Failed).because("cloud last said nothing (it does not list the VM)"),
        ),
        (
            "deadline (create, unreadable)",
            on(Alibaba, Unreadable("InternalError"))
                .doing(Create)
                .after(late),
            is(Failed).because("cloud last said an error: InternalError"),
        ),
        (
            "deadline (suspend)",
            on(Gcp, Word("RUNNING")).doing(Suspend).after(late),
            is(Failed).because("for action suspend; cloud last said 'RUNNING'"),
        ),
        (
            "deadline (reboot)",
            on(Azure, Word("stopping/-")).doing(Reboot).after(late),
            is(Failed).because("for action reboot"),
        ),
        (
            "deadline (reboot, the cloud's own word)",
            on(Cloudit, Word("REBOOTING")).doing(Reboot).after(late),
            is(Failed),
        ),
        (
            "deadline (terminate)",
            on(Alibaba, Word("Stopping")).doing(Terminate).after(late),
            is(Failed).because("for action terminate; cloud last said 'Stopping'"),
        ),
        (
            "deadline (a transitional word of another phase)",
            on(Aws, Word("pending")).doing(Suspend).after(late),
            is(Failed),
        ),
        (
            "deadline-terminate-exception (absent)",
            on(OpenStack, Gone).doing(Terminate).after(10 * DEADLINE),
            is(Terminated).confirmed(true),
        ),
        (
            "deadline-terminate-exception (unreadable)",
            on(Aws, Unreadable("timeout"))
                .doing(Terminate)
                .after(10 * DEADLINE),
            is(Terminated).confirmed(false),
        ),
        (
            "deadline (target reached late still confirms)",
            on(Aws, Word("running")).doing(Resume).after(10 * DEADLINE),
            is(Running).confirmed(true),
        ),
        (
            "deadline (reboot settle shortened by a short deadline)",
            on(Aws, Word("running")).doing(Reboot).within(10).after(11),
            is(Running).confirmed(true),
        ),
        (
            "no-action-no-deadline",
            on(Gcp, Word("STOPPING")).after(10 * DEADLINE),
            is(Suspending),
        ),
    ];
    for (rule, case, expect) in rows {
        check(rule, case, expect);
    }
}
