//! State in SQLite: persistence across opens, several handles at once, addresses, tags,
//! inventory, idempotent deletes, deletion order, zero durations, the configuration's shape, and
//! a thousand VMs.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use lifecycle::{normalize_status, Action, Cloud, NativeStatus, Observation, UnifiedStatus};

use super::{at, block, home, tags, Harness};
use crate::sim::{Fault, FaultKind, SimCatalog, SimConfig, SimRegion};
use crate::{CloudDriver, CloudErrorKind, ResourceKind, TaggedResource};

#[test]
fn state_persists_across_opens_and_progress_follows_the_clock() {
    let h = Harness::with_duration(3.0);
    let c = home(Cloud::Alibaba);
    let net = h.net(&c, "p");
    let id = h.create(&net, "vm-1").unwrap();
    h.clock.advance(1.0);
    drop(h.sim.inventory().unwrap());
    // The next Terraform run opens the store again: the VM is there, still creating.
    let later = h.reopen(SimConfig {
        default_duration: Some(3.0),
        ..SimConfig::default()
    });
    let seen = block(later.vm_status(&c, &id)).unwrap();
    assert_eq!(seen.native, NativeStatus::word("Pending"));
    h.clock.advance(2.0);
    let seen = block(later.vm_status(&c, &id)).unwrap();
    assert_eq!(seen.native, NativeStatus::word("Running"));
    // The duration is the one in force when the operation started, not the new configuration's.
    let slow = h.reopen(SimConfig {
        default_duration: Some(100.0),
        ..SimConfig::default()
    });
    let seen = block(slow.vm_status(&c, &id)).unwrap();
    assert_eq!(seen.native, NativeStatus::word("Running"));
    block(slow.suspend_vm(&c, &id)).unwrap();
    h.clock.advance(50.0);
    assert_eq!(h.word(&c, &id), "Stopping");
    assert_eq!(h.sim.inventory().unwrap(), slow.inventory().unwrap());
}

#[test]
fn two_handles_on_one_store_see_each_other() {
    let h = Harness::with_duration(0.0);
    let other = h.reopen(SimConfig {
        default_duration: Some(0.0),
        ..SimConfig::default()
    });
    let c = home(Cloud::Aws);
    let net = h.net(&c, "a");
    // Created through one handle, suspended through the other, read through the first.
    let id = block(other.create_vm(&h.request(&net, "vm-1"))).unwrap();
    block(other.suspend_vm(&c, &id)).unwrap();
    assert_eq!(h.word(&c, &id), "stopped");
    // Interleaved creates never hand out one address twice.
    let mut addresses = BTreeSet::new();
    for i in 0..20 {
        let sim = if i % 2 == 0 { &h.sim } else { &other };
        let id = block(sim.create_vm(&h.request(&net, &format!("vm-{i}")))).unwrap();
        let seen = h.status(&c, &id).unwrap();
        assert!(addresses.insert(seen.private_ip.unwrap()));
    }
}

#[test]
fn zero_durations_make_every_operation_instant() {
    for cloud in Cloud::ALL {
        let h = Harness::with_duration(0.0);
        let c = home(cloud);
        let net = h.net(&c, "z");
        let id = h.create(&net, "vm-1").unwrap();
        let running = h.word(&c, &id);
        block(h.sim.suspend_vm(&c, &id)).unwrap();
        let stopped = h.word(&c, &id);
        block(h.sim.resume_vm(&c, &id)).unwrap();
        assert_eq!(h.word(&c, &id), running, "{cloud}");
        block(h.sim.reboot_vm(&c, &id)).unwrap();
        assert_eq!(h.word(&c, &id), running, "{cloud}");
        let native = NativeStatus::word(stopped.clone());
        let seen = normalize_status(&Observation {
            cloud,
            native: &native,
            action: Some(Action::Suspend),
            since_action: Duration::ZERO,
            deadline: Duration::from_secs(300),
            previous: Some(UnifiedStatus::Suspending),
        });
        assert!(seen.action_confirmed, "{cloud}: {stopped}");
        block(h.sim.terminate_vm(&c, &id)).unwrap();
        let after = h.word(&c, &id);
        match cloud {
            Cloud::Aws => assert_eq!(after, "terminated"),
            Cloud::Alibaba => assert_eq!(after, "Deleted"),
            _ => assert_eq!(after, "absent", "{cloud}"),
        }
    }
}

