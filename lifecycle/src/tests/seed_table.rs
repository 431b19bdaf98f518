//! Every cell of the seed's table (`docs/lifecycle.md`), one row per native word.
//!
//! A "(synth)" cell has no native word, so its row puts the action that makes the phase in flight
//! and gives the word the cloud shows meanwhile. A "NotExist" cell is an absent VM with a terminate
//! in flight. A "status cannot be read" Failed cell is an unreadable status that outlives the
//! deadline: read once, an unreadable status is not a failure (see `rules.rs`).

use super::{check, is, on, Said::*, DEADLINE};
use crate::Action::*;
use crate::Cloud::*;
use crate::UnifiedStatus::*;

#[test]
fn every_cell_of_the_seed_table() {
    let late = DEADLINE + 1;
    let rows = [
        // Creating
        ("alibaba Creating", on(Alibaba, Word("Pending")), Creating),
        ("aws Creating", on(Aws, Word("pending")), Creating),
        ("gcp Creating", on(Gcp, Word("PROVISIONING")), Creating),
        ("gcp Creating", on(Gcp, Word("STAGING")), Creating),
        ("azure Creating", on(Azure, Word("starting/-")), Creating),
        ("openstack Creating", on(OpenStack, Word("BUILD")), Creating),
        ("cloudit Creating", on(Cloudit, Word("CREATING")), Creating),
        // Running
        ("alibaba Running", on(Alibaba, Word("Running")), Running),
        ("aws Running", on(Aws, Word("running")), Running),
        ("gcp Running", on(Gcp, Word("RUNNING")), Running),
        (
            "azure Running",
            on(Azure, Word("running/succeeded")),
            Running,
        ),
        ("openstack Running", on(OpenStack, Word("ACTIVE")), Running),
        ("cloudit Running", on(Cloudit, Word("RUNNING")), Running),
        // Suspending
        (
            "alibaba Suspending",
            on(Alibaba, Word("Stopping")),
            Suspending,
        ),
        ("aws Suspending", on(Aws, Word("stopping")), Suspending),
        ("gcp Suspending", on(Gcp, Word("STOPPING")), Suspending),
        (
            "azure Suspending",
            on(Azure, Word("stopping/-")),
            Suspending,
        ),
        (
            "openstack Suspending (synth)",
            on(OpenStack, Word("ACTIVE")).doing(Suspend),
            Suspending,
        ),
        (
            "cloudit Suspending",
            on(Cloudit, Word("STOPPING")),
            Suspending,
        ),
        // Suspended
        ("alibaba Suspended", on(Alibaba, Word("Stopped")), Suspended),
        ("aws Suspended", on(Aws, Word("stopped")), Suspended),
        (
            "gcp Suspended (TERMINATED)",
            on(Gcp, Word("TERMINATED")),
            Suspended,
        ),
        (
            "azure Suspended",
            on(Azure, Word("stopped/succeeded")),
            Suspended,
        ),
        (
            "openstack Suspended",
            on(OpenStack, Word("SHUTOFF")),
            Suspended,
        ),
        ("cloudit Suspended", on(Cloudit, Word("STOPPED")), Suspended),
        // Resuming
        (
            "alibaba Resuming (synth)",
            on(Alibaba, Word("Stopped")).doing(Resume),
            Resuming,
        ),
        (
            "aws Resuming (synth)",
            on(Aws, Word("stopped")).doing(Resume),
            Resuming,
        ),
        (
            "gcp Resuming (synth)",
            on(Gcp, Word("TERMINATED")).doing(Resume),
            Resuming,
        ),
        (
            "azure Resuming (synth)",
            on(Azure, Word("stopped/succeeded")).doing(Resume),
            Resuming,
        ),
        (
            "azure Resuming (synth, the old driver's Creating)",
            on(Azure, Word("starting/-")).doing(Resume),
            Resuming,
        ),
        (
            "openstack Resuming (synth)",
            on(OpenStack, Word("SHUTOFF")).doing(Resume),
            Resuming,
        ),
        ("cloudit Resuming", on(Cloudit, Word("STARTING")), Resuming),
        // Rebooting
        (
            "alibaba Rebooting (synth)",
            on(Alibaba, Word("Stopping")).doing(Reboot),
            Rebooting,
        ),
        ("aws Rebooting", on(Aws, Word("Rebooting")), Rebooting),
        (
            "aws Rebooting (EC2 says running)",
            on(Aws, Word("running")).doing(Reboot),
            Rebooting,
        ),
        (
            "gcp Rebooting (synth, stopping)",
            on(Gcp, Word("STOPPING")).doing(Reboot),
            Rebooting,
        ),
        (
            "gcp Rebooting (synth, stopped)",
            on(Gcp, Word("TERMINATED")).doing(Reboot),
            Rebooting,
        ),
        (
            "gcp Rebooting (synth, starting)",
            on(Gcp, Word("STAGING")).doing(Reboot),
            Rebooting,
        ),
        (
            "gcp Rebooting (synth, still running)",
            on(Gcp, Word("RUNNING")).doing(Reboot),
            Rebooting,
        ),
        (
            "azure Rebooting (synth, stopping)",
            on(Azure, Word("stopping/-")).doing(Reboot),
            Rebooting,
        ),
        (
            "azure Rebooting (synth, starting)",
            on(Azure, Word("starting/-")).doing(Reboot),
            Rebooting,
        ),
        (
            "openstack Rebooting",
            on(OpenStack, Word("REBOOT")),
            Rebooting,
        ),
        (
            "cloudit Rebooting",
            on(Cloudit, Word("REBOOTING")),
            Rebooting,
        ),
        // Terminating
        (
            "alibaba Terminating (synth, Stopping)",
            on(Alibaba, Word("Stopping")).doing(Terminate),
            Terminating,
        ),
        (
            "aws Terminating",
            on(Aws, Word("shutting-down")),
            Terminating,
        ),
        (
            "gcp Terminating (synth, delete)",
            on(Gcp, Word("RUNNING")).doing(Terminate),
            Terminating,
        ),
        (
            "gcp Terminating (synth, delete of a stopped VM)",
            on(Gcp, Word("TERMINATED")).doing(Terminate),
            Terminating,
        ),
        (
            "azure Terminating",
            on(Azure, Word("deallocating/-")),
            Terminating,
        ),
        (
            "openstack Terminating (synth, delete)",
            on(OpenStack, Word("ACTIVE")).doing(Terminate),
            Terminating,
        ),
        (
            "cloudit Terminating",
            on(Cloudit, Word("DESTROYING")),
            Terminating,
        ),
        // Terminated
        (
            "alibaba Terminated",
            on(Alibaba, Word("Deleted")),
            Terminated,
        ),
        ("aws Terminated", on(Aws, Word("terminated")), Terminated),
        (
            "gcp Terminated (NotExist)",
            on(Gcp, Gone).doing(Terminate),
            Terminated,
        ),
        (
            "azure Terminated (NotExist)",
            on(Azure, Gone).doing(Terminate),
            Terminated,
        ),
        (
            "openstack Terminated (NotExist)",
            on(OpenStack, Gone).doing(Terminate),
            Terminated,
        ),
        (
            "cloudit Terminated (NotExist)",
            on(Cloudit, Gone).doing(Terminate),
            Terminated,
        ),
        // Failed
        (
            "alibaba Failed (cannot be read)",
            on(Alibaba, Unreadable("InternalError"))
                .doing(Create)
                .after(late),
            Failed,
        ),
        (
            "aws Failed (cannot be read)",
            on(Aws, Unreadable("RequestLimitExceeded"))
                .doing(Resume)
                .after(late),
            Failed,
        ),
        (
            "gcp Failed (cannot be read)",
            on(Gcp, Unreadable("503 backendError"))
                .doing(Suspend)
                .after(late),
            Failed,
        ),
        ("azure Failed", on(Azure, Word("-/failed")), Failed),
        ("openstack Failed", on(OpenStack, Word("ERROR")), Failed),
        ("cloudit Failed", on(Cloudit, Word("FAILED")), Failed),
    ];
    for (cell, case, expected) in rows {
        check(cell, case, is(expected));
    }
}

