//! Tests of the `local` driver's pure parts, as tables. The driver itself, with real namespaces
//! and sshd, is tested as root in `clouds/tests/local.rs`.

use lifecycle::{raw_status, Action, Cloud, NativeStatus, UnifiedStatus};

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::config::{check_prefix, LocalConfig, RegionLatency};
use super::latency::{self, DelayQueue, Delays};
use super::model::{self, Decision, Direction, Facts, Phase, Sshd};
use crate::net::Cidr;
use crate::{FirewallRule, ResourceKind};

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
        ("tbdelay", true),
        ("tbxdelay", false),
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

fn rtt(a: &str, b: &str, rtt_ms: u32) -> RegionLatency {
    RegionLatency {
        regions: [a.to_string(), b.to_string()],
        rtt_ms,
    }
}

fn subnet(text: &str, region: &str) -> (Cidr, String) {
    (Cidr::parse(text).unwrap(), region.to_string())
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

#[test]
fn each_direction_between_regions_waits_half_the_round_trip() {
    let delays = Delays::new(
        &[rtt("seoul", "virginia", 180), rtt("tokyo", "seoul", 31)],
        vec![
            subnet("10.9.0.0/24", "seoul"),
            subnet("10.9.1.0/24", "virginia"),
            subnet("10.9.2.0/24", "seoul"),
            subnet("10.9.3.0/24", "tokyo"),
            subnet("10.9.4.0/24", "paris"),
        ],
    );
    let ms = Duration::from_millis;
    let rows = [
        // Both ways, whichever way round the pair is given.
        ("10.9.0.5", "10.9.1.7", ms(90)),
        ("10.9.1.7", "10.9.0.5", ms(90)),
        ("10.9.3.2", "10.9.2.9", Duration::from_micros(15_500)),
        // Two vNets of one region, a pair with no time, an address in no vNet: nothing added.
        ("10.9.0.5", "10.9.2.9", Duration::ZERO),
        ("10.9.1.7", "10.9.4.2", Duration::ZERO),
        ("10.9.0.1", "10.8.0.1", Duration::ZERO),
        ("10.8.0.1", "10.9.1.7", Duration::ZERO),
    ];
    for (from, to, expected) in rows {
        assert_eq!(delays.one_way(ip(from), ip(to)), expected, "{from} -> {to}");
    }
    assert!(delays.any());
}

#[test]
fn the_router_is_needed_only_between_vnets_of_far_regions() {
    let latency = [rtt("seoul", "virginia", 180)];
    let rows = [
        (vec![], false),
        (vec![subnet("10.9.0.0/24", "seoul")], false),
        (
            vec![
                subnet("10.9.0.0/24", "seoul"),
                subnet("10.9.1.0/24", "seoul"),
            ],
            false,
        ),
        (
            vec![
                subnet("10.9.0.0/24", "seoul"),
                subnet("10.9.1.0/24", "paris"),
            ],
            false,
        ),
        (
            vec![
                subnet("10.9.0.0/24", "virginia"),
                subnet("10.9.1.0/24", "paris"),
                subnet("10.9.2.0/24", "seoul"),
            ],
            true,
        ),
    ];
    for (subnets, needed) in rows {
        assert_eq!(
            Delays::new(&latency, subnets.clone()).any(),
            needed,
            "{subnets:?}"
        );
    }
    assert!(!Delays::new(
        &[],
        vec![subnet("10.9.0.0/24", "a"), subnet("10.9.1.0/24", "b")]
    )
    .any());
}

#[test]
fn only_ipv4_headers_give_addresses() {
    let mut packet = vec![0u8; 28];
    packet[0] = 0x45;
    packet[12..16].copy_from_slice(&[10, 9, 0, 5]);
    packet[16..20].copy_from_slice(&[10, 9, 1, 7]);
    assert_eq!(
        latency::addresses(&packet),
        Some((ip("10.9.0.5"), ip("10.9.1.7")))
    );
    assert_eq!(latency::addresses(&packet[..19]), None, "cut short");
    packet[0] = 0x60;
    assert_eq!(latency::addresses(&packet), None, "IPv6");
    assert_eq!(latency::addresses(&[]), None);
}

#[test]
fn the_delay_queue_releases_by_time_then_arrival() {
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    let mut queue = DelayQueue::new();
    assert_eq!(queue.next_release(), None);
    assert_eq!(queue.pop_due(at(1000)), None);
    for (release, item) in [(90, "b1"), (15, "a1"), (90, "b2"), (15, "a2"), (50, "c")] {
        queue.push(at(release), item);
    }
    assert_eq!(queue.len(), 5);
    assert_eq!(queue.next_release(), Some(at(15)));
    assert_eq!(queue.pop_due(at(14)), None, "nothing early");
    let mut released = Vec::new();
    for now in [15, 60, 89, 90] {
        while let Some(item) = queue.pop_due(at(now)) {
            released.push((now, item));
        }
    }
    assert_eq!(
        released,
        [(15, "a1"), (15, "a2"), (60, "c"), (90, "b1"), (90, "b2")]
    );
    assert_eq!(queue.len(), 0);
}

#[test]
fn latency_settings_are_checked_and_errors_name_the_entry() {
    let config = |latency: Vec<RegionLatency>| LocalConfig {
        latency,
        router_command: vec!["/usr/bin/router".to_string()],
        ..LocalConfig::default()
    };
    assert!(config(vec![
        rtt("seoul", "virginia", 180),
        rtt("seoul", "tokyo", 31)
    ])
    .validate()
    .is_ok());
    let errors = [
        (vec![rtt("seoul", "seoul", 10)], "latency[0].regions"),
        (
            vec![rtt("a", "b", 1), rtt("", "b", 10)],
            "latency[1].regions",
        ),
        (
            vec![rtt("a", "b", 0)],
            "latency[0].rtt_ms: 0 must be from 1 to 60000",
        ),
        (vec![rtt("a", "b", 60_001)], "latency[0].rtt_ms"),
        (
            vec![rtt("a", "b", 5), rtt("c", "d", 5), rtt("b", "a", 7)],
            "latency[2].regions: b and a are already given by latency[0]",
        ),
    ];
    for (latency, part) in errors {
        let why = config(latency).validate().unwrap_err();
        assert!(why.contains(part), "{why}");
    }
    let without_router = LocalConfig {
        latency: vec![rtt("a", "b", 5)],
        ..LocalConfig::default()
    };
    let why = without_router.validate().unwrap_err();
    assert!(why.contains("router_command"), "{why}");
    let json = r#"{"latency": [{"regions": ["seoul", "virginia"], "rtt_ms": 180}],
                   "router_command": ["/bin/router", "run"]}"#;
    let parsed: LocalConfig = serde_json::from_str(json).unwrap();
    assert_eq!(parsed.latency, [rtt("seoul", "virginia", 180)]);
    assert!(parsed.validate().is_ok());
}

