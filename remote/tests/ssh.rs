//! The SSH layer against real OpenSSH servers on loopback.

mod support;

use std::time::Duration;

use remote::{run_on_all, Connection, Error, SecretKey, SshConfig};
use support::Fleet;

fn config() -> SshConfig {
    SshConfig {
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(20),
        ..SshConfig::default()
    }
}

#[test]
fn runs_commands_and_captures_everything() {
    let fleet = Fleet::loopback(1);
    let mut c = Connection::open(&fleet.host(0), &fleet.key(), &config()).unwrap();
    let out = c.run("echo out; echo err >&2; exit 7").unwrap();
    assert_eq!(out.stdout_text(), "out\n");
    assert_eq!(out.stderr_text(), "err\n");
    assert_eq!(out.exit_status, 7);
    assert!(!out.success());
    // The same session serves the next command.
    assert!(c.run("true").unwrap().success());
    let err = c
        .check("fail on purpose", "echo why >&2; false")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("host h0: fail on purpose failed (exit 1): why"),
        "{err}"
    );
    // A command killed by a signal reports it.
    let mut c = Connection::open(&fleet.host(0), &fleet.key(), &config()).unwrap();
    let out = c.run("kill -TERM $$").unwrap();
    assert_eq!(out.exit_signal.as_deref(), Some("TERM"));
}

#[test]
fn output_beyond_the_limit_keeps_the_tail() {
    let fleet = Fleet::loopback(1);
    let small = SshConfig {
        output_limit: 1000,
        ..config()
    };
    let mut c = Connection::open(&fleet.host(0), &fleet.key(), &small).unwrap();
    // 5 MB on both streams at once: the loop must drain both while the command writes.
    let out = c
        .run("seq 1 700000; seq 1 700000 >&2; echo last-line")
        .unwrap();
    assert!(out.success());
    assert_eq!(out.stdout.len(), 1000);
    assert!(out.stdout_text().ends_with("699999\n700000\nlast-line\n"));
    assert!(out.stdout_dropped > 4_000_000);
    assert!(out.stderr_text().ends_with("700000\n"));
}

#[test]
fn streams_bulk_data_into_stdin() {
    let fleet = Fleet::loopback(1);
    let file = support::random_file(fleet.root.path(), "blob", 48 << 20, 1);
    let mut c = Connection::open(&fleet.host(0), &fleet.key(), &config()).unwrap();
    let mut sent = 0u64;
    let out = c
        .run_with_input(
            "sha256sum; echo progress >&2",
            &mut std::fs::File::open(&file).unwrap(),
            Some(Duration::from_secs(60)),
            &mut |n| sent += n,
        )
        .unwrap();
    assert!(out.success(), "{}", out.stderr_text());
    assert_eq!(sent, 48 << 20);
    assert_eq!(
        out.stdout_text().split_whitespace().next().unwrap(),
        support::sha256_of(&file)
    );
    // A command that stops reading early ends the stream without an error; its status says why.
    let out = c
        .run_with_input(
            "head -c 10 > /dev/null; exit 4",
            &mut std::fs::File::open(&file).unwrap(),
            Some(Duration::from_secs(60)),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(out.exit_status, 4);
}

#[test]
fn refuses_a_host_key_other_than_the_pinned_one() {
    let fleet = Fleet::loopback(2);
    let mut host = fleet.host(0);
    host.host_key = fleet.hosts[1].host_key.clone();
    let err = Connection::open(&host, &fleet.key(), &config()).unwrap_err();
    assert!(matches!(err, Error::HostKeyMismatch { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("host h0: host key mismatch, refusing to connect"),
        "{text}"
    );
    assert!(text.contains("SHA256:"), "{text}");
}

#[test]
fn reports_refused_connections_bad_keys_and_timeouts() {
    let mut fleet = Fleet::loopback(1);
    // A key the server does not know.
    let dir = tempfile::tempdir().unwrap();
    let stranger = dir.path().join("k");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    let stranger = SecretKey::from_openssh(std::fs::read_to_string(&stranger).unwrap());
    let err = Connection::open(&fleet.host(0), &stranger, &config()).unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert!(err.to_string().starts_with("host h0: authentication as "));

    // A command that outlives its deadline.
    let short = SshConfig {
        command_timeout: Duration::from_millis(300),
        ..config()
    };
    let mut c = Connection::open(&fleet.host(0), &fleet.key(), &short).unwrap();
    let err = c.run("sleep 5").unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(c.is_broken());
    assert!(matches!(c.run("true"), Err(Error::Broken { .. })));

    // Nobody listening.
    fleet.hosts[0].kill();
    let err = Connection::open(&fleet.host(0), &fleet.key(), &config()).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_eq!(err.host(), Some("h0"));
}

#[test]
fn runs_on_many_hosts_with_bounded_sessions() {
    let fleet = Fleet::loopback(5);
    let hosts: Vec<_> = (0..5).map(|i| fleet.host(i)).collect();
    let limited = SshConfig {
        max_sessions: 2,
        ..config()
    };
    let results = run_on_all(&hosts, &fleet.key(), &limited, "echo $SSH_CONNECTION");
    for (i, result) in results.iter().enumerate() {
        let out = result.as_ref().unwrap();
        let port = fleet.hosts[i].port.to_string();
        assert!(out.stdout_text().trim().ends_with(&port), "{out:?}");
    }
}
