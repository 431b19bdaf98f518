//! Requests the clouds refuse, refused in each cloud's words.

use lifecycle::Cloud;

use super::{at, block, home, Harness};
use crate::{
    CloudDriver, CloudErrorKind, Connection, KeyPairRequest, SecurityGroupRequest, VnetRequest,
};

#[test]
fn an_unknown_provider_or_region_lists_what_is_valid() {
    let h = Harness::with_duration(0.0);
    let err = h.status(&at("tencent", "ap-seoul"), "x").unwrap_err();
    assert_eq!(err.kind, CloudErrorKind::InvalidRequest);
    assert_eq!(
        err.message,
        "the simulator has no cloud 'tencent': it simulates alibaba, aws, gcp, azure, openstack, cloudit, local"
    );
    let rows = [
        ("aws", "InvalidParameterValue: Invalid availability zone/region 'xx' (valid regions: ap-northeast-2, us-east-1, eu-west-1, us-west-2, ap-southeast-1)"),
        ("azure", "LocationNotAvailableForResourceType: The provided location 'xx' is not available for resource type 'Microsoft.Compute/virtualMachines'. List of available regions for the resource type is 'koreacentral, eastus, westeurope, japaneast'."),
        ("gcp", "400 invalid: Invalid value for field 'region': 'xx'. Unknown region."),
        ("alibaba", "InvalidRegionId.NotFound: The specified RegionId 'xx' does not exist."),
        ("openstack", "EndpointNotFound: Could not find requested endpoint in Service Catalog for region 'xx' (regions: RegionOne)"),
        ("cloudit", "INVALID_REGION: region 'xx' does not exist (regions: kr-central)"),
        ("local", "local: unknown region 'xx' (regions: local)"),
    ];
    for (provider, start) in rows {
        let c = at(provider, "xx");
        let err = block(h.sim.create_vnet(&VnetRequest {
            connection: c.clone(),
            name: "n".into(),
            cidr: "10.0.0.0/16".into(),
            subnet_cidr: "10.0.1.0/24".into(),
            tags: Default::default(),
        }))
        .unwrap_err();
        assert_eq!(err.kind, CloudErrorKind::InvalidRequest, "{provider}");
        assert!(
            err.message.starts_with(start),
            "{provider}: {}",
            err.message
        );
        // Every call checks the connection, a status query too.
        assert_eq!(h.status(&c, "x").unwrap_err().message, err.message);
    }
}

#[test]
fn an_unknown_spec_zone_or_image_is_refused_with_what_is_valid() {
    let h = Harness::with_duration(0.0);
    let net = h.net(&home(Cloud::Aws), "e");
    let mut request = h.request(&net, "vm");
    request.spec = "p5.48xlarge".into();
    let err = block(h.sim.create_vm(&request)).unwrap_err();
    assert_eq!(err.kind, CloudErrorKind::InvalidRequest);
    assert_eq!(
        err.message,
        "InvalidParameterValue: Invalid value 'p5.48xlarge' for InstanceType. (offered here: t3.micro, t3.small, t3.medium, m5.large, m5.xlarge, c5.large)"
    );

    let mut request = h.request(&net, "vm");
    request.zone = Some("us-east-1a".into());
    let err = block(h.sim.create_vm(&request)).unwrap_err();
    assert!(
        err.message.contains("Zones of ap-northeast-2: ap-northeast-2a, ap-northeast-2b, ap-northeast-2c, ap-northeast-2d."),
        "{}",
        err.message
    );

    let mut request = h.request(&net, "vm");
    request.image = " ".into();
    let err = block(h.sim.create_vm(&request)).unwrap_err();
    assert_eq!(err.kind, CloudErrorKind::InvalidRequest);
    assert!(err.message.contains("image"), "{}", err.message);

    let gcp = h.net(&home(Cloud::Gcp), "g");
    let mut request = h.request(&gcp, "vm");
    request.spec = "t3.small".into();
    let err = block(h.sim.create_vm(&request)).unwrap_err();
    assert!(
        err.message.starts_with(
            "400 invalid: Invalid value for field 'resource.machineType': 'zones/asia-northeast3-"
        ),
        "{}",
        err.message
    );
    assert!(h.sim.inventory().unwrap().vms.is_empty());
}