#[test]
fn each_bridge_routes_through_the_router_table_then_the_pool_then_nowhere() {
    let table = model::route_table("tb");
    let rules = model::bridge_rules("tbb3", "10.213.0.0/16", table);
    let text: Vec<String> = rules.iter().map(|rule| rule.join(" ")).collect();
    assert_eq!(
        text,
        [
            format!("priority 9100 iif tbb3 lookup {table}"),
            "priority 9101 iif tbb3 to 10.213.0.0/16 lookup main".to_string(),
            "priority 9102 iif tbb3 prohibit".to_string(),
        ]
    );
    // Every prefix has a table of its own, well clear of the kernel's (253 to 255).
    let tables: std::collections::BTreeSet<u32> = ["a", "b", "tb", "ta", "tb0", "zzzzz", "99999"]
        .iter()
        .map(|prefix| model::route_table(prefix))
        .collect();
    assert_eq!(tables.len(), 7);
    assert!(tables.iter().all(|&t| t >= 1_000_000_000));
    let shown = "0:\tfrom all lookup local\n\
                 9100:\tfrom all iif tbb1 lookup 1000000100 \n\
                 9102:\tfrom all iif tbb1 [detached] prohibit\n\
                 32766:\tfrom all lookup main\n";
    assert_eq!(
        model::rule_inputs(shown),
        [(9100, "tbb1".to_string()), (9102, "tbb1".to_string())]
    );
}