#[test]
fn personalities_can_have_their_own_durations() {
    let h = Harness::new(SimConfig {
        durations: [("gcp".to_string(), 10.0), ("aws".to_string(), 0.0)].into(),
        default_duration: Some(2.0),
        ..SimConfig::default()
    });
    let ids: Vec<_> = [Cloud::Gcp, Cloud::Aws, Cloud::Azure]
        .into_iter()
        .map(|cloud| {
            let net = h.net(&home(cloud), "d");
            (home(cloud), h.create(&net, "vm-1").unwrap())
        })
        .collect();
    h.clock.advance(2.0);
    let words: Vec<String> = ids.iter().map(|(c, id)| h.word(c, id)).collect();
    assert_eq!(words, ["PROVISIONING", "running", "running/succeeded"]);
    h.clock.advance(8.0);
    assert_eq!(h.word(&ids[0].0, &ids[0].1), "RUNNING");
}

#[test]
fn addresses_are_allocated_in_order_and_public_ones_appear_once_running() {
    let h = Harness::with_duration(2.0);
    let c = home(Cloud::Aws);
    let net = h.net(&c, "ip");
    let a = h.create(&net, "vm-a").unwrap();
    let seen = h.status(&c, &a).unwrap();
    assert_eq!(
        seen.private_ip.as_deref(),
        Some("10.0.1.4"),
        "AWS keeps the first 4"
    );
    assert_eq!(seen.public_ip, None, "no public address while pending");
    let b = h.create(&net, "vm-b").unwrap();
    h.clock.advance(2.0);
    let sa = h.status(&c, &a).unwrap();
    let sb = h.status(&c, &b).unwrap();
    assert_eq!(sb.private_ip.as_deref(), Some("10.0.1.5"));
    assert_eq!(sa.public_ip.as_deref(), Some("203.0.113.1"));
    assert_eq!(sb.public_ip.as_deref(), Some("203.0.113.2"));
    // The zone is chosen from the name, the same on every run.
    assert!(sa.zone.as_deref().unwrap().starts_with("ap-northeast-2"));
    let again = Harness::with_duration(2.0);
    let net2 = again.net(&c, "ip");
    let a2 = again.create(&net2, "vm-a").unwrap();
    assert_eq!(again.status(&c, &a2).unwrap().zone, sa.zone);
    assert_eq!(a2, a, "ids come from the store's own sequence");
    // A given zone is kept.
    let mut request = h.request(&net, "vm-z");
    request.zone = Some("ap-northeast-2c".into());
    let z = block(h.sim.create_vm(&request)).unwrap();
    assert_eq!(
        h.status(&c, &z).unwrap().zone.as_deref(),
        Some("ap-northeast-2c")
    );
    // A deleted VM's address goes back to the subnet once the VM is no longer listed.
    block(h.sim.terminate_vm(&c, &a)).unwrap();
    h.clock.advance(2.0);
    let seen = h.status(&c, &a).unwrap();
    assert_eq!(seen.native, NativeStatus::word("terminated"));
    assert_eq!((seen.private_ip, seen.public_ip), (None, None));
    assert_eq!(
        seen.message.as_deref(),
        Some("Client.UserInitiatedShutdown: User initiated shutdown")
    );
    h.clock.advance(60.0);
    let d = h.create(&net, "vm-d").unwrap();
    assert_eq!(
        h.status(&c, &d).unwrap().private_ip.as_deref(),
        Some("10.0.1.4")
    );
}

