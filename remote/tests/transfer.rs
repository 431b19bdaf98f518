//! The transfer engine against real OpenSSH servers on loopback: every strategy, a host killed
//! mid-transfer, resume, and clean-up.

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use remote::{transfer, HostStatus, SshConfig, Strategy, TransferOptions, TransferReport};
use support::Fleet;

const FILE: &str = "image.qcow2";

fn options(fleet: &Fleet, strategy: Strategy) -> TransferOptions {
    TransferOptions {
        strategy,
        work_dir: fleet.work_dir(),
        ssh: SshConfig {
            connect_timeout: Duration::from_secs(5),
            ..SshConfig::default()
        },
        stall_timeout: Duration::from_secs(20),
        poll_interval: Duration::from_millis(100),
        ..TransferOptions::default()
    }
}

/// Every host that succeeded holds an exact copy under the final name and nothing under
/// `.part`; the relay keys and work directories are gone.
fn check_clean(fleet: &Fleet, report: &TransferReport, source: &Path) {
    let sha = support::sha256_of(source);
    assert_eq!(report.sha256, sha);
    for (i, host) in report.hosts.iter().enumerate() {
        let dest = fleet.dest(i, FILE);
        if host.status == HostStatus::Failed {
            continue;
        }
        assert_eq!(support::sha256_of(&dest), sha, "{}", host.name);
        assert!(!part(&dest).exists(), "{}", host.name);
    }
    for (i, sshd) in fleet.hosts.iter().enumerate() {
        let keys = fs::read_to_string(sshd.dir.join("authorized_keys")).unwrap();
        assert_eq!(
            keys.lines().count(),
            1,
            "host {i} keeps only the client key: {keys}"
        );
    }
    assert!(
        !Path::new(&fleet.work_dir()).exists(),
        "work directories remain"
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

fn part(dest: &Path) -> std::path::PathBuf {
    let mut p = dest.as_os_str().to_owned();
    p.push(".part");
    p.into()
}

#[test]
fn every_strategy_delivers_verified_copies() {
    let fleet = Fleet::loopback(5);
    let source = support::random_file(fleet.root.path(), "src", (12 << 20) + 12345, 7);
    for strategy in [
        Strategy::Unicast { parallel: 2 },
        Strategy::Chain,
        Strategy::Tree { fanout: 2 },
        Strategy::Auto,
    ] {
        let report = transfer(
            &source,
            &fleet.targets(FILE),
            &fleet.key(),
            &options(&fleet, strategy),
        )
        .unwrap();
        assert!(report.all_succeeded(), "{strategy:?}: {report:#?}");
        assert_ne!(report.strategy_used, Strategy::Auto);
        if strategy != Strategy::Auto {
            assert_eq!(report.strategy_used, strategy);
        }
        assert_eq!(report.waves, 1, "{strategy:?}: {report:#?}");
        assert!(report.predicted_seconds > 0.0 && report.elapsed_seconds > 0.0);
        for host in &report.hosts {
            assert_eq!(
                host.status,
                HostStatus::Transferred,
                "{strategy:?} {host:?}"
            );
            assert_eq!(host.bytes, (12 << 20) + 12345);
        }
        check_clean(&fleet, &report, &source);
        for i in 0..fleet.hosts.len() {
            fs::remove_file(fleet.dest(i, FILE)).unwrap();
        }
    }
}

#[test]
fn present_copies_are_kept_and_the_report_serialises() {
    let fleet = Fleet::loopback(2);
    let source = support::random_file(fleet.root.path(), "src", 1 << 20, 3);
    let opts = options(&fleet, Strategy::Chain);
    transfer(&source, &fleet.targets(FILE), &fleet.key(), &opts).unwrap();
    // Host 1's copy is damaged behind our back: same size, other content.
    let damaged = fleet.dest(1, FILE);
    let mut bytes = fs::read(&damaged).unwrap();
    bytes[1000] ^= 0xff;
    fs::write(&damaged, bytes).unwrap();
    let report = transfer(&source, &fleet.targets(FILE), &fleet.key(), &opts).unwrap();
    assert_eq!(report.hosts[0].status, HostStatus::AlreadyPresent);
    assert_eq!(report.hosts[0].bytes, 0);
    assert_eq!(report.hosts[1].status, HostStatus::Transferred);
    check_clean(&fleet, &report, &source);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["strategy_used"]["kind"], "chain");
    assert_eq!(json["hosts"][0]["status"], "already_present");
}

#[test]
fn remove_deletes_copies_and_partial_copies() {
    let mut fleet = Fleet::loopback(3);
    let source = support::random_file(fleet.root.path(), "src", 1 << 20, 11);
    let targets = fleet.targets(FILE);
    let opts = options(&fleet, Strategy::Chain);
    transfer(&source, &targets, &fleet.key(), &opts).unwrap();
    // Host 1 also holds an interrupted copy; host 2 holds only one.
    fs::write(part(&fleet.dest(1, FILE)), b"partial").unwrap();
    fs::remove_file(fleet.dest(2, FILE)).unwrap();
    fs::write(part(&fleet.dest(2, FILE)), b"partial").unwrap();
    let results = remote::remove(&targets, &fleet.key(), &opts.ssh);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for i in 0..fleet.hosts.len() {
        assert!(!fleet.dest(i, FILE).exists(), "host {i}");
        assert!(!part(&fleet.dest(i, FILE)).exists(), "host {i}");
    }
    // Nothing left to remove is no error; an unreachable host is one, named.
    fleet.hosts[0].kill();
    let results = remote::remove(&targets, &fleet.key(), &opts.ssh);
    let failed = results[0].as_ref().unwrap_err().to_string();
    assert!(failed.contains("host h0"), "{failed}");
    assert!(results[1..].iter().all(Result::is_ok), "{results:?}");
}

#[test]
fn empty_files_and_known_hashes() {
    let fleet = Fleet::loopback(2);
    let empty = support::random_file(fleet.root.path(), "empty", 0, 1);
    let report = transfer(
        &empty,
        &fleet.targets(FILE),
        &fleet.key(),
        &options(&fleet, Strategy::Chain),
    )
    .unwrap();
    assert!(report.all_succeeded(), "{report:#?}");
    check_clean(&fleet, &report, &empty);

    // A caller-supplied hash that does not match the source fails every host, by name, and
    // leaves nothing under the final name.
    let source = support::random_file(fleet.root.path(), "src", 1 << 20, 2);
    for i in 0..2 {
        fs::remove_file(fleet.dest(i, FILE)).unwrap();
    }
    let wrong = TransferOptions {
        expected_sha256: Some("0".repeat(64)),
        max_attempts: 1,
        ..options(&fleet, Strategy::Unicast { parallel: 2 })
    };
    let report = transfer(&source, &fleet.targets(FILE), &fleet.key(), &wrong).unwrap();
    assert_eq!(report.failed_hosts(), vec!["h0", "h1"]);
    for (i, host) in report.hosts.iter().enumerate() {
        assert!(
            host.error
                .as_deref()
                .unwrap()
                .starts_with("checksum mismatch"),
            "{host:?}"
        );
        assert!(!fleet.dest(i, FILE).exists());
    }
}

#[test]
fn partial_copies_resume_and_bad_prefixes_are_caught() {
    let fleet = Fleet::loopback(3);
    let size = 8 << 20;
    let source = support::random_file(fleet.root.path(), "src", size, 11);
    let data = fs::read(&source).unwrap();
    // Host 0 has a good 3 MiB prefix, host 1 a prefix with one flipped byte, host 2 nothing.
    fs::write(part(&fleet.dest(0, FILE)), &data[..3 << 20]).unwrap();
    let mut bad = data[..5 << 20].to_vec();
    bad[4096] ^= 1;
    fs::write(part(&fleet.dest(1, FILE)), bad).unwrap();
    let report = transfer(
        &source,
        &fleet.targets(FILE),
        &fleet.key(),
        &options(&fleet, Strategy::Unicast { parallel: 3 }),
    )
    .unwrap();
    assert!(report.all_succeeded(), "{report:#?}");
    assert_eq!(report.hosts[0].bytes, (size - (3 << 20)) as u64, "resumed");
    assert_eq!(report.hosts[0].attempts, 1);
    // The damaged prefix fails verification, is discarded, and the next wave starts over.
    assert_eq!(report.hosts[1].attempts, 2);
    assert!(report.hosts[1]
        .error
        .as_deref()
        .unwrap()
        .starts_with("checksum mismatch"));
    assert_eq!(report.hosts[2].bytes, size as u64);
    check_clean(&fleet, &report, &source);
}

/// Kills host `victim` as soon as its part file reaches `at` bytes, while `strategy` runs.
fn kill_mid_transfer(strategy: Strategy, hosts: usize, victim: usize) {
    let mut fleet = Fleet::loopback(hosts);
    let size = 96 << 20;
    let source = support::random_file(fleet.root.path(), "src", size, 5);
    let targets = fleet.targets(FILE);
    let key = fleet.key();
    let opts = options(&fleet, strategy);
    let watched = part(&fleet.dest(victim, FILE));
    let report = std::thread::scope(|scope| {
        let running = scope.spawn(|| transfer(&source, &targets, &key, &opts).unwrap());
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while fs::metadata(&watched).map(|m| m.len()).unwrap_or(0) < 2 << 20 {
            assert!(
                std::time::Instant::now() < deadline,
                "the victim never received data"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        fleet.hosts[victim].kill();
        running.join().unwrap()
    });
    let victim_name = format!("h{victim}");
    assert_eq!(
        report.failed_hosts(),
        vec![victim_name.as_str()],
        "{report:#?}"
    );
    let failed = &report.hosts[victim];
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains(&format!("host {victim_name}")),
        "{failed:?}"
    );
    for (i, host) in report.hosts.iter().enumerate() {
        if i != victim {
            assert_eq!(host.status, HostStatus::Transferred, "{host:?}");
        }
    }
    // Nothing half-written under the final name; the partial copy waits for a resume.
    let dest = fleet.dest(victim, FILE);
    assert!(!dest.exists());
    let partial = fs::metadata(part(&dest)).unwrap().len();
    assert!(partial > 0 && partial < size as u64, "{partial}");
    // The victim's key and work directory stay until it is reachable again ...
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].starts_with(&format!("clean-up on host {victim_name} failed")));

    // ... and the next transfer resumes it and cleans up everything.
    fleet.hosts[victim].restart();
    let again = transfer(&source, &targets, &key, &opts).unwrap();
    assert!(again.all_succeeded(), "{again:#?}");
    assert_eq!(again.hosts[victim].status, HostStatus::Transferred);
    assert_eq!(again.hosts[victim].bytes, size as u64 - partial);
    for (i, host) in again.hosts.iter().enumerate() {
        if i != victim {
            assert_eq!(host.status, HostStatus::AlreadyPresent);
        }
    }
    // The first run's leftovers on the victim: its relay key line and work directory.
    let keys = fs::read_to_string(fleet.hosts[victim].dir.join("authorized_keys")).unwrap();
    let stale = keys
        .lines()
        .filter(|l| l.contains("tumblebug-transfer-"))
        .count();
    assert_eq!(stale, usize::from(strategy.relays()), "{keys}");
    if strategy.relays() {
        assert!(
            keys.contains("expiry-time="),
            "a stale key expires on its own"
        );
    }
}

#[test]
fn chain_routes_around_a_relay_that_dies() {
    kill_mid_transfer(Strategy::Chain, 4, 1);
}

#[test]
fn tree_routes_around_an_inner_host_that_dies() {
    // Fan-out 2 over 5 hosts: h0 feeds h2 and h3, h1 feeds h4.
    kill_mid_transfer(Strategy::Tree { fanout: 2 }, 5, 0);
}

#[test]
fn unicast_reports_a_host_that_dies() {
    kill_mid_transfer(Strategy::Unicast { parallel: 3 }, 3, 2);
}
