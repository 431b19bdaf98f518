//! Tests of the `local` driver's pure parts, as tables. The driver itself, with real namespaces
//! and sshd, is tested as root in `clouds/tests/local.rs`.

use lifecycle::{raw_status, Action, Cloud, NativeStatus, UnifiedStatus};

use super::config::{check_prefix, LocalConfig};
use super::model::{self, Decision, Facts, Phase, Sshd};
use crate::ResourceKind;

const ALL_PHASES: [Phase; 8] = [
    Phase::Creating,
    Phase::Running,
    Phase::Stopping,
    Phase::Stopped,
    Phase::Starting,
    Phase::Rebooting,
    Phase::Terminating,
    Phase::Error,
];

/// Every word the driver reports means, to the lifecycle normaliser, the phase it names.
#[test]
fn every_word_reads_as_its_phase() {
    let rows = [
        (Phase::Creating, UnifiedStatus::Creating),
        (Phase::Running, UnifiedStatus::Running),
        (Phase::Stopping, UnifiedStatus::Suspending),
        (Phase::Stopped, UnifiedStatus::Suspended),
        (Phase::Starting, UnifiedStatus::Resuming),
        (Phase::Rebooting, UnifiedStatus::Rebooting),
        (Phase::Terminating, UnifiedStatus::Terminating),
        (Phase::Error, UnifiedStatus::Failed),
    ];
    assert_eq!(rows.map(|(p, _)| p), ALL_PHASES);
    for (phase, unified) in rows {
        let native = NativeStatus::word(phase.word());
        assert_eq!(raw_status(Cloud::Local, &native), unified, "{phase:?}");
        let json = serde_json::to_string(&phase).unwrap();
        assert_eq!(json, format!("\"{}\"", phase.word()));
    }
}

fn facts(phase: Phase, busy: bool, netns: bool, sshd: Sshd) -> Facts {
    Facts {
        phase,
        busy,
        netns,
        sshd,
    }
}