#[test]
fn a_full_subnet_refuses_more_vms() {
    let h = Harness::with_duration(0.0);
    let c = home(Cloud::Gcp);
    // A /29 has 8 addresses; GCP keeps .0 and .1 and the broadcast: .2 to .6 are free.
    let net = h.net_with(&c, "small", "10.0.1.0/29", Default::default());
    for i in 0..5 {
        h.create(&net, &format!("vm-{i}")).unwrap();
    }
    let err = h.create(&net, "vm-5").unwrap_err();
    assert_eq!(err.kind, CloudErrorKind::InvalidRequest);
    assert_eq!(
        err.message,
        "IP_SPACE_EXHAUSTED: IP space of subnetwork 10.0.1.0/29 is exhausted."
    );
}

#[test]
fn deletes_are_idempotent_and_must_come_in_order() {
    let h = Harness::with_duration(1.0);
    let c = home(Cloud::Aws);
    let net = h.net(&c, "o");
    let id = h.create(&net, "vm-1").unwrap();
    // The vNet still has its security group and VM.
    let err = block(h.sim.delete_vnet(&c, &net.vnet)).unwrap_err();
    assert_eq!(err.kind, CloudErrorKind::InvalidRequest);
    assert_eq!(
        err.message,
        format!(
            "DependencyViolation: The vpc '{}' has dependencies and cannot be deleted. (dependents: {}, {})",
            net.vnet, net.group, id
        )
    );
    let err = block(h.sim.delete_security_group(&c, &net.group)).unwrap_err();
    assert_eq!(
        err.message,
        format!(
            "DependencyViolation: resource {} has a dependent object ({id})",
            net.group
        )
    );
    // A key pair in use can be deleted, as on AWS.
    block(h.sim.delete_key_pair(&c, &net.key)).unwrap();
    block(h.sim.terminate_vm(&c, &id)).unwrap();
    // Still shutting down: still a dependent.
    assert!(block(h.sim.delete_security_group(&c, &net.group)).is_err());
    h.clock.advance(1.0);
    // Listed as terminated, no longer a dependent.
    block(h.sim.delete_security_group(&c, &net.group)).unwrap();
    block(h.sim.delete_vnet(&c, &net.vnet)).unwrap();
    // Again: already gone, fine.
    block(h.sim.delete_security_group(&c, &net.group)).unwrap();
    block(h.sim.delete_vnet(&c, &net.vnet)).unwrap();
    block(h.sim.delete_key_pair(&c, &net.key)).unwrap();
    block(h.sim.delete_vnet(&c, "vpc-never-existed")).unwrap();
    // Deleting with the wrong kind's call deletes nothing.
    let net = h.net(&c, "k");
    block(h.sim.delete_vnet(&c, &net.key)).unwrap();
    assert_eq!(h.sim.inventory().unwrap().resources.len(), 3);
}

#[test]
fn dependency_errors_name_the_dependents_in_every_cloud() {
    let starts = [
        (Cloud::Azure, "InUseSubnetCannotBeDeleted: "),
        (Cloud::Gcp, "400 resourceInUseByAnotherResource: "),
        (Cloud::Alibaba, "DependencyViolation: "),
        (Cloud::OpenStack, "Unable to complete operation on network "),
        (Cloud::Cloudit, "RESOURCE_IN_USE: vnet "),
    ];
    for (cloud, start) in starts {
        let h = Harness::with_duration(0.0);
        let c = home(cloud);
        let net = h.net(&c, "d");
        let err = block(h.sim.delete_vnet(&c, &net.vnet)).unwrap_err();
        assert!(err.message.starts_with(start), "{cloud}: {}", err.message);
        assert!(err.message.contains(&net.group), "{cloud}: {}", err.message);
    }
}

