//! Injected faults: create failures, a failing status API, VMs stuck in a phase.

use std::time::Duration;

use lifecycle::{normalize_status, Action, Cloud, NativeStatus, Observation, UnifiedStatus};

use super::{at, block, home, Harness};
use crate::sim::{Fault, FaultKind, SimConfig, SimError};
use crate::{CloudDriver, CloudErrorKind};

fn with_faults(faults: Vec<Fault>) -> SimConfig {
    SimConfig {
        default_duration: Some(3.0),
        faults,
        ..SimConfig::default()
    }
}

fn create_failure(provider: &str, region: &str, kind: FaultKind) -> Fault {
    Fault::CreateFailure {
        provider: provider.into(),
        region: region.into(),
        kind,
        message: None,
    }
}

#[test]
fn create_failures_speak_each_clouds_words() {
    let rows = [
        (Cloud::Aws, FaultKind::Capacity, "InsufficientInstanceCapacity: We currently do not have sufficient t3.small capacity in the Availability Zone you requested (ap-northeast-2"),
        (Cloud::Aws, FaultKind::Quota, "VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit"),
        (Cloud::Azure, FaultKind::Capacity, "AllocationFailed: "),
        (Cloud::Azure, FaultKind::Quota, "OperationNotAllowed: Operation could not be completed as it results in exceeding approved"),
        (Cloud::Gcp, FaultKind::Capacity, "ZONE_RESOURCE_POOL_EXHAUSTED: "),
        (Cloud::Gcp, FaultKind::Quota, "QUOTA_EXCEEDED: "),
        (Cloud::Alibaba, FaultKind::Capacity, "OperationDenied.NoStock: "),
        (Cloud::Alibaba, FaultKind::Quota, "QuotaExceed."),
        (Cloud::OpenStack, FaultKind::Capacity, "No valid host was found."),
        (Cloud::OpenStack, FaultKind::Quota, "Quota exceeded for cores"),
        (Cloud::Cloudit, FaultKind::Capacity, "INSUFFICIENT_RESOURCE: "),
        (Cloud::Cloudit, FaultKind::Quota, "QUOTA_EXCEEDED: "),
    ];
    for (cloud, kind, start) in rows {
        let c = home(cloud);
        let h = Harness::new(with_faults(vec![create_failure(
            c.provider.as_str(),
            &c.region,
            kind,
        )]));
        let net = h.net(&c, "f");
        let err = h.create(&net, "vm-1").expect_err("the create must fail");
        let expected_kind = match kind {
            FaultKind::Capacity => CloudErrorKind::Capacity,
            FaultKind::Quota => CloudErrorKind::Quota,
        };
        assert_eq!(err.kind, expected_kind, "{cloud} {kind}: {err}");
        assert!(
            err.message.starts_with(start),
            "{cloud} {kind}: {}",
            err.message
        );
        // Nothing was created.
        assert!(h.sim.inventory().unwrap().vms.is_empty(), "{cloud} {kind}");
    }
}

#[test]
fn a_create_failure_is_limited_to_its_region_and_can_carry_its_own_text() {
    let h = Harness::new(with_faults(vec![Fault::CreateFailure {
        provider: "aws".into(),
        region: "us-east-1".into(),
        kind: FaultKind::Capacity,
        message: Some("InsufficientInstanceCapacity: custom".into()),
    }]));
    let east = h.net(&at("aws", "us-east-1"), "e");
    let err = h.create(&east, "vm-1").unwrap_err();
    assert_eq!(err.message, "InsufficientInstanceCapacity: custom");
    let seoul = h.net(&at("aws", "ap-northeast-2"), "s");
    h.create(&seoul, "vm-1").expect("another region works");
    let gcp = h.net(&home(Cloud::Gcp), "g");
    h.create(&gcp, "vm-1").expect("another cloud works");

    // The next run's configuration has no fault: the region works again.
    let healed = h.reopen(SimConfig::default());
    block(crate::CloudDriver::create_vm(
        &healed,
        &h.request(&east, "vm-2"),
    ))
    .expect("healed");
}

