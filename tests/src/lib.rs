//! Test harness for end-to-end tests: a throw-away Terraform working directory wired to the
//! provider under test, and helpers that run the real `terraform` binary and parse its JSON.
//!
//! The provider binary comes from `TUMBLEBUG_PROVIDER_BIN` (set by `scripts/test.sh`, which builds
//! it first). Each [`Workspace`] gets its own filesystem mirror holding a copy of that binary and a
//! CLI configuration that installs only from that mirror, so `terraform init` never reaches the
//! network and tests never share `.terraform` directories or lock files.
//!
//! ```no_run
//! let ws = tumblebug_e2e::Workspace::new();
//! ws.write_config(r#"resource "tumblebug_namespace" "a" { name = "a" }"#);
//! ws.init();
//! ws.apply();
//! assert_eq!(ws.inventory()["namespaces"][0]["name"], "a");
//! ```

pub mod local;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

/// The provider version under test (the workspace version, which the install scripts also use).
pub const PROVIDER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `required_providers` block every test configuration starts with.
pub const TERRAFORM_BLOCK: &str = r#"terraform {
  required_providers {
    tumblebug = { source = "tumblebug/tumblebug" }
  }
}
"#;

/// Path of the provider binary under test.
pub fn provider_binary() -> PathBuf {
    let path = std::env::var_os("TUMBLEBUG_PROVIDER_BIN").map(PathBuf::from).expect(
        "TUMBLEBUG_PROVIDER_BIN is not set: run the tests through scripts/test.sh, which builds the \
         provider and sets it",
    );
    assert!(
        path.is_file(),
        "TUMBLEBUG_PROVIDER_BIN={} is not a file",
        path.display()
    );
    path
}

/// A temporary Terraform working directory with its own provider mirror; removed on drop.
pub struct Workspace {
    root: TempDir,
}

