//! `tumblebug_mcis` on the `local` cloud: real network namespaces with sshd on this machine,
//! driven by the real terraform binary. Needs root (as CI runs); each test uses its own state
//! directory, name prefix and address range, and a guard runs the provider's `local cleanup`
//! even when an assertion fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use tumblebug_e2e::{provider_cli, state_values, Workspace};

/// Removes everything the `local` driver created under a state directory, whatever happened.
struct LocalGuard {
    state_dir: PathBuf,
}

impl Drop for LocalGuard {
    fn drop(&mut self) {
        let dir = self.state_dir.to_string_lossy().into_owned();
        let _ = Command::new(tumblebug_e2e::provider_binary())
            .args(["local", "cleanup", "--state-dir", &dir])
            .output();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

fn namespaces_with(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(str::to_owned)
        .collect()
}

fn config(state_dir: &Path, prefix: &str, pool: &str, status: &str) -> String {
    config_with(state_dir, prefix, pool, status, "")
}

fn config_with(state_dir: &Path, prefix: &str, pool: &str, status: &str, extra: &str) -> String {
    format!(
        r#"
provider "tumblebug" {{
  poll_interval = "200ms"
  local {{
    state_dir      = "{}"
    prefix         = "{prefix}"
    address_pool   = "{pool}"
    bandwidth_mbit = 100
  }}
}}

resource "tumblebug_namespace" "ns" {{
  name = "hosts"
}}

resource "tumblebug_ssh_key" "ops" {{
  namespace = tumblebug_namespace.ns.id
  name      = "ops"
  cloud     = "local"
  region    = "home"
}}

resource "tumblebug_mcis" "lab" {{
  namespace      = tumblebug_namespace.ns.id
  name           = "lab"
  desired_status = "{status}"
  vm_group {{
    name     = "node"
    count    = 3
    provider = "local"
    region   = "home"
    spec     = "small"
    image    = "host"
    ssh_key  = tumblebug_ssh_key.ops.name
  }}
}}

output "private_key" {{
  value     = tumblebug_ssh_key.ops.private_key
  sensitive = true
}}
{extra}
"#,
        state_dir.display()
    )
}

/// Runs `command` on `address` as root with the MCIS key, trusting only `host_key` for it.
fn ssh_output(
    ws: &Workspace,
    key: &Path,
    address: &str,
    host_key: &str,
    command: &str,
) -> std::process::Output {
    let known = ws.dir().join(format!("known_hosts-{address}"));
    std::fs::write(&known, format!("{address} {host_key}\n")).unwrap();
    Command::new("ssh")
        .args([
            "-i",
            &key.to_string_lossy(),
            "-o",
            &format!("UserKnownHostsFile={}", known.display()),
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            &format!("root@{address}"),
            command,
        ])
        .output()
        .unwrap()
}

/// [`ssh_output`] that must succeed; its stdout.
fn ssh(ws: &Workspace, key: &Path, address: &str, host_key: &str, command: &str) -> String {
    let out = ssh_output(ws, key, address, host_key, command);
    assert!(
        out.status.success(),
        "ssh {address} {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn local_mcis_runs_real_hosts_reachable_with_pinned_keys_and_destroy_leaves_nothing() {
    let ws = Workspace::new();
    let guard = LocalGuard {
        state_dir: ws.dir().join("local-state"),
    };
    let (dir, prefix, pool) = (&guard.state_dir, "tbe1", "10.231.0.0/16");
    ws.write_config(&config(dir, prefix, pool, "running"));
    ws.init();
    ws.apply();

    let show = ws.show_json();
    let mcis = state_values(&show, "tumblebug_mcis.lab");
    assert_eq!(mcis["status"], "Running:3 (R:3/3)", "{mcis:#}");
    assert_eq!(namespaces_with(prefix).len(), 3);
    let key = ws.dir().join("id_ops");
    let private_key = ws.output_json()["private_key"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(&key, private_key).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
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
    assert!(namespaces_with(prefix).is_empty());
    assert_eq!(
        ws.leftovers().0 + ws.leftovers().1,
        0,
        "{:#}",
        ws.inventory()
    );
    // Nothing for the clean-up command to find.
    let report = provider_cli(&["local", "cleanup", "--state-dir", &dir.to_string_lossy()]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["namespaces"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["interfaces"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["processes"], 0, "{report:#}");
}