/// The `local` driver's own words (not in the seed): one per phase, and absent once deleted.
#[test]
fn every_word_of_the_local_cloud() {
    let rows = [
        ("local creating", on(Local, Word("creating")), Creating),
        ("local running", on(Local, Word("running")), Running),
        ("local stopping", on(Local, Word("stopping")), Suspending),
        ("local stopped", on(Local, Word("stopped")), Suspended),
        ("local starting", on(Local, Word("starting")), Resuming),
        ("local rebooting", on(Local, Word("rebooting")), Rebooting),
        (
            "local terminating",
            on(Local, Word("terminating")),
            Terminating,
        ),
        ("local error", on(Local, Word("error")), Failed),
        (
            "local NotExist after terminate",
            on(Local, Gone).doing(Terminate),
            Terminated,
        ),
        (
            "local stopped while resuming",
            on(Local, Word("stopped")).doing(Resume),
            Resuming,
        ),
        ("local unknown word", on(Local, Word("frozen")), Undefined),
    ];
    for (cell, case, expected) in rows {
        check(cell, case, is(expected));
    }
}

/// Real words the seed does not list, and the lenient forms the readers accept.
#[test]
fn words_beyond_the_seed_and_lenient_forms() {
    let rows = [
        ("alibaba Starting", on(Alibaba, Word("Starting")), Resuming),
        ("gcp SUSPENDING", on(Gcp, Word("SUSPENDING")), Suspending),
        ("gcp SUSPENDED", on(Gcp, Word("SUSPENDED")), Suspended),
        (
            "openstack HARD_REBOOT",
            on(OpenStack, Word("HARD_REBOOT")),
            Rebooting,
        ),
        (
            "openstack SUSPENDED",
            on(OpenStack, Word("SUSPENDED")),
            Suspended,
        ),
        (
            "openstack DELETED",
            on(OpenStack, Word("DELETED")),
            Terminated,
        ),
        (
            "openstack SOFT_DELETED",
            on(OpenStack, Word("SOFT_DELETED")),
            Terminated,
        ),
        (
            "azure deallocated",
            on(Azure, Word("deallocated/succeeded")),
            Suspended,
        ),
        ("azure creating", on(Azure, Word("-/creating")), Creating),
        ("azure deleting", on(Azure, Word("-/deleting")), Terminating),
        // Case, separators and spaces.
        ("gcp lower case", on(Gcp, Word("terminated")), Suspended),
        ("aws capitalised", on(Aws, Word("Terminated")), Terminated),
        (
            "aws underscore",
            on(Aws, Word("shutting_down")),
            Terminating,
        ),
        (
            "openstack dash",
            on(OpenStack, Word("hard-reboot")),
            Rebooting,
        ),
        ("cloudit spaces", on(Cloudit, Word("  running \n")), Running),
        // Azure's shapes.
        ("azure lone power", on(Azure, Word("running")), Running),
        (
            "azure capitalised",
            on(Azure, Word("Running/Succeeded")),
            Running,
        ),
        (
            "azure spaced",
            on(Azure, Word(" stopped / succeeded ")),
            Suspended,
        ),
        (
            "azure api codes",
            on(
                Azure,
                Word("PowerState/running/ProvisioningState/succeeded"),
            ),
            Running,
        ),
        (
            "azure api codes reversed",
            on(
                Azure,
                Word("ProvisioningState/succeeded/PowerState/stopped"),
            ),
            Suspended,
        ),
        (
            "azure failed code alone",
            on(Azure, Word("ProvisioningState/failed")),
            Failed,
        ),
        (
            "azure display string",
            on(Azure, Word("VM running")),
            Running,
        ),
        (
            "azure failed wins",
            on(Azure, Word("running/failed")),
            Failed,
        ),
        ("azure nothing given", on(Azure, Word("-/-")), Undefined),
        (
            "azure succeeded alone",
            on(Azure, Word("-/succeeded")),
            Undefined,
        ),
        // A word of another cloud is unknown here.
        ("aws has no ACTIVE", on(Aws, Word("ACTIVE")), Undefined),
        ("gcp has no Deleted", on(Gcp, Word("Deleted")), Undefined),
        ("empty word", on(Cloudit, Word("")), Undefined),
    ];
    for (label, case, expected) in rows {
        check(label, case, is(expected));
    }
}

/// The traps get explained in the reason when nothing in flight explains them.
#[test]
fn trap_words_say_why() {
    let rows = [
        (
            on(Gcp, Word("TERMINATED")),
            is(Suspended).because("gcp reports TERMINATED, which is GCP's word for a stopped VM"),
        ),
        (
            on(Aws, Word("terminated")),
            is(Terminated).because("which for AWS means the VM is deleted"),
        ),
        (
            on(Alibaba, Word("Stopping")),
            is(Suspending).because("which Alibaba also says while it deletes a VM"),
        ),
        (
            on(Alibaba, Word("Stopping")).doing(Terminate),
            is(Terminating)
                .because("alibaba reports Stopping while a terminate is in flight: terminating"),
        ),
        (
            on(Azure, Word("-/failed")),
            is(Failed).because("provisioning failed"),
        ),
    ];
    for (case, expect) in rows {
        check("trap", case, expect);
    }
}
