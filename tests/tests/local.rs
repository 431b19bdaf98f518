//! `tumblebug_mcis` on the `local` cloud: real network namespaces with sshd on this machine,
//! driven by the real terraform binary. Needs root (as CI runs); each test uses its own state
//! directory, name prefix and address range, and a guard runs the provider's `local cleanup`
//! even when an assertion fails.

use std::path::Path;

use tumblebug_e2e::local::{
    assert_nothing_left, namespaces_with, ssh, ssh_output, write_private_key, LocalGuard, LocalLab,
};
use tumblebug_e2e::{state_values, Workspace};

fn config(state_dir: &Path, prefix: &str, pool: &str, status: &str) -> String {
    config_with(state_dir, prefix, pool, status, "")
}

fn config_with(state_dir: &Path, prefix: &str, pool: &str, status: &str, extra: &str) -> String {
    LocalLab {
        state_dir,
        prefix,
        pool,
        bandwidth_mbit: 100,
        count: 3,
        status,
    }
    .config(extra)
}

#[test]
fn local_mcis_runs_real_hosts_reachable_with_pinned_keys_and_destroy_leaves_nothing() {
    let ws = Workspace::new();
    let guard = LocalGuard::new(&ws);
    let (dir, prefix, pool) = (&guard.state_dir, "tbe1", "10.231.0.0/16");
    ws.write_config(&config(dir, prefix, pool, "running"));
    ws.init();
    ws.apply();

    let show = ws.show_json();
    let mcis = state_values(&show, "tumblebug_mcis.lab");
    assert_eq!(mcis["status"], "Running:3 (R:3/3)", "{mcis:#}");
    assert_eq!(namespaces_with(prefix).len(), 3);
    let key = write_private_key(&ws);
    let vms = mcis["vms"].as_array().unwrap();
    for (i, vm) in vms.iter().enumerate() {
        let address = vm["public_ip"].as_str().unwrap();
        let host_key = vm["host_key"].as_str().unwrap();
        assert!(host_key.starts_with("ssh-ed25519 "), "{vm:#}");
        // Each VM has its own /srv: a file written on one is not on another.
        ssh(
            &ws,
            &key,
            address,
            host_key,
            &format!("echo vm{i} > /srv/who"),
        );
    }
    for (i, vm) in vms.iter().enumerate() {
        let address = vm["public_ip"].as_str().unwrap();
        let host_key = vm["host_key"].as_str().unwrap();
        assert_eq!(
            ssh(&ws, &key, address, host_key, "cat /srv/who").trim(),
            format!("vm{i}")
        );
    }
    // A wrong pinned key is refused: host keys are never trusted blindly.
    let other = vms[1]["host_key"].as_str().unwrap();
    let address = vms[0]["public_ip"].as_str().unwrap();
    let refused = ssh_output(&ws, &key, address, other, "true");
    assert!(!refused.status.success());
    assert!(ws.plan_is_empty());

    // tumblebug_command runs on every VM, each in its own filesystem.
    let command = r#"
resource "tumblebug_command" "hello" {
  mcis_id  = tumblebug_mcis.lab.id
  commands = ["echo ran > /srv/ran", "cat /srv/who"]
}
"#;
    ws.write_config(&config_with(dir, prefix, pool, "running", command));
    ws.apply();
    let show = ws.show_json();
    let results = state_values(&show, "tumblebug_command.hello")["results"]
        .as_array()
        .unwrap()
        .clone();
    let seen: Vec<(String, i64, String)> = results
        .iter()
        .map(|r| {
            (
                r["vm"].as_str().unwrap().to_owned(),
                r["exit_code"].as_i64().unwrap(),
                r["stdout"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        (0..3)
            .map(|i| (format!("lab-node-{i}"), 0, format!("vm{i}")))
            .collect::<Vec<_>>()
    );
    for (i, vm) in vms.iter().enumerate() {
        let (address, host_key) = (
            vm["public_ip"].as_str().unwrap(),
            vm["host_key"].as_str().unwrap(),
        );
        assert_eq!(
            ssh(&ws, &key, address, host_key, "cat /srv/ran").trim(),
            "ran",
            "vm{i}"
        );
    }
    assert!(ws.plan_is_empty());

    // A failing command fails the apply and names every VM with its stderr.
    let failing = r#"
resource "tumblebug_command" "hello" {
  mcis_id  = tumblebug_mcis.lab.id
  commands = ["echo broken >&2", "exit 3"]
}
"#;
    ws.write_config(&config_with(dir, prefix, pool, "running", failing));
    let out = ws.fails(&["apply", "-auto-approve", "-no-color"]);
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for i in 0..3 {
        assert!(
            out.contains(&format!("lab-node-{i}: exit code 3 broken")),
            "{out}"
        );
    }
    ws.write_config(&config(dir, prefix, pool, "running"));
    ws.apply();

    // Suspend and resume through the same lifecycle as any cloud.
    ws.write_config(&config(dir, prefix, pool, "suspended"));
    ws.apply();
    let mcis = state_values(&ws.show_json(), "tumblebug_mcis.lab").clone();
    assert_eq!(mcis["status"], "Suspended:3 (R:0/3)", "{mcis:#}");
    ws.write_config(&config(dir, prefix, pool, "running"));
    ws.apply();
    let mcis = state_values(&ws.show_json(), "tumblebug_mcis.lab").clone();
    assert_eq!(mcis["status"], "Running:3 (R:3/3)", "{mcis:#}");
    let vm = &mcis["vms"][2];
    let (address, host_key) = (
        vm["public_ip"].as_str().unwrap(),
        vm["host_key"].as_str().unwrap(),
    );
    assert_eq!(
        ssh(&ws, &key, address, host_key, "cat /srv/who").trim(),
        "vm2"
    );

    ws.destroy();
    assert_nothing_left(&ws, dir, prefix);
}