#[test]
fn the_word_follows_what_the_host_says() {
    use Phase::*;
    use Sshd::*;
    let rows = [
        // A transition is only true while a call holds the lock.
        (facts(Creating, true, false, Down), Creating, None),
        (facts(Stopping, true, true, Serving), Stopping, None),
        (facts(Terminating, true, true, Down), Terminating, None),
        (
            facts(Rebooting, false, true, Serving),
            Error,
            Some("left rebooting by a call that did not finish"),
        ),
        (
            facts(Creating, false, false, Down),
            Error,
            Some("left creating"),
        ),
        // Settled phases, checked against the host.
        (facts(Running, false, true, Serving), Running, None),
        (facts(Running, true, true, Serving), Running, None),
        (
            facts(Running, false, true, Down),
            Stopped,
            Some("sshd is not running"),
        ),
        (
            facts(Running, false, true, Frozen),
            Stopped,
            Some("stopped by someone else"),
        ),
        (facts(Stopped, false, true, Down), Stopped, None),
        (
            facts(Running, false, false, Down),
            Error,
            Some("network namespace tb-vm-1 is gone"),
        ),
        (
            facts(Stopped, false, false, Down),
            Error,
            Some("network namespace tb-vm-1 is gone"),
        ),
        (
            facts(Error, false, true, Serving),
            Error,
            Some("recorded reason"),
        ),
    ];
    for (given, word, message) in rows {
        let (got, got_message) = model::observe(given, Some("recorded reason"), "tb-vm-1");
        assert_eq!(got, word, "{given:?}");
        match (message, got_message) {
            (None, None) => {}
            (Some(part), Some(text)) => assert!(text.contains(part), "{given:?}: {text}"),
            (expected, got) => panic!("{given:?}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn actions_follow_the_word() {
    use Decision::*;
    let rows = [
        (Action::Suspend, Phase::Running, Act),
        (Action::Suspend, Phase::Stopped, AlreadyThere),
        (Action::Suspend, Phase::Error, Refuse),
        (Action::Suspend, Phase::Creating, Refuse),
        (Action::Resume, Phase::Stopped, Act),
        (Action::Resume, Phase::Running, AlreadyThere),
        (Action::Resume, Phase::Error, Refuse),
        (Action::Reboot, Phase::Running, Act),
        (Action::Reboot, Phase::Stopped, Refuse),
        (Action::Reboot, Phase::Error, Refuse),
    ];
    for (action, word, expected) in rows {
        assert_eq!(model::decide(action, word), expected, "{action} {word:?}");
    }
}

#[test]
fn ids_round_trip_and_nothing_else_parses() {
    for (kind, n) in [
        (ResourceKind::Vm, 1),
        (ResourceKind::Vnet, 42),
        (ResourceKind::SecurityGroup, 7),
        (ResourceKind::KeyPair, 123_456_789),
    ] {
        let id = model::make_id("tb", kind, n);
        assert_eq!(model::parse_id("tb", kind, &id), Some(n), "{id}");
    }
    assert_eq!(model::make_id("tb", ResourceKind::Vm, 3), "tb-vm-3");
    for bad in [
        "tb-vm-",
        "tb-vm-01",
        "tb-vm-1/../x",
        "tb-vm-../1",
        "tb-vnet-1",
        "tx-vm-1",
        "tb-vm-1 ",
        "tb-vm--1",
        "",
    ] {
        assert_eq!(
            model::parse_id("tb", ResourceKind::Vm, bad),
            None,
            "{bad:?}"
        );
    }
}

#[test]
fn interface_names_fit_and_are_recognised() {
    let longest = "abcde";
    assert!(check_prefix(longest).is_ok());
    assert!(model::bridge_name(longest, 999_999_999).len() <= 15);
    assert!(model::veth_name(longest, 999_999_999).len() <= 15);
    let rows = [
        ("tbb1", true),
        ("tbv12", true),
        ("tbv", false),
        ("tbx1", false),
        ("tb1v2", false),
        ("tbv1a", false),
        ("eth0", false),
    ];
    for (name, ours) in rows {
        assert_eq!(model::is_our_interface("tb", name), ours, "{name}");
    }
    let output = "1: lo: <LOOPBACK,UP> mtu 65536\n\
                  5: tbb1: <BROADCAST,MULTICAST,UP> mtu 1500\n\
                  7: tbv1@if2: <BROADCAST,MULTICAST,UP> mtu 1500\n";
    assert_eq!(model::link_names(output), ["lo", "tbb1", "tbv1"]);
}

#[test]
fn prefixes_and_pools_are_checked() {
    for bad in ["", "TB", "1tb", "abcdef", "t-b"] {
        assert!(check_prefix(bad).is_err(), "{bad:?}");
    }
    let config = |pool: &str, len: u8| LocalConfig {
        address_pool: pool.to_string(),
        subnet_prefix: len,
        ..LocalConfig::default()
    };
    assert!(LocalConfig::default().validate().is_ok());
    assert!(config("10.213.0.0/16", 28).validate().is_ok());
    let errors = [
        (config("10.213.0.1/16", 24), "not the first address"),
        (config("10.213.0.0/16", 30), "subnet_prefix 30"),
        (config("10.213.0.0/24", 16), "subnet_prefix 16"),
        (config("nonsense", 24), "address_pool 'nonsense'"),
        (
            LocalConfig {
                state_dir: "relative".into(),
                ..LocalConfig::default()
            },
            "absolute",
        ),
    ];
    for (config, part) in errors {
        let why = config.validate().unwrap_err();
        assert!(why.contains(part), "{why}");
    }
    let json = r#"{"state_dir": "/tmp/x", "bandwidth_mbit": 0}"#;
    let parsed: LocalConfig = serde_json::from_str(json).unwrap();
    assert_eq!(parsed.bandwidth_mbit, 0);
    assert_eq!(parsed.prefix, "tb");
    assert!(serde_json::from_str::<LocalConfig>(r#"{"bandwith": 1}"#).is_err());
}

#[test]
fn the_token_bucket_holds_ten_milliseconds() {
    assert_eq!(
        model::tbf_args(100),
        ["root", "tbf", "rate", "100mbit", "burst", "125000", "latency", "50ms"]
    );
    assert_eq!(model::tbf_args(1)[5], "15140");
}

#[test]
fn the_vm_enters_its_own_paths_then_becomes_sshd() {
    let script = model::enter_script();
    for (dir, path, _) in model::PRIVATE_PATHS {
        assert!(
            script.contains(&format!("mount --bind /mnt/{dir} {path}\n")),
            "{script}"
        );
    }
    assert!(script.starts_with("set -e\nmount --bind \"$1\" /mnt\n"));
    assert!(script.ends_with("umount /mnt\nexec \"$2\" -f /etc/ssh/sshd_config -E /run/sshd.log\n"));
    let config = model::sshd_config();
    for line in [
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PidFile /run/sshd.pid",
    ] {
        assert!(config.lines().any(|l| l == line), "{line}");
    }
    assert_eq!(
        model::key_line("ssh-ed25519 AAAAC3 root@host\n").as_deref(),
        Some("ssh-ed25519 AAAAC3")
    );
    assert_eq!(model::key_line("ssh-ed25519"), None);
}

#[test]
fn subnets_are_carved_in_order() {
    use crate::net::Cidr;
    let pool = Cidr::parse("10.213.0.0/16").unwrap();
    assert_eq!(pool.subnet(24, 0).unwrap().to_string(), "10.213.0.0/24");
    assert_eq!(pool.subnet(24, 255).unwrap().to_string(), "10.213.255.0/24");
    assert_eq!(pool.subnet(24, 256), None);
    assert_eq!(pool.subnet(8, 0), None);
    assert_eq!(pool.subnet(26, 5).unwrap().to_string(), "10.213.1.64/26");
}