#[test]
fn list_tagged_finds_what_carries_the_tag_and_is_not_deleted() {
    let h = Harness::with_duration(1.0);
    let c = home(Cloud::Azure);
    let mine = tags(&[("tumblebug-mcis", "demo"), ("owner", "me")]);
    let net = h.net_with(&c, "t", "10.0.1.0/24", mine.clone());
    let mut request = h.request(&net, "vm-1");
    request.tags = mine.clone();
    let vm = block(h.sim.create_vm(&request)).unwrap();
    let mut request = h.request(&net, "vm-2");
    request.tags = tags(&[("tumblebug-mcis", "other")]);
    let other = block(h.sim.create_vm(&request)).unwrap();
    let mut request = h.request(&net, "vm-3");
    request.tags = mine.clone();
    let doomed = block(h.sim.create_vm(&request)).unwrap();
    block(h.sim.terminate_vm(&c, &doomed)).unwrap();

    let found = block(h.sim.list_tagged(&c, "tumblebug-mcis", "demo")).unwrap();
    let kinds: Vec<(ResourceKind, &str)> = found.iter().map(|t| (t.kind, t.id.as_str())).collect();
    let mut expected = vec![
        (ResourceKind::Vnet, net.vnet.as_str()),
        (ResourceKind::SecurityGroup, net.group.as_str()),
        (ResourceKind::KeyPair, net.key.as_str()),
        (ResourceKind::Vm, doomed.as_str()),
        (ResourceKind::Vm, vm.as_str()),
    ];
    expected.sort();
    assert_eq!(kinds, expected, "by kind, then id");
    assert!(found.iter().all(|t| t.tags == mine && t.connection == c));
    // Once deleted, the VM is no longer found.
    h.clock.advance(1.0);
    let found = block(h.sim.list_tagged(&c, "tumblebug-mcis", "demo")).unwrap();
    assert!(!found.iter().any(|t| t.id == doomed));
    assert_eq!(found.len(), 4);
    // Another value, another key, another region.
    let found = block(h.sim.list_tagged(&c, "tumblebug-mcis", "other")).unwrap();
    assert_eq!(
        found,
        [TaggedResource {
            kind: ResourceKind::Vm,
            id: other,
            connection: c.clone(),
            tags: tags(&[("tumblebug-mcis", "other")]),
        }]
    );
    assert!(block(h.sim.list_tagged(&c, "owner", "you"))
        .unwrap()
        .is_empty());
    assert_eq!(
        block(h.sim.list_tagged(&c, "owner", "me")).unwrap().len(),
        4
    );
    assert!(
        block(h.sim.list_tagged(&at("azure", "eastus"), "owner", "me"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_inventory_lists_everything_that_exists() {
    let h = Harness::with_duration(1.0);
    assert!(h.sim.inventory().unwrap().is_empty());
    let c = home(Cloud::Gcp);
    let net = h.net(&c, "i");
    let a = h.create(&net, "vm-a").unwrap();
    let b = h.create(&net, "vm-b").unwrap();
    h.clock.advance(1.0);
    block(h.sim.suspend_vm(&c, &b)).unwrap();
    let inventory = h.sim.inventory().unwrap();
    assert_eq!(inventory.resources.len(), 3);
    let vms: Vec<(&str, &str)> = inventory
        .vms
        .iter()
        .map(|v| (v.id.as_str(), v.native.as_str()))
        .collect();
    let mut expected = vec![(a.as_str(), "RUNNING"), (b.as_str(), "STOPPING")];
    expected.sort();
    assert_eq!(vms, expected, "by id");
    assert_eq!(inventory.vms[0].connection, c);
    assert_eq!(inventory.vms[0].vnet_id, net.vnet);
    // Serialisable, for the provider's inventory command.
    let json = serde_json::to_value(&inventory).unwrap();
    assert_eq!(json["vms"][0]["native"], expected[0].1);
    let kinds: BTreeSet<String> = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["key_pair", "security_group", "vnet"]
            .map(String::from)
            .into()
    );
    // Tear down in order: nothing left.
    for id in [&a, &b] {
        block(h.sim.terminate_vm(&c, id)).unwrap();
    }
    h.clock.advance(1.0);
    block(h.sim.delete_security_group(&c, &net.group)).unwrap();
    block(h.sim.delete_vnet(&c, &net.vnet)).unwrap();
    block(h.sim.delete_key_pair(&c, &net.key)).unwrap();
    assert!(h.sim.inventory().unwrap().is_empty());
}

#[test]
fn the_configuration_has_a_plain_serde_shape() {
    let json = r#"{
        "durations": { "aws": 3.0, "gcp": 0 },
        "default_duration": 2.5,
        "deleted_linger": 10,
        "faults": [
            { "type": "create_failure", "provider": "aws", "region": "us-east-1", "kind": "capacity" },
            { "type": "create_failure", "provider": "gcp", "region": "us-central1", "kind": "quota",
              "message": "QUOTA_EXCEEDED: mine" },
            { "type": "status_error", "provider": "gcp" },
            { "type": "stuck", "provider": "azure", "region": "eastus", "phase": "resuming" }
        ],
        "catalog": { "regions": [
            { "provider": "aws", "region": "us-east-1", "zones": ["us-east-1a"], "specs": ["t3.small"] },
            { "provider": "gcp", "region": "us-central1" },
            { "provider": "azure", "region": "eastus" }
        ] }
    }"#;
    let config: SimConfig = serde_json::from_str(json).unwrap();
    assert_eq!(config.durations["gcp"], 0.0);
    assert_eq!(config.default_duration, Some(2.5));
    assert_eq!(
        config.faults[1],
        Fault::CreateFailure {
            provider: "gcp".into(),
            region: "us-central1".into(),
            kind: FaultKind::Quota,
            message: Some("QUOTA_EXCEEDED: mine".into()),
        }
    );
    assert_eq!(
        config.catalog.as_ref().unwrap().regions[1],
        SimRegion {
            provider: "gcp".into(),
            region: "us-central1".into(),
            zones: vec![],
            specs: vec![],
        }
    );
    config.validate().unwrap();
    let empty: SimConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(empty, SimConfig::default());
    assert!(serde_json::from_str::<SimConfig>(r#"{"duration": 1}"#).is_err());
    assert!(serde_json::from_str::<SimConfig>(
        r#"{"faults": [{"type": "meteor", "provider": "aws"}]}"#
    )
    .is_err());
    assert!(serde_json::from_str::<SimConfig>(
        r#"{"faults": [{"type": "stuck", "provider": "aws", "phase": "creating", "zone": "a"}]}"#
    )
    .is_err());
    // Round trip.
    let back: SimConfig = serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
    assert_eq!(back, config);
}

#[test]
fn a_configured_catalog_replaces_the_builtin_one() {
    let h = Harness::new(SimConfig {
        default_duration: Some(0.0),
        catalog: Some(SimCatalog {
            regions: vec![SimRegion {
                provider: "gcp".into(),
                region: "me-west1".into(),
                zones: vec![],
                specs: vec![],
            }],
        }),
        ..SimConfig::default()
    });
    let c = at("gcp", "me-west1");
    let net = h.net(&c, "m");
    let mut request = h.request(&net, "vm-1");
    request.spec = "a3-highgpu-8g".into();
    let id = block(h.sim.create_vm(&request)).unwrap();
    let zone = h.status(&c, &id).unwrap().zone.unwrap();
    assert!(
        ["me-west1-a", "me-west1-b"].contains(&zone.as_str()),
        "{zone}"
    );
    assert!(
        h.status(&home(Cloud::Gcp), "x").is_err(),
        "the builtin regions are gone"
    );
    assert_eq!(h.sim.catalog().regions("gcp"), ["me-west1"]);
}

#[test]
fn the_builtin_catalog_holds_the_seed_demo() {
    let catalog = SimCatalog::builtin();
    assert_eq!(
        catalog.providers(),
        [
            "aws",
            "azure",
            "gcp",
            "alibaba",
            "openstack",
            "cloudit",
            "local"
        ]
    );
    let demo = [
        ("aws", "ap-northeast-2", "t3.small"),
        ("aws", "us-east-1", "m5.large"),
        ("aws", "eu-west-1", "t3.small"),
        ("azure", "koreacentral", "Standard_B2s"),
        ("azure", "eastus", "Standard_D2s_v3"),
        ("azure", "westeurope", "Standard_B2s"),
        ("gcp", "asia-northeast3", "e2-medium"),
        ("gcp", "us-central1", "n2-standard-2"),
        ("gcp", "europe-west1", "e2-medium"),
        ("alibaba", "ap-northeast-2", "ecs.g6.large"),
        ("alibaba", "cn-hongkong", "ecs.g6.large"),
        ("openstack", "RegionOne", "m1.small"),
        ("cloudit", "kr-central", "small-2"),
    ];
    for (provider, region, spec) in demo {
        let r = catalog
            .region(provider, region)
            .unwrap_or_else(|| panic!("{provider} {region}"));
        assert!(r.offers(spec), "{provider} {region} {spec}");
        assert!(!r.zones.is_empty());
        assert!(catalog.specs(provider, region).contains(&spec));
    }
    // 18 VMs over 10 regions of four clouds, as in the seed talk.
    let h = Harness::with_duration(0.0);
    for (n, (provider, region, _)) in demo[..10].iter().enumerate() {
        let net = h.net(&at(provider, region), "demo");
        let count = if n < 8 { 2 } else { 1 };
        for i in 0..count {
            h.create(&net, &format!("vm-{i}")).unwrap();
        }
    }
    let inventory = h.sim.inventory().unwrap();
    assert_eq!(inventory.vms.len(), 18);
    let regions: BTreeSet<_> = inventory.vms.iter().map(|v| v.connection.clone()).collect();
    assert_eq!(regions.len(), 10);
}

/// A thousand VMs created from several threads, then polled three times over.
#[test]
fn a_thousand_vms_created_concurrently_and_polled() {
    let h = Harness::with_duration(3.0);
    let clouds = [Cloud::Aws, Cloud::Azure, Cloud::Gcp, Cloud::Alibaba];
    let nets: Vec<_> = clouds
        .iter()
        .map(|cloud| h.net_with(&home(*cloud), "big", "10.0.0.0/20", Default::default()))
        .collect();
    let started = Instant::now();
    let ids: Vec<(usize, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let h = &h;
                let nets = &nets;
                scope.spawn(move || {
                    (0..250)
                        .map(|i| {
                            let net = &nets[(w + i) % 4];
                            let name = format!("vm-{w}-{i}");
                            (
                                (w + i) % 4,
                                block(h.sim.create_vm(&h.request(net, &name))).unwrap(),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let created = started.elapsed();
    assert_eq!(ids.len(), 1000);
    let distinct: BTreeSet<_> = ids.iter().map(|(_, id)| id).collect();
    assert_eq!(distinct.len(), 1000);
    let started = Instant::now();
    for round in 0..3 {
        let mut running = 0;
        for (n, id) in &ids {
            let seen = block(h.sim.vm_status(&nets[*n].connection, id)).unwrap();
            let native = &seen.native;
            if lifecycle::raw_status(clouds[*n], native) == UnifiedStatus::Running {
                running += 1;
            }
        }
        assert_eq!(running, if round == 0 { 0 } else { 1000 }, "round {round}");
        h.clock.advance(3.0);
    }
    let polled = started.elapsed();
    eprintln!("1000 VMs: created in {created:?}, 3000 polls in {polled:?}");
    assert!(created < Duration::from_secs(60) && polled < Duration::from_secs(30));
}