fn rule(protocol: &str, from_port: u16, to_port: u16, cidr: &str) -> FirewallRule {
    FirewallRule {
        protocol: protocol.to_string(),
        from_port,
        to_port,
        cidr: cidr.to_string(),
    }
}

#[test]
fn security_group_rules_become_nftables_statements() {
    let rows = [
        (
            rule("tcp", 22, 22, "0.0.0.0/0"),
            "ip saddr 0.0.0.0/0 tcp dport 22-22 accept",
        ),
        (
            rule("UDP", 53, 60, "10.1.0.0/16"),
            "ip saddr 10.1.0.0/16 udp dport 53-60 accept",
        ),
        (
            rule("icmp", 0, 0, "10.1.2.3/32"),
            "ip saddr 10.1.2.3/32 meta l4proto icmp accept",
        ),
        (rule("all", 0, 0, "0.0.0.0/0"), "ip saddr 0.0.0.0/0 accept"),
        // Host bits are cleared, as the provider accepts them.
        (
            rule("tcp", 80, 80, "10.1.2.3/16"),
            "ip saddr 10.1.0.0/16 tcp dport 80-80 accept",
        ),
    ];
    for (given, statement) in rows {
        assert_eq!(
            model::accept_statement(&given, Direction::Ingress).unwrap(),
            statement
        );
        // Out of the VM the CIDR is where the traffic goes.
        assert_eq!(
            model::accept_statement(&given, Direction::Egress).unwrap(),
            statement.replace("saddr", "daddr")
        );
    }
    let refused = [
        (rule("gre", 0, 0, "0.0.0.0/0"), "protocol 'gre'"),
        (
            rule("tcp", 23, 22, "0.0.0.0/0"),
            "from_port must not exceed to_port",
        ),
        (rule("tcp", 22, 22, "10.1.2.3/33"), "cidr '10.1.2.3/33'"),
        (rule("tcp", 22, 22, "::/0"), "IPv4 only"),
        (rule("tcp", 22, 22, "0.0.0.0/0; flush ruleset"), "cidr"),
    ];
    for (given, part) in refused {
        let why = model::accept_statement(&given, Direction::Ingress).unwrap_err();
        assert!(why.contains(part), "{why}");
    }
}

#[test]
fn a_vm_accepts_only_its_own_traffic_replies_and_what_its_group_allows() {
    let script = model::firewall(&[rule("tcp", 22, 22, "0.0.0.0/0")], &[]).unwrap();
    let lines: Vec<&str> = script.lines().map(str::trim).collect();
    assert_eq!(
        lines[1..],
        [
            "table inet tumblebug {",
            "chain input {",
            "type filter hook input priority filter; policy drop;",
            "ct state established,related accept",
            "iifname \"lo\" accept",
            "ip saddr 0.0.0.0/0 tcp dport 22-22 accept",
            "}",
            "}",
        ]
    );
    assert!(lines[0].starts_with('#'));
    // No rule: nothing comes in but replies.
    assert!(!model::firewall(&[], &[]).unwrap().contains("saddr"));
    assert!(model::firewall(&[rule("tcp", 2, 1, "0.0.0.0/0")], &[]).is_err());
}

#[test]
fn egress_rules_hold_what_goes_out_and_none_lets_everything_out() {
    let script = model::firewall(&[], &[rule("tcp", 22, 22, "10.1.0.0/16")]).unwrap();
    let lines: Vec<&str> = script.lines().map(str::trim).collect();
    let output = lines.iter().position(|l| *l == "chain output {").unwrap();
    assert_eq!(
        lines[output..output + 6],
        [
            "chain output {",
            "type filter hook output priority filter; policy drop;",
            "ct state established,related accept",
            "oifname \"lo\" accept",
            "ip daddr 10.1.0.0/16 tcp dport 22-22 accept",
            "}",
        ]
    );
    assert!(!model::firewall(&[], &[]).unwrap().contains("chain output"));
    assert!(model::firewall(&[], &[rule("gre", 0, 0, "0.0.0.0/0")]).is_err());
}
