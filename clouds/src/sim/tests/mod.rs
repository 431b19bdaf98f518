//! Simulator tests: every call goes through the public [`CloudDriver`] interface, with an
//! injected clock so that every word is seen at an exact instant.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lifecycle::{Cloud, NativeStatus};

use super::{SimCloud, SimConfig};
use crate::{
    CloudDriver, CloudError, Connection, FirewallRule, KeyPairRequest, SecurityGroupRequest, Tags,
    VmObservation, VmRequest, VnetRequest,
};

mod errors;
mod faults;
mod lifecycle_words;
mod store;

/// A clock the test moves by hand, in milliseconds since the epoch.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn new() -> TestClock {
        TestClock(Arc::new(AtomicI64::new(1_700_000_000_000)))
    }

    fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    fn advance(&self, secs: f64) {
        self.advance_ms((secs * 1000.0).round() as i64);
    }

    fn clock(&self) -> super::Clock {
        let now = self.0.clone();
        Arc::new(move || UNIX_EPOCH + Duration::from_millis(now.load(Ordering::SeqCst) as u64))
    }
}

/// Runs a future to completion (the simulator never really waits).
fn block<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

/// A simulator on a fresh store, with its clock.
struct Harness {
    _dir: tempfile::TempDir,
    path: PathBuf,
    clock: TestClock,
    sim: SimCloud,
}

/// A connection.
fn at(provider: &str, region: &str) -> Connection {
    Connection {
        provider: provider.to_string(),
        region: region.to_string(),
    }
}

/// One region per personality, used by the tables.
fn home(cloud: Cloud) -> Connection {
    let region = match cloud {
        Cloud::Aws => "ap-northeast-2",
        Cloud::Azure => "koreacentral",
        Cloud::Gcp => "asia-northeast3",
        Cloud::Alibaba => "ap-northeast-2",
        Cloud::OpenStack => "RegionOne",
        Cloud::Cloudit => "kr-central",
        Cloud::Local => "local",
    };
    at(cloud.as_str(), region)
}

/// A spec that exists in [`home`].
fn spec_of(provider: &str) -> &'static str {
    match provider {
        "aws" => "t3.small",
        "azure" => "Standard_B2s",
        "gcp" => "e2-medium",
        "alibaba" => "ecs.g6.large",
        "openstack" => "m1.small",
        _ => "small-2",
    }
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The ids of one connection's vNet, security group and key pair.
#[derive(Debug, Clone)]
struct Net {
    connection: Connection,
    vnet: String,
    group: String,
    key: String,
}

impl Harness {
    fn new(config: SimConfig) -> Harness {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("store.db");
        let clock = TestClock::new();
        let sim = SimCloud::open_with_clock(&path, config, clock.clock()).expect("the simulator");
        Harness {
            _dir: dir,
            path,
            clock,
            sim,
        }
    }

    /// Every personality takes `secs` per operation.
    fn with_duration(secs: f64) -> Harness {
        Harness::new(SimConfig {
            default_duration: Some(secs),
            ..SimConfig::default()
        })
    }

    /// Another simulator on the same store and clock, as a later Terraform run would open it.
    fn reopen(&self, config: SimConfig) -> SimCloud {
        SimCloud::open_with_clock(&self.path, config, self.clock.clock()).expect("reopen")
    }

    /// Creates a vNet (10.0.0.0/16, subnet 10.0.1.0/24), a security group and a key pair.
    fn net(&self, connection: &Connection, name: &str) -> Net {
        self.net_with(connection, name, "10.0.1.0/24", Tags::new())
    }

    fn net_with(&self, connection: &Connection, name: &str, subnet: &str, tags: Tags) -> Net {
        let vnet = block(self.sim.create_vnet(&VnetRequest {
            connection: connection.clone(),
            name: format!("{name}-vnet"),
            cidr: "10.0.0.0/16".into(),
            subnet_cidr: subnet.into(),
            tags: tags.clone(),
        }))
        .expect("create_vnet");
        let group = block(self.sim.create_security_group(&SecurityGroupRequest {
            connection: connection.clone(),
            name: format!("{name}-sg"),
            vnet_id: vnet.clone(),
            ingress: vec![FirewallRule {
                protocol: "tcp".into(),
                from_port: 22,
                to_port: 22,
                cidr: "0.0.0.0/0".into(),
            }],
            egress: vec![],
            tags: tags.clone(),
        }))
        .expect("create_security_group");
        let key = block(self.sim.create_key_pair(&KeyPairRequest {
            connection: connection.clone(),
            name: format!("{name}-key"),
            public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA test".into(),
            tags,
        }))
        .expect("create_key_pair");
        Net {
            connection: connection.clone(),
            vnet,
            group,
            key,
        }
    }

    fn request(&self, net: &Net, name: &str) -> VmRequest {
        VmRequest {
            connection: net.connection.clone(),
            zone: None,
            name: name.into(),
            spec: spec_of(&net.connection.provider).into(),
            image: "ubuntu-22.04".into(),
            spot: false,
            vnet_id: net.vnet.clone(),
            security_group_id: net.group.clone(),
            key_pair_id: net.key.clone(),
            tags: Tags::new(),
        }
    }

    fn create(&self, net: &Net, name: &str) -> Result<String, CloudError> {
        block(self.sim.create_vm(&self.request(net, name)))
    }

    fn status(&self, connection: &Connection, id: &str) -> Result<VmObservation, CloudError> {
        block(self.sim.vm_status(connection, id))
    }

    /// The native word now, `"absent"` for an absent VM; panics on a status error.
    fn word(&self, connection: &Connection, id: &str) -> String {
        match self.status(connection, id).expect("vm_status").native {
            NativeStatus::Word(word) => word,
            NativeStatus::Absent => "absent".into(),
            NativeStatus::Unreadable(e) => panic!("unreadable: {e}"),
        }
    }
}

#[test]
fn the_clock_is_injected() {
    let clock = TestClock::new();
    let before = (clock.clock())();
    clock.advance(1.5);
    let after = (clock.clock())();
    assert_eq!(
        after.duration_since(before).unwrap(),
        Duration::from_millis(1500)
    );
    assert!(SystemTime::now() > after, "the test clock starts in 2023");
}