#[test]
fn the_status_api_can_fail() {
    let c = home(Cloud::Gcp);
    let h = Harness::new(with_faults(vec![Fault::StatusError {
        provider: "gcp".into(),
        region: Some(c.region.clone()),
        message: None,
    }]));
    let net = h.net(&c, "s");
    let id = h.create(&net, "vm-1").expect("creates still work");
    let err = h.status(&c, &id).unwrap_err();
    assert_eq!(err.kind, CloudErrorKind::Unavailable);
    assert!(
        err.message.starts_with("503 backendError"),
        "{}",
        err.message
    );

    // What the normaliser makes of it while the create is in flight: still creating.
    let native = NativeStatus::Unreadable(err.message.clone());
    let seen = normalize_status(&Observation {
        cloud: Cloud::Gcp,
        native: &native,
        action: Some(Action::Create),
        since_action: Duration::from_secs(5),
        deadline: Duration::from_secs(300),
        previous: Some(UnifiedStatus::Creating),
    });
    assert_eq!(seen.status, UnifiedStatus::Creating);

    // Other regions answer.
    let other = h.net(&at("gcp", "us-central1"), "o");
    let id2 = h.create(&other, "vm-2").unwrap();
    assert_eq!(h.word(&other.connection, &id2), "PROVISIONING");

    // Without the fault, the VM is there and has progressed meanwhile.
    h.clock.advance(10.0);
    let healed = h.reopen(SimConfig::default());
    let seen = block(crate::CloudDriver::vm_status(&healed, &c, &id)).unwrap();
    assert_eq!(seen.native, NativeStatus::word("RUNNING"));
}

#[test]
fn a_status_error_without_region_covers_every_region_and_can_carry_its_own_text() {
    let h = Harness::new(with_faults(vec![Fault::StatusError {
        provider: "azure".into(),
        region: None,
        message: Some("TooManyRequests".into()),
    }]));
    for region in ["koreacentral", "eastus"] {
        let c = at("azure", region);
        let err = h.status(&c, "whatever").unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (CloudErrorKind::Unavailable, "TooManyRequests")
        );
    }
    let aws = home(Cloud::Aws);
    assert_eq!(h.word(&aws, "i-00000000000000000"), "absent");
}

fn stuck(provider: &str, region: Option<&str>, phase: &str) -> Fault {
    Fault::Stuck {
        provider: provider.into(),
        region: region.map(str::to_string),
        phase: phase.into(),
    }
}

#[test]
fn every_phase_can_get_stuck_in_its_last_word() {
    let rows = [
        (Cloud::Gcp, "creating", "STAGING"),
        (Cloud::Aws, "suspending", "stopping"),
        (Cloud::Azure, "resuming", "starting/-"),
        (Cloud::Alibaba, "rebooting", "Starting"),
        (Cloud::Aws, "terminating", "shutting-down"),
        (Cloud::Alibaba, "terminating", "Stopping"),
        (Cloud::Cloudit, "creating", "CREATING"),
        (Cloud::OpenStack, "rebooting", "REBOOT"),
    ];
    for (cloud, phase, word) in rows {
        let c = home(cloud);
        let h = Harness::new(with_faults(vec![stuck(cloud.as_str(), None, phase)]));
        let net = h.net(&c, "s");
        let id = h.create(&net, "vm-1").unwrap();
        let action = crate::sim::config::phase_action(phase).unwrap();
        if action != Action::Create {
            h.clock.advance(3.0);
            if action == Action::Resume {
                block(h.sim.suspend_vm(&c, &id)).unwrap();
                h.clock.advance(3.0);
            }
            let sent = match action {
                Action::Suspend => block(h.sim.suspend_vm(&c, &id)),
                Action::Resume => block(h.sim.resume_vm(&c, &id)),
                Action::Reboot => block(h.sim.reboot_vm(&c, &id)),
                _ => block(h.sim.terminate_vm(&c, &id)),
            };
            sent.unwrap();
        }
        h.clock.advance(3600.0);
        assert_eq!(h.word(&c, &id), word, "{cloud} stuck {phase}");
        // Re-sending the action does not help (and is accepted, as the cloud would).
        if action == Action::Terminate {
            block(h.sim.terminate_vm(&c, &id)).unwrap();
            assert_eq!(h.word(&c, &id), word, "{cloud} stuck {phase}");
        }
        // The normaliser's deadline turns it into Failed.
        let native = NativeStatus::word(word);
        let seen = normalize_status(&Observation {
            cloud,
            native: &native,
            action: Some(action),
            since_action: Duration::from_secs(3600),
            deadline: Duration::from_secs(300),
            previous: Some(action.in_progress()),
        });
        assert_eq!(
            seen.status,
            UnifiedStatus::Failed,
            "{cloud} stuck {phase}: {seen:?}"
        );
    }
}

