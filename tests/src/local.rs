//! Helpers for end-to-end tests on the `local` cloud (real network namespaces with sshd; root
//! only): the configuration of a lab MCIS, a guard that removes everything the driver created
//! even when a test fails, SSH into a VM with its pinned host key, and the check that a destroy
//! left nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{provider_binary, provider_cli, Workspace};

/// Removes everything the `local` driver created under a state directory, whatever happened.
pub struct LocalGuard {
    /// The driver's state directory (inside the workspace).
    pub state_dir: PathBuf,
}

impl LocalGuard {
    /// A guard for the state directory `local-state` of `ws`.
    pub fn new(ws: &Workspace) -> LocalGuard {
        LocalGuard {
            state_dir: ws.dir().join("local-state"),
        }
    }
}

impl Drop for LocalGuard {
    fn drop(&mut self) {
        let dir = self.state_dir.to_string_lossy().into_owned();
        let _ = Command::new(provider_binary())
            .args(["local", "cleanup", "--state-dir", &dir])
            .output();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// A provider block with a `local` cloud, a namespace `hosts`, an SSH key `ops` (its private key
/// in the sensitive output `private_key`) and an MCIS `lab` of `count` VMs (`lab-node-<i>`).
pub struct LocalLab<'a> {
    /// The driver's state directory.
    pub state_dir: &'a Path,
    /// Name prefix of the driver's namespaces and interfaces (at most 4 characters).
    pub prefix: &'a str,
    /// Address pool (a range no other test uses at the same time).
    pub pool: &'a str,
    /// Each VM's link speed.
    pub bandwidth_mbit: u32,
    /// VMs in the MCIS.
    pub count: u32,
    /// `running` or `suspended`.
    pub status: &'a str,
}

impl LocalLab<'_> {
    /// The configuration, followed by `extra` HCL.
    pub fn config(&self, extra: &str) -> String {
        format!(
            r#"
provider "tumblebug" {{
  poll_interval = "200ms"
  local {{
    state_dir      = "{state_dir}"
    prefix         = "{prefix}"
    address_pool   = "{pool}"
    bandwidth_mbit = {bandwidth}
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
    count    = {count}
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
            state_dir = self.state_dir.display(),
            prefix = self.prefix,
            pool = self.pool,
            bandwidth = self.bandwidth_mbit,
            status = self.status,
            count = self.count,
        )
    }
}

/// The network namespaces named `<prefix>-...`: the `local` driver's VMs with that prefix.
pub fn namespaces_with(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(str::to_owned)
        .collect()
}

/// Writes the lab's private key (output `private_key`) to a 0600 file in the workspace.
pub fn write_private_key(ws: &Workspace) -> PathBuf {
    let key = ws.dir().join("id_ops");
    let private_key = ws.output_json()["private_key"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(&key, private_key).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    key
}

/// Runs `command` on `address` as root with the MCIS key, trusting only `host_key` for it.
pub fn ssh_output(
    ws: &Workspace,
    key: &Path,
    address: &str,
    host_key: &str,
    command: &str,
) -> Output {
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
pub fn ssh(ws: &Workspace, key: &Path, address: &str, host_key: &str, command: &str) -> String {
    let out = ssh_output(ws, key, address, host_key, command);
    assert!(
        out.status.success(),
        "ssh {address} {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts that nothing is left after a destroy: no namespace with `prefix`, nothing in the
/// store, and nothing for the driver's clean-up command to find under `state_dir`.
pub fn assert_nothing_left(ws: &Workspace, state_dir: &Path, prefix: &str) {
    assert!(namespaces_with(prefix).is_empty());
    let (vms, mcir, _) = ws.leftovers();
    assert_eq!(vms + mcir, 0, "{:#}", ws.inventory());
    let report = provider_cli(&[
        "local",
        "cleanup",
        "--state-dir",
        &state_dir.to_string_lossy(),
    ]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["namespaces"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["interfaces"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["processes"], 0, "{report:#}");
    assert_eq!(report["router"], false, "{report:#}");
    assert_eq!(report["rules"], 0, "{report:#}");
}