#[test]
fn a_vm_must_refer_to_things_that_exist_in_its_connection() {
    let h = Harness::with_duration(0.0);
    let seoul = h.net(&home(Cloud::Aws), "s");
    let east = h.net(&at("aws", "us-east-1"), "e");
    let cases = [
        (
            "vnet",
            "InvalidVpcID.NotFound: The vpc ID 'vpc-nope' does not exist",
        ),
        (
            "group",
            "InvalidGroup.NotFound: The security group 'sg-nope' does not exist",
        ),
        (
            "key",
            "InvalidKeyPair.NotFound: The key pair 'key-nope' does not exist",
        ),
    ];
    for (which, message) in cases {
        let mut request = h.request(&seoul, "vm");
        match which {
            "vnet" => request.vnet_id = "vpc-nope".into(),
            "group" => request.security_group_id = "sg-nope".into(),
            _ => request.key_pair_id = "key-nope".into(),
        }
        let err = block(h.sim.create_vm(&request)).unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (CloudErrorKind::InvalidRequest, message)
        );
    }
    // The key pair of another region does not exist here.
    let mut request = h.request(&seoul, "vm");
    request.key_pair_id = east.key.clone();
    let err = block(h.sim.create_vm(&request)).unwrap_err();
    assert!(
        err.message.starts_with("InvalidKeyPair.NotFound"),
        "{}",
        err.message
    );
    // A security group of another vNet.
    let other = h.net(&home(Cloud::Aws), "o");
    let mut request = h.request(&seoul, "vm");
    request.security_group_id = other.group.clone();
    let err = block(h.sim.create_vm(&request)).unwrap_err();
    assert!(
        err.message.starts_with("InvalidParameter: Security group"),
        "{}",
        err.message
    );
    // A security group needs its vNet.
    let err = block(h.sim.create_security_group(&SecurityGroupRequest {
        connection: home(Cloud::Azure),
        name: "sg".into(),
        vnet_id: "/nope".into(),
        ingress: vec![],
        egress: vec![],
        tags: Default::default(),
    }))
    .unwrap_err();
    assert_eq!(err.kind, CloudErrorKind::InvalidRequest);
    assert_eq!(
        err.message,
        "ResourceNotFound: The Resource '/nope' was not found."
    );
}

#[test]
fn bad_networks_and_keys_are_refused() {
    let h = Harness::with_duration(0.0);
    let c = home(Cloud::Aws);
    let vnet = |cidr: &str, subnet: &str| {
        block(h.sim.create_vnet(&VnetRequest {
            connection: c.clone(),
            name: "n".into(),
            cidr: cidr.into(),
            subnet_cidr: subnet.into(),
            tags: Default::default(),
        }))
    };
    for (cidr, subnet, why) in [
        ("10.0.0.0/33", "10.0.1.0/24", "not a prefix length"),
        ("10.0.0.1/16", "10.0.1.0/24", "not the first address"),
        ("10.0.0.0/16", "10.1.1.0/24", "not inside the network"),
        ("10.0.0.0/16", "10.0.1.0/30", "too small"),
        ("banana", "10.0.1.0/24", "a.b.c.d/n"),
    ] {
        let err = vnet(cidr, subnet).unwrap_err();
        assert_eq!(err.kind, CloudErrorKind::InvalidRequest);
        assert!(
            err.message.starts_with("InvalidParameterValue: Value ("),
            "{}",
            err.message
        );
        assert!(err.message.contains(why), "{why}: {}", err.message);
    }
    let key = |name: &str, public_key: &str| {
        block(h.sim.create_key_pair(&KeyPairRequest {
            connection: c.clone(),
            name: name.into(),
            public_key: public_key.into(),
            tags: Default::default(),
        }))
    };
    let err = key("k", "not a key").unwrap_err();
    assert!(
        err.message.contains("OpenSSH public key format"),
        "{}",
        err.message
    );
    key("k", "ssh-rsa AAAAB3 me").unwrap();
    let err = key("k", "ssh-rsa AAAAB3 me").unwrap_err();
    assert_eq!(
        err.message,
        "InvalidKeyPair.Duplicate: The keypair 'k' already exists."
    );
    let err = block(h.sim.create_security_group(&SecurityGroupRequest {
        connection: c.clone(),
        name: "sg".into(),
        vnet_id: vnet("10.0.0.0/16", "10.0.1.0/24").unwrap(),
        ingress: vec![crate::FirewallRule {
            protocol: "sctp".into(),
            from_port: 1,
            to_port: 2,
            cidr: "0.0.0.0/0".into(),
        }],
        egress: vec![],
        tags: Default::default(),
    }))
    .unwrap_err();
    assert!(
        err.message
            .contains("Valid protocols: tcp, udp, icmp, all."),
        "{}",
        err.message
    );
}

#[test]
fn names_are_unique_where_ids_are_names() {
    let h = Harness::with_duration(1.0);
    for cloud in [Cloud::Gcp, Cloud::Azure] {
        let c = home(cloud);
        let net = h.net(&c, "n");
        let id = h.create(&net, "vm-1").unwrap();
        let err = h.create(&net, "vm-1").unwrap_err();
        assert_eq!(err.kind, CloudErrorKind::InvalidRequest);
        assert!(err.message.contains("already exists"), "{}", err.message);
        // Once deleted, the name can be used again, and gets the same id.
        block(h.sim.terminate_vm(&c, &id)).unwrap();
        h.clock.advance(1.0);
        assert_eq!(h.create(&net, "vm-1").unwrap(), id);
    }
    let c = home(Cloud::Gcp);
    let err = block(h.sim.create_vnet(&VnetRequest {
        connection: c.clone(),
        name: "n-vnet".into(),
        cidr: "10.0.0.0/16".into(),
        subnet_cidr: "10.0.1.0/24".into(),
        tags: Default::default(),
    }))
    .unwrap_err();
    assert_eq!(
        err.message,
        "409 alreadyExists: The resource 'projects/tumblebug-sim/regions/asia-northeast3/subnetworks/n-vnet' already exists"
    );
    // The same name in another region is another resource.
    h.net(&at("gcp", "us-central1"), "n");
}