#[test]
fn removing_the_fault_unsticks_and_adding_it_later_changes_nothing_finished() {
    let c = home(Cloud::Gcp);
    let fault = vec![stuck("gcp", Some(&c.region), "resuming")];
    let h = Harness::new(with_faults(fault.clone()));
    let net = h.net(&c, "s");
    let id = h.create(&net, "vm-1").unwrap();
    h.clock.advance(3.0);
    assert_eq!(h.word(&c, &id), "RUNNING", "only resuming is stuck");
    block(h.sim.suspend_vm(&c, &id)).unwrap();
    h.clock.advance(3.0);
    block(h.sim.resume_vm(&c, &id)).unwrap();
    h.clock.advance(600.0);
    assert_eq!(h.word(&c, &id), "STAGING");

    // The next run has no fault: the resume, long overdue, is complete at once.
    let healed = h.reopen(with_faults(vec![]));
    let seen = block(crate::CloudDriver::vm_status(&healed, &c, &id)).unwrap();
    assert_eq!(seen.native, NativeStatus::word("RUNNING"));

    // A later run with the fault again does not bring the finished transition back.
    let again = h.reopen(with_faults(fault.clone()));
    let seen = block(crate::CloudDriver::vm_status(&again, &c, &id)).unwrap();
    assert_eq!(seen.native, NativeStatus::word("RUNNING"));

    // Nor does a fault added while a transition runs, if it started without it.
    let other = h.create(&net, "vm-2").unwrap();
    h.clock.advance(3.0);
    let plain = h.reopen(with_faults(vec![]));
    block(crate::CloudDriver::suspend_vm(&plain, &c, &other)).unwrap();
    h.clock.advance(3.0);
    block(crate::CloudDriver::resume_vm(&plain, &c, &other)).unwrap();
    h.clock.advance(10.0);
    let seen = block(crate::CloudDriver::vm_status(&again, &c, &other)).unwrap();
    assert_eq!(seen.native, NativeStatus::word("RUNNING"));
}

#[test]
fn a_stuck_fault_can_be_limited_to_a_region_and_a_terminate_gets_out_of_it() {
    let h = Harness::new(with_faults(vec![stuck(
        "aws",
        Some("us-east-1"),
        "creating",
    )]));
    let east = h.net(&at("aws", "us-east-1"), "e");
    let seoul = h.net(&at("aws", "ap-northeast-2"), "s");
    let a = h.create(&east, "vm-a").unwrap();
    let b = h.create(&seoul, "vm-b").unwrap();
    h.clock.advance(100.0);
    assert_eq!(h.word(&east.connection, &a), "pending");
    assert_eq!(h.word(&seoul.connection, &b), "running");
    // Suspend is refused while the VM is stuck creating; terminate is the way out.
    assert!(block(h.sim.suspend_vm(&east.connection, &a)).is_err());
    block(h.sim.terminate_vm(&east.connection, &a)).unwrap();
    h.clock.advance(3.0);
    assert_eq!(h.word(&east.connection, &a), "terminated");
}

#[test]
fn a_wrong_configuration_says_what_is_valid() {
    let cases: Vec<(SimConfig, &str)> = vec![
        (
            SimConfig {
                durations: [("tencent".to_string(), 1.0)].into(),
                ..SimConfig::default()
            },
            "no personality 'tencent': expected one of alibaba, aws, gcp, azure, openstack, cloudit",
        ),
        (
            SimConfig {
                durations: [("aws".to_string(), -1.0)].into(),
                ..SimConfig::default()
            },
            "durations.aws is -1",
        ),
        (
            SimConfig {
                default_duration: Some(f64::NAN),
                ..SimConfig::default()
            },
            "default_duration is NaN",
        ),
        (
            with_faults(vec![create_failure("aws", "mars-1", FaultKind::Quota)]),
            "region 'mars-1' of aws, which the simulator's catalog does not have; aws regions: ap-northeast-2, us-east-1",
        ),
        (
            with_faults(vec![stuck("gcp", None, "sleeping")]),
            "unknown phase 'sleeping' in a stuck fault: expected one of creating, suspending, resuming, rebooting, terminating",
        ),
    ];
    for (config, expected) in cases {
        let err = config.validate().unwrap_err();
        let SimError::Config(message) = &err else {
            panic!("{err:?}")
        };
        assert!(
            message.contains(expected),
            "{message}\n  does not contain\n{expected}"
        );
        let dir = tempfile::tempdir().unwrap();
        assert!(crate::sim::SimCloud::open(&dir.path().join("s.db"), config).is_err());
    }
    assert_eq!(SimConfig::default().validate(), Ok(()));
}