/// What one terraform command printed.
pub struct Run {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from_output(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Both streams, for assertions on messages wherever terraform printed them.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Workspace {
    /// Creates the directory layout: `work/` (where terraform runs), `mirror/` and `terraformrc`.
    pub fn new() -> Workspace {
        let root = tempfile::Builder::new()
            .prefix("tumblebug-e2e-")
            .tempdir()
            .expect("temp dir");
        let platform_dir = root
            .path()
            .join("mirror/registry.terraform.io/tumblebug/tumblebug")
            .join(PROVIDER_VERSION)
            .join("linux_amd64");
        std::fs::create_dir_all(&platform_dir).unwrap();
        std::fs::copy(
            provider_binary(),
            platform_dir.join(format!("terraform-provider-tumblebug_v{PROVIDER_VERSION}")),
        )
        .expect("copy the provider into the mirror");
        std::fs::create_dir_all(root.path().join("work")).unwrap();
        let rc = format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
            root.path().join("mirror").display()
        );
        std::fs::write(root.path().join("terraformrc"), rc).unwrap();
        Workspace { root }
    }

    /// The directory terraform runs in.
    pub fn dir(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// The store path when the provider block leaves `store` out.
    pub fn default_store(&self) -> PathBuf {
        self.dir().join(".tumblebug/store.db")
    }

    /// Writes `main.tf`: the `required_providers` block followed by `body`.
    pub fn write_config(&self, body: &str) {
        std::fs::write(
            self.dir().join("main.tf"),
            format!("{TERRAFORM_BLOCK}\n{body}"),
        )
        .unwrap();
    }

    /// Runs `terraform <args>` in the working directory, with extra environment variables.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new("terraform");
        cmd.args(args)
            .current_dir(self.dir())
            .env("TF_CLI_CONFIG_FILE", self.root.path().join("terraformrc"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .env_remove("TF_DATA_DIR");
        for (key, value) in env {
            cmd.env(key, value);
        }
        Run::from_output(cmd.output().expect("terraform is on the PATH"))
    }

    /// Runs `terraform <args>`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    /// Runs `terraform <args>` and panics with everything it printed unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(
            run.code,
            Some(0),
            "terraform {args:?} failed:\n{}",
            run.all()
        );
        run
    }

    /// Runs `terraform <args>` and panics unless it fails; returns everything it printed.
    pub fn fails(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_ne!(
            run.code,
            Some(0),
            "terraform {args:?} should have failed:\n{}",
            run.all()
        );
        run.all()
    }

    /// `terraform init`.
    pub fn init(&self) -> Run {
        self.ok(&["init", "-input=false", "-no-color"])
    }

    /// `terraform apply -auto-approve`.
    pub fn apply(&self) -> Run {
        self.ok(&["apply", "-auto-approve", "-input=false", "-no-color"])
    }

    /// `terraform destroy -auto-approve`.
    pub fn destroy(&self) -> Run {
        self.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"])
    }

    /// `terraform plan` saved and shown as JSON (`resource_changes`, `planned_values`, ...).
    pub fn plan_json(&self) -> Value {
        self.ok(&["plan", "-input=false", "-no-color", "-out=tfplan"]);
        parse(&self.ok(&["show", "-json", "tfplan"]).stdout)
    }

    /// True when `terraform plan -detailed-exitcode` finds nothing to change.
    pub fn plan_is_empty(&self) -> bool {
        let run = self.run(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
        match run.code {
            Some(0) => true,
            Some(2) => false,
            _ => panic!("terraform plan failed:\n{}", run.all()),
        }
    }

    /// `terraform show -json` of the current state.
    pub fn show_json(&self) -> Value {
        parse(&self.ok(&["show", "-json"]).stdout)
    }

    /// `terraform output -json`.
    pub fn output_json(&self) -> Value {
        parse(&self.ok(&["output", "-json"]).stdout)
    }

    /// Everything in the provider's default store, through the provider's own `inventory` command.
    pub fn inventory(&self) -> Value {
        inventory(&self.default_store())
    }

    /// What is left after a destroy: (VMs in the store, MCIR in the store, resources and VMs in
    /// the simulated clouds).
    pub fn leftovers(&self) -> (usize, usize, usize) {
        let inv = self.inventory();
        let store_vms: usize = inv["mcis"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["vms"].as_array().unwrap().len())
            .sum();
        let store_mcir = inv["mcir"].as_array().unwrap().len();
        let cloud = inv["cloud"]["resources"].as_array().unwrap().len()
            + inv["cloud"]["vms"].as_array().unwrap().len();
        (store_vms, store_mcir, cloud)
    }
}

/// Runs the provider binary's admin command line with `args`; panics unless it succeeds.
pub fn provider_cli(args: &[&str]) -> String {
    let output = Command::new(provider_binary())
        .args(args)
        .output()
        .expect("run the provider binary");
    assert!(
        output.status.success(),
        "provider {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl Workspace {
    /// Sends SIGKILL to the provider processes Terraform started for this workspace (the plugin
    /// binary running with this workspace as its working directory). Returns how many.
    pub fn kill_provider(&self) -> usize {
        let dir = self.dir();
        let mut killed = 0;
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let is_provider =
                String::from_utf8_lossy(&cmdline).contains("terraform-provider-tumblebug");
            if is_provider
                && std::fs::read_link(entry.path().join("cwd")).ok().as_deref()
                    == Some(dir.as_path())
            {
                // SAFETY: kill(2) with a pid read from /proc; no memory is involved.
                if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                    killed += 1;
                }
            }
        }
        killed
    }
}

/// Everything in the store at `store`, as the provider's `inventory` command prints it.
pub fn inventory(store: &Path) -> Value {
    let output = Command::new(provider_binary())
        .args(["inventory", "--store"])
        .arg(store)
        .output()
        .expect("run the provider's inventory command");
    assert!(
        output.status.success(),
        "inventory failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse(&String::from_utf8_lossy(&output.stdout))
}

/// The `values` of the resource at `address` in a `terraform show -json` document.
pub fn state_values<'a>(show: &'a Value, address: &str) -> &'a Value {
    show["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|resources| resources.iter().find(|r| r["address"] == address))
        .map(|r| &r["values"])
        .unwrap_or_else(|| panic!("no {address} in state: {show:#}"))
}

/// The planned actions (`["create"]`, `["update"]`, `["delete", "create"]`, ...) for `address`.
pub fn planned_actions(plan: &Value, address: &str) -> Vec<String> {
    plan["resource_changes"]
        .as_array()
        .and_then(|changes| changes.iter().find(|c| c["address"] == address))
        .map(|c| {
            c["change"]["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}