/// Actions a VM's state does not allow, per cloud.
#[test]
fn actions_in_the_wrong_state_are_refused_in_the_clouds_words() {
    let rows = [
        (Cloud::Aws, "IncorrectInstanceState: The instance '{id}' is not in a state from which it can be rebooted."),
        (Cloud::Azure, "OperationNotAllowed: Operation 'restart' is not allowed on VM 'vm-1' since the VM is in state 'stopped/succeeded'."),
        (Cloud::Gcp, "400 resourceNotReady: The resource '{id}' is not ready (status TERMINATED, cannot reboot)"),
        (Cloud::Alibaba, "IncorrectInstanceStatus: The current status of the resource does not support this operation. (InstanceId {id}, Status Stopped)"),
        (Cloud::OpenStack, "Cannot 'reboot' instance {id} while it is in vm_state stopped (status SHUTOFF) (HTTP 409)"),
        (Cloud::Cloudit, "INVALID_STATE: cannot reboot server {id} while it is STOPPED"),
    ];
    for (cloud, message) in rows {
        let h = Harness::with_duration(2.0);
        let c = home(cloud);
        let net = h.net(&c, "n");
        let id = h.create(&net, "vm-1").unwrap();
        h.clock.advance(2.0);
        block(h.sim.suspend_vm(&c, &id)).unwrap();
        h.clock.advance(2.0);
        let err = block(h.sim.reboot_vm(&c, &id)).unwrap_err();
        assert_eq!(err.kind, CloudErrorKind::InvalidRequest, "{cloud}");
        assert_eq!(err.message, message.replace("{id}", &id), "{cloud}");
    }
}

#[test]
fn which_actions_each_state_allows() {
    let h = Harness::with_duration(2.0);
    let c = home(Cloud::Aws);
    let net = h.net(&c, "n");
    let id = h.create(&net, "vm-1").unwrap();
    let try_all = |c: &Connection, id: &str| {
        [
            block(h.sim.suspend_vm(c, id)).is_ok(),
            block(h.sim.resume_vm(c, id)).is_ok(),
            block(h.sim.reboot_vm(c, id)).is_ok(),
        ]
    };
    // Creating: nothing but terminate.
    assert_eq!(try_all(&c, &id), [false, false, false]);
    h.clock.advance(2.0);
    // Running: resume is a no-op; suspend starts.
    assert!(block(h.sim.resume_vm(&c, &id)).is_ok());
    assert_eq!(h.word(&c, &id), "running");
    block(h.sim.suspend_vm(&c, &id)).unwrap();
    assert_eq!(h.word(&c, &id), "stopping");
    // Stopping: suspend again is a no-op that does not restart the clock; the others are refused.
    h.clock.advance(1.0);
    assert_eq!(try_all(&c, &id), [true, false, false]);
    h.clock.advance(1.0);
    assert_eq!(h.word(&c, &id), "stopped");
    // Stopped: suspend is a no-op, reboot refused, resume starts.
    assert!(block(h.sim.suspend_vm(&c, &id)).is_ok());
    assert!(block(h.sim.reboot_vm(&c, &id)).is_err());
    block(h.sim.resume_vm(&c, &id)).unwrap();
    assert_eq!(h.word(&c, &id), "pending");
    h.clock.advance(2.0);
    block(h.sim.reboot_vm(&c, &id)).unwrap();
    assert_eq!(h.word(&c, &id), "rebooting");
    // Terminate is accepted in any state, and again, and after the VM is gone.
    block(h.sim.terminate_vm(&c, &id)).unwrap();
    block(h.sim.terminate_vm(&c, &id)).unwrap();
    h.clock.advance(2.0);
    assert_eq!(h.word(&c, &id), "terminated");
    assert_eq!(try_all(&c, &id), [false, false, false]);
    block(h.sim.terminate_vm(&c, &id)).unwrap();
    h.clock.advance(120.0);
    assert_eq!(h.word(&c, &id), "absent");
    block(h.sim.terminate_vm(&c, &id)).unwrap();
    let err = block(h.sim.suspend_vm(&c, &id)).unwrap_err();
    assert_eq!(err.kind, CloudErrorKind::NotFound);
    assert_eq!(
        err.message,
        format!("InvalidInstanceID.NotFound: The instance ID '{id}' does not exist")
    );
    // A VM of another region is not known here.
    let east = at("aws", "us-east-1");
    let other = h.create(&net, "vm-2").unwrap();
    assert_eq!(h.word(&east, &other), "absent");
    assert_eq!(
        block(h.sim.reboot_vm(&east, &other)).unwrap_err().kind,
        CloudErrorKind::NotFound
    );
    block(h.sim.terminate_vm(&east, &other)).unwrap();
    assert_eq!(
        h.word(&c, &other),
        "pending",
        "the terminate for another region did nothing"
    );
}
