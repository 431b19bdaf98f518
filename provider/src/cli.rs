//! The provider binary as an admin tool, for when a person (or a test) runs it with arguments.
//!
//! `terraform-provider-tumblebug inventory [--store PATH]` prints, as JSON, everything the store
//! holds, and what the embedded simulator's clouds hold: the way to check that a destroy left
//! nothing behind. `docs REPO_ROOT` regenerates the
//! registry pages under `docs/` from the schemas (see [`crate::docs`]). `sim terminate` deletes a
//! VM in the embedded simulator behind Terraform's back, as someone clicking in a cloud console
//! would: the way to try drift detection. `local cleanup` removes everything the `local` driver
//! left behind after a crash (namespaces, bridges, routing rules, the delay router, processes,
//! directories).
//!
//! Internal, not in the usage text: `local delay-router STATE_DIR` runs the `local` driver's
//! delay router (see `clouds::local::run_delay_router`); the driver starts the provider's own
//! binary so, as a daemon, when VMs of regions with a round-trip time between them exist.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::provider::DEFAULT_STORE;
use crate::store::Store;

const USAGE: &str = "usage: terraform-provider-tumblebug inventory [--store PATH]\n\
       terraform-provider-tumblebug docs REPO_ROOT\n\
       terraform-provider-tumblebug sim terminate --store PATH VM_ID\n\
       terraform-provider-tumblebug local cleanup [--state-dir DIR]\n\
       terraform-provider-tumblebug --version\n\
Without arguments the binary serves Terraform's plugin protocol; Terraform starts it itself.";

/// Runs the command line given in `args` (without the program name).
pub fn run(args: &[String]) -> ExitCode {
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["--version"] => {
            println!("terraform-provider-tumblebug {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        ["docs", repo] => match crate::docs::write(std::path::Path::new(repo)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("cannot write the docs: {err:#}");
                ExitCode::FAILURE
            }
        },
        ["sim", "terminate", "--store", path, id] => sim_terminate(PathBuf::from(path), id),
        ["local", "cleanup"] => local_cleanup(clouds::local::DEFAULT_STATE_DIR.as_ref()),
        ["local", "cleanup", "--state-dir", dir] => local_cleanup(std::path::Path::new(dir)),
        ["local", "delay-router", dir] => {
            let Err(why) = clouds::local::run_delay_router(std::path::Path::new(dir));
            eprintln!("delay router: {why}");
            ExitCode::FAILURE
        }
        ["inventory"] => inventory(PathBuf::from(DEFAULT_STORE)),
        ["inventory", "--store", path] => inventory(PathBuf::from(path)),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn inventory(path: PathBuf) -> ExitCode {
    if !path.is_file() {
        eprintln!("no store at {}", path.display());
        return ExitCode::FAILURE;
    }
    match inventory_json(&path) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("cannot read the store {}: {err:#}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// The store's inventory plus, under `cloud`, what the embedded simulator's clouds hold: the two
/// views that must both be empty after a destroy.
fn inventory_json(path: &std::path::Path) -> anyhow::Result<String> {
    let store = Store::open(path)?.inventory()?;
    let cloud = clouds::sim::SimCloud::open(path, clouds::sim::SimConfig::default())
        .and_then(|sim| sim.inventory())
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let mut json = serde_json::to_value(store)?;
    json["cloud"] = serde_json::to_value(cloud)?;
    Ok(serde_json::to_string_pretty(&json)?)
}

fn sim_terminate(path: PathBuf, id: &str) -> ExitCode {
    use clouds::CloudDriver;
    let result = (|| -> anyhow::Result<()> {
        let sim = clouds::sim::SimCloud::open(&path, clouds::sim::SimConfig::default())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let vm = sim
            .inventory()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .vms
            .into_iter()
            .find(|vm| vm.id == id);
        let vm = vm.ok_or_else(|| anyhow::anyhow!("no VM {id} in the simulator"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime
            .block_on(sim.terminate_vm(&vm.connection, id))
            .map_err(|e| anyhow::anyhow!("{e}"))
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

fn local_cleanup(state_dir: &std::path::Path) -> ExitCode {
    match clouds::local::cleanup(state_dir) {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("cannot clean up {}: {err}", state_dir.display());
            ExitCode::FAILURE
        }
    }
}
