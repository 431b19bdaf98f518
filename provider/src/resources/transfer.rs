//! `tumblebug_transfer`: copies a local file (a VM image, gigabytes) to a path on every VM of an
//! MCIS (or one group) with the `remote` transfer engine: unicast, a pipelined chain, a relay
//! tree, or whichever the time model predicts to be fastest. Every copy is verified by SHA-256
//! and appears under its final name only once verified.
//!
//! The plan hashes the source, so a changed file plans an in-place update (the VMs keep the old
//! copy until the new one is verified). Only a change of where the copies are (`mcis_id`,
//! `group`, `destination`) replaces the resource. `read` keeps `hosts` to the VMs the MCIS has
//! now, marking VMs that came after the transfer as `missing`, which plans an update that
//! copies the file to them.
//!
//! Partial failure: a create that fails on any VM saves no state (Terraform would taint it, and
//! the replacement would delete every good copy first); an update that fails saves the state
//! with the failed VMs marked. Either way the next apply runs the transfer again, and the engine
//! keeps verified copies and resumes partial ones.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use remote::{HostReport, HostStatus, Strategy, Target, TransferOptions, TransferReport};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use crate::diag;
use crate::mcis::access::{ssh_fleet, ssh_targets, vm_ids, VmIdentity};
use crate::provider::Shared;
use crate::resources::differing;
use crate::resources::vm_access::{
    check_duration, check_mcis_id, group_attribute, mcis_id_attribute, split_mcis_id, unreachable,
    user_attribute, user_or_default,
};
use crate::schema::{attribute, computed_string, number, optional_string, required_string};
use crate::timeouts::parse_duration;

/// The values `strategy` takes.
const STRATEGIES: [&str; 4] = ["unicast", "chain", "tree", "auto"];
const DEFAULT_STRATEGY: &str = "auto";
const DEFAULT_FANOUT: i64 = 2;
const DEFAULT_PARALLELISM: i64 = 8;
const DEFAULT_BANDWIDTH_MBIT: i64 = 1000;
/// How often the engine logs each VM's progress during a transfer.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// `hosts[*].status` of a VM that holds the verified file.
const STATUS_OK: &str = "ok";
/// `hosts[*].status` of a VM the last transfer could not complete.
const STATUS_FAILED: &str = "failed";
/// `hosts[*].status` of a VM that joined the MCIS (or was re-created) after the transfer.
const STATUS_MISSING: &str = "missing";

/// The resource; holds the provider's shared context.
pub struct TransferResource {
    shared: Shared,
}

impl TransferResource {
    pub fn new(shared: Shared) -> Self {
        TransferResource { shared }
    }
}

#[async_trait]
impl Resource for TransferResource {
    type State<'a> = Value<TransferState>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let host = AttributeType::Object(map! {
            "vm" => AttributeType::String,
            "vm_id" => AttributeType::String,
            "address" => AttributeType::String,
            "status" => AttributeType::String,
            "bytes" => AttributeType::Number,
            "message" => AttributeType::String,
        });
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown(
                    "Copies a local file, typically a VM image of several gigabytes, to the same \
                     path on every VM of an MCIS (or of one `vm_group`) over SSH with each VM's \
                     pinned host key. VMs can relay the data to each other (`chain`, `tree`), \
                     so the machine running Terraform sends the file about once instead of once \
                     per VM. Each copy is written to `<destination>.part`, verified by SHA-256 \
                     on its VM and only then renamed to `destination`, so a VM never holds a \
                     half-written file under that name.\n\n\
                     The plan hashes `source`: a changed file plans an in-place update, during \
                     which the VMs keep the old copy until the new one is verified; an unchanged \
                     file plans nothing. VMs that join the MCIS later show up in `hosts` as \
                     `missing` and get the file on the next apply. Changing `mcis_id`, `group` \
                     or `destination` replaces the resource.\n\n\
                     Any VM that does not get the file fails the apply, named with the reason; \
                     the other VMs still complete. The next `terraform apply` transfers again: \
                     verified copies are kept, partial copies resume where they stopped. \
                     Progress (per VM and overall) is logged every 5 s at `TF_LOG=INFO`.\n\n\
                     Destroying the resource removes `destination` (and any \
                     `<destination>.part`) from every VM that can be reached; VMs that are not \
                     running or do not answer are skipped with a warning naming them.",
                ),
                attributes: map! {
                    "id" => computed_string("`<mcis_id>/<group or *>:<destination>`."),
                    "mcis_id" => mcis_id_attribute(),
                    "group" => group_attribute(),
                    "source" => required_string(
                        "Path of the local file to copy, e.g. `\"${path.module}/ubuntu.qcow2\"`. \
                         It must exist when Terraform plans: the plan hashes it to decide whether \
                         the VMs need a new copy."),
                    "destination" => required_string(
                        "Absolute path of the copy on every VM, e.g. `/var/lib/images/ubuntu.qcow2`; \
                         missing directories are created."),
                    "strategy" => optional_string(
                        "How the file travels: `unicast` (the machine running Terraform sends to \
                         every VM itself, `parallelism` at a time), `chain` (a pipeline VM to VM: \
                         every VM receives at link speed at once), `tree` (each VM relays to \
                         `fanout` others) or `auto` (whichever the engine's time model predicts \
                         to be fastest, given the two bandwidth attributes). Default `auto`."),
                    "fanout" => number(
                        "VMs each relaying VM feeds with `tree`; at least 2. Default 2.",
                        AttributeConstraint::Optional),
                    "parallelism" => number(
                        "Streams sent at the same time with `unicast` (also when `auto` picks \
                         it); at least 1. Default 8.",
                        AttributeConstraint::Optional),
                    "source_bandwidth_mbit" => number(
                        "Uplink of the machine running Terraform, in Mbit/s, as `auto` assumes \
                         it. Default 1000.",
                        AttributeConstraint::Optional),
                    "vm_bandwidth_mbit" => number(
                        "Each VM's link, in Mbit/s, as `auto` assumes it. Default 1000.",
                        AttributeConstraint::Optional),
                    "user" => user_attribute(),
                    "timeout" => optional_string(
                        "Time limit for the whole transfer, e.g. `2h`. Default: none (the \
                         engine itself gives up on a VM whose data stops arriving, after three \
                         attempts)."),
                    "sha256" => computed_string("SHA-256 (hex) of `source`, as every VM's copy was verified against."),
                    "size_bytes" => number("Size of `source` in bytes.", AttributeConstraint::Computed),
                    "strategy_used" => computed_string(
                        "The strategy that ran: `unicast`, `chain` or `tree` (what `auto` chose). \
                         VMs with different SSH keys (different clouds or regions) are served \
                         one key at a time, each by its own choice; then the names are listed, \
                         comma-separated."),
                    "predicted_seconds" => number(
                        "What the time model predicted for the transfer, in whole seconds.",
                        AttributeConstraint::Computed),
                    "elapsed_seconds" => number(
                        "How long the transfer took, in whole seconds.",
                        AttributeConstraint::Computed),
                    "hosts" => attribute(AttributeType::List(host.into()), AttributeConstraint::Computed,
                        "Per VM: `vm` (its name), `vm_id` (its cloud id), `address`, `status` \
                         (`ok`: it holds the verified file; `failed`: the last transfer could \
                         not complete it; `missing`: it joined the MCIS after the transfer), \
                         `bytes` (sent to it by the last transfer; 0 when it already had the \
                         file) and `message` (what happened, or why it failed)."),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        let Value::Value(config) = config else {
            return Some(());
        };
        check_mcis_id(diags, &config.mcis_id);
        if config.source.as_deref_option() == Some("") {
            diag::invalid_attribute(
                diags,
                "source",
                "The path is empty.",
                "Give the path of a local file, e.g. \"${path.module}/ubuntu.qcow2\".",
            );
        }
        if let Value::Value(destination) = &config.destination {
            if let Err(problem) = check_destination(destination) {
                diag::invalid_attribute(
                    diags,
                    "destination",
                    problem,
                    "Give an absolute file path, e.g. \"/var/lib/images/ubuntu.qcow2\".",
                );
            }
        }
        if let Value::Value(strategy) = &config.strategy {
            if !STRATEGIES.contains(&strategy.as_str()) {
                diag::invalid_attribute(
                    diags,
                    "strategy",
                    format!("\"{strategy}\" is not a strategy."),
                    format!("Use one of {}.", STRATEGIES.join(", ")),
                );
            }
        }
        for (name, value, least) in [
            ("fanout", &config.fanout, 2),
            ("parallelism", &config.parallelism, 1),
            ("source_bandwidth_mbit", &config.source_bandwidth_mbit, 1),
            ("vm_bandwidth_mbit", &config.vm_bandwidth_mbit, 1),
        ] {
            if let Value::Value(n) = value {
                if *n < least {
                    diag::invalid_attribute(
                        diags,
                        name,
                        format!("{n} is too small."),
                        format!("Give a whole number of at least {least}."),
                    );
                }
            }
        }
        check_duration(diags, "timeout", &config.timeout);
        Some(())
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut planned = proposed.as_option()?;
        hash_source(diags, &mut planned).await?;
        planned.id = Value::Unknown;
        planned.mark_transfer_pending();
        Some((Value::Value(planned), ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _prior_private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        let prior = prior.as_option()?;
        let mut planned = proposed.as_option()?;
        hash_source(diags, &mut planned).await?;
        let replace = differing(&[
            ("mcis_id", planned.mcis_id != prior.mcis_id),
            ("group", planned.group != prior.group),
            ("destination", planned.destination != prior.destination),
        ]);
        let every_vm_has_it = prior
            .hosts
            .iter()
            .flatten()
            .all(|h| h.status.as_deref_option() == Some(STATUS_OK));
        if replace.is_empty() && planned.sha256 == prior.sha256 && every_vm_has_it {
            // Nothing to copy; other attributes (strategy, timeout, ...) apply next time.
            return Some((Value::Value(planned), ValueEmpty::default(), Vec::new()));
        }
        if !replace.is_empty() {
            planned.id = Value::Unknown;
        }
        planned.mark_transfer_pending();
        let replace = replace.into_iter().map(AttributePath::new).collect();
        Some((Value::Value(planned), ValueEmpty::default(), replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        _prior_private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        Some(ValueEmpty::default())
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let delivery = self.deliver(diags, planned.as_option()?).await?;
        // A create with errors would be tainted, and replacing it would delete the good copies
        // first; without state the next apply creates it again and keeps them.
        delivery
            .complete
            .then(|| (Value::Value(delivery.state), ValueEmpty::default()))
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let Value::Value(mut state) = state else {
            return Some((state, ValueEmpty::default()));
        };
        let ctx = self.shared.get(diags)?;
        let mcis_id = state.mcis_id.as_deref_option().unwrap_or_default();
        let Some((namespace, mcis)) = split_mcis_id(mcis_id) else {
            return Some((Value::Value(state), ValueEmpty::default()));
        };
        match vm_ids(&ctx.store, namespace, mcis, state.group.as_deref_option()) {
            // The MCIS (or the group) is gone, and the copies with its VMs.
            Ok(None) => Some((Value::Null, ValueEmpty::default())),
            Ok(Some(current)) => {
                let recorded = state.hosts.as_ref_option().cloned().unwrap_or_default();
                state.hosts = Value::Value(reconcile(&recorded, &current));
                Some((Value::Value(state), ValueEmpty::default()))
            }
            Err(err) => {
                diag::failed(
                    diags,
                    format!("Cannot read the VMs of MCIS \"{mcis_id}\""),
                    "Check that the provider's store is readable.",
                    format!("{err:#}"),
                );
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let planned = planned.as_option()?;
        // The plan leaves `hosts` unknown exactly when the VMs need the file.
        if !matches!(planned.hosts, Value::Unknown) {
            return Some((Value::Value(planned), ValueEmpty::default()));
        }
        // Saved even when some VMs failed: they are marked, so the next plan retries them.
        let delivery = self.deliver(diags, planned).await?;
        Some((Value::Value(delivery.state), ValueEmpty::default()))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let ctx = self.shared.get(diags)?;
        let state = state.as_option()?;
        let mcis_id = state.mcis_id.as_deref_option().unwrap_or_default();
        let destination = state.destination.as_ref_option()?.clone();
        let Some((namespace, mcis)) = split_mcis_id(mcis_id) else {
            return Some(());
        };
        let user = user_or_default(&state.user);
        let group = state.group.as_deref_option();
        let fleet = match ssh_fleet(&ctx.store, namespace, mcis, group, &user) {
            Ok(Some(fleet)) => fleet,
            // The MCIS (or the group) is gone, and the copies with its VMs.
            Ok(None) => return Some(()),
            Err(err) => {
                diag::failed(
                    diags,
                    format!("Cannot remove {destination} from the VMs of MCIS \"{mcis_id}\""),
                    "Check that the provider's store is readable, then destroy again.",
                    format!("{err:#}"),
                );
                return None;
            }
        };
        let mut left = fleet.unreachable;
        let groups = fleet.groups;
        tracing::info!(mcis = %mcis_id, destination = %destination, "removing the copies");
        let path = destination.clone();
        let failures = tokio::task::spawn_blocking(move || {
            let mut failures = Vec::new();
            for group in &groups {
                let targets = targets(&group.hosts, &path);
                let results = remote::remove(&targets, &group.key, &remote::SshConfig::default());
                failures.extend(results.into_iter().filter_map(Result::err));
            }
            failures
        })
        .await
        .ok()?;
        left.extend(failures.iter().map(ToString::to_string));
        if !left.is_empty() {
            diag::warned(
                diags,
                format!(
                    "{destination} was not removed from {} VM(s) of MCIS \"{mcis_id}\"",
                    left.len()
                ),
                format!(
                    "Those VMs could not be reached. If they come back, remove {destination} and \
                     {destination}.part there by hand.\n\n{}",
                    left.join("\n")
                ),
            );
        }
        Some(())
    }
}

/// What an apply's transfer produced: the state to save and whether every VM has the file.
struct Delivery {
    state: TransferState,
    complete: bool,
}

impl TransferResource {
    /// Copies the source to every VM and builds the state from the engine's reports; errors
    /// name every VM that did not get the file. `None` when nothing was attempted or the time
    /// limit passed (the state is then not worth saving).
    async fn deliver(&self, diags: &mut Diagnostics, mut state: TransferState) -> Option<Delivery> {
        let ctx = self.shared.get(diags)?;
        let mcis_id = state.mcis_id.as_ref_option()?.clone();
        let (namespace, mcis) = split_mcis_id(&mcis_id)?;
        let group = state.group.as_deref_option();
        let destination = state.destination.as_ref_option()?.clone();
        let source = PathBuf::from(state.source.as_ref_option()?);
        let groups = match ssh_targets(
            &ctx.store,
            namespace,
            mcis,
            group,
            &user_or_default(&state.user),
        ) {
            Ok(groups) => groups,
            Err(err) => {
                unreachable(diags, "copy files", &mcis_id, &err);
                return None;
            }
        };
        let order = vm_ids(&ctx.store, namespace, mcis, group)
            .ok()
            .flatten()
            .unwrap_or_default();
        let options = state.options();
        let vms = groups.iter().map(|g| g.hosts.len()).sum::<usize>();
        tracing::info!(
            mcis = %mcis_id, vms, source = %source.display(), destination = %destination,
            "copying the file to the VMs"
        );
        let started = Instant::now();
        let run = tokio::task::spawn_blocking(move || {
            groups
                .iter()
                .map(|group| {
                    let targets = targets(&group.hosts, &destination);
                    let report = remote::transfer(&source, &targets, &group.key, &options);
                    (targets, report)
                })
                .collect::<Vec<_>>()
        });
        let limit = state
            .timeout
            .as_deref_option()
            .and_then(|t| parse_duration(t).ok());
        let runs = match limit {
            // On time-out the engine is left to run in the background until Terraform stops
            // the provider; what it finished is kept and what it did not resumes next time.
            Some(limit) => match tokio::time::timeout(limit, run).await {
                Ok(joined) => joined.ok()?,
                Err(_) => {
                    diag::failed(
                        diags,
                        format!(
                            "The transfer to MCIS \"{mcis_id}\" did not finish within {}",
                            state.timeout.as_deref_option().unwrap_or_default()
                        ),
                        "Raise `timeout`, or run `terraform apply` again: verified copies are \
                         kept and partial ones resume.",
                        "time limit reached",
                    );
                    return None;
                }
            },
            None => run.await.ok()?,
        };
        let planned_sha256 = state.sha256.as_ref_option().cloned();
        let outcome = record_runs(&mut state, runs, &order, started.elapsed());

        let mut complete = true;
        if !outcome.failed.is_empty() {
            complete = false;
            diag::failed(
                diags,
                format!(
                    "{} of {} VM(s) of MCIS \"{mcis_id}\" did not get {}",
                    outcome.failed.len(),
                    outcome.vms,
                    state.source.as_deref_option().unwrap_or_default()
                ),
                format!(
                    "The other VMs hold the verified file. The failed ones hold nothing under \
                     {}, at most a partial copy that resumes: fix or restart them and run \
                     `terraform apply` again.",
                    state.destination.as_deref_option().unwrap_or_default()
                ),
                outcome.failed.join("\n"),
            );
        }
        if let Some(planned) = planned_sha256.filter(|p| state.sha256.as_ref_option() != Some(p)) {
            complete = false;
            diag::failed_at(
                diags,
                "source",
                "The source file changed during the apply",
                "The VMs now hold the new content (its hash is in `sha256`); run `terraform \
                 apply` again to record it.",
                format!(
                    "planned SHA-256 {planned}, found {}",
                    state.sha256.as_deref_option().unwrap_or_default()
                ),
            );
        }
        if !outcome.warnings.is_empty() {
            diag::warned(
                diags,
                "The transfer could not clean up everywhere",
                outcome.warnings.join("\n"),
            );
        }
        Some(Delivery { state, complete })
    }
}

/// Sets `sha256` and `size_bytes` from the source file as it is now (unknown while its path
/// is). A file that cannot be read is an error on `source`: without its hash the plan cannot
/// tell whether the VMs need a new copy.
async fn hash_source(diags: &mut Diagnostics, planned: &mut TransferState) -> Option<()> {
    let Value::Value(path) = &planned.source else {
        planned.sha256 = Value::Unknown;
        planned.size_bytes = Value::Unknown;
        return Some(());
    };
    let path = PathBuf::from(path);
    let hashed = tokio::task::spawn_blocking(move || {
        let size = std::fs::metadata(&path)
            .map_err(|source| remote::Error::Source {
                path: path.display().to_string(),
                source,
            })?
            .len();
        remote::hash_file(&path).map(|sha256| (sha256, size))
    })
    .await
    .ok()?;
    match hashed {
        Ok((sha256, size)) => {
            planned.sha256 = Value::Value(sha256);
            planned.size_bytes = Value::Value(i64::try_from(size).unwrap_or(i64::MAX));
            Some(())
        }
        Err(err) => {
            diag::failed_at(
                diags,
                "source",
                "Cannot read the file named by \"source\"",
                "`source` must name a readable local file when Terraform plans: the plan hashes \
                 it to decide whether the VMs need a new copy. Relative paths start where \
                 terraform runs; `\"${path.module}/<file>\"` names a file beside the \
                 configuration.",
                err,
            );
            None
        }
    }
}

/// Why `destination` is not an absolute file path, if it is not.
fn check_destination(destination: &str) -> Result<(), String> {
    if !destination.starts_with('/') {
        return Err(format!("\"{destination}\" is not an absolute path."));
    }
    if destination.ends_with('/') {
        return Err(format!(
            "\"{destination}\" names a directory; name the file."
        ));
    }
    if destination.contains(['\n', '\0']) {
        return Err("The path contains a line break or a NUL character.".into());
    }
    Ok(())
}

/// One target per host, all with the same destination.
fn targets(hosts: &[remote::Host], destination: &str) -> Vec<Target> {
    hosts
        .iter()
        .map(|host| Target {
            host: host.clone(),
            dest: destination.to_owned(),
        })
        .collect()
}

/// One SSH key's share of a transfer: its targets and what the engine made of them.
type KeyRun = (Vec<Target>, Result<TransferReport, remote::Error>);

/// What [`record_runs`] found.
struct Outcome {
    /// VMs in the transfer.
    vms: usize,
    /// `"<vm>: <why>"` for every VM that did not get the file.
    failed: Vec<String>,
    /// The engine's warnings (clean-ups that could not run).
    warnings: Vec<String>,
}

/// Writes what `runs` did into `state`: the source's hash and size as the engine read them,
/// the strategies used, the predicted and elapsed times, the id, and one `hosts` entry per VM,
/// in the MCIS's order (`order`, which also gives each VM's id).
fn record_runs(
    state: &mut TransferState,
    runs: Vec<KeyRun>,
    order: &[VmIdentity],
    elapsed: Duration,
) -> Outcome {
    let mut hosts = Vec::new();
    let mut used = Vec::new();
    let mut predicted = 0.0;
    let mut warnings = Vec::new();
    for (targets, result) in runs {
        match result {
            Ok(report) => {
                state.sha256 = Value::Value(report.sha256.clone());
                state.size_bytes = Value::Value(i64::try_from(report.size).unwrap_or(i64::MAX));
                used.push(strategy_name(report.strategy_used));
                predicted += report.predicted_seconds;
                warnings.extend(report.warnings);
                hosts.extend(targets.iter().zip(&report.hosts).map(host_copy));
            }
            // The request itself was unusable (e.g. the source became unreadable).
            Err(err) => hosts.extend(targets.iter().map(|t| HostCopy {
                vm: Value::Value(t.host.name.clone()),
                vm_id: Value::Null,
                address: Value::Value(t.host.address.clone()),
                status: Value::Value(STATUS_FAILED.into()),
                bytes: Value::Value(0),
                message: Value::Value(err.to_string()),
            })),
        }
    }
    for host in &mut hosts {
        let vm = order
            .iter()
            .find(|vm| host.vm.as_deref_option() == Some(vm.name.as_str()));
        host.vm_id = vm.and_then(|vm| vm.cloud_id.clone()).into();
    }
    hosts.sort_by_key(|h| {
        order
            .iter()
            .position(|vm| h.vm.as_deref_option() == Some(vm.name.as_str()))
    });
    used.sort_unstable();
    used.dedup();
    let failed = hosts
        .iter()
        .filter(|h| h.status.as_deref_option() == Some(STATUS_FAILED))
        .map(|h| {
            format!(
                "{}: {}",
                h.vm.as_deref_option().unwrap_or_default(),
                h.message.as_deref_option().unwrap_or_default()
            )
        })
        .collect();
    state.id = Value::Value(format!(
        "{}/{}:{}",
        state.mcis_id.as_deref_option().unwrap_or_default(),
        state.group.as_deref_option().unwrap_or("*"),
        state.destination.as_deref_option().unwrap_or_default()
    ));
    state.strategy_used = if used.is_empty() {
        Value::Null
    } else {
        Value::Value(used.join(", "))
    };
    state.predicted_seconds = Value::Value(whole_seconds(predicted));
    state.elapsed_seconds = Value::Value(whole_seconds(elapsed.as_secs_f64()));
    let vms = hosts.len();
    state.hosts = Value::Value(hosts);
    Outcome {
        vms,
        failed,
        warnings,
    }
}

/// Durations go into state as whole seconds: Terraform keeps numbers as decimals, and a fraction
/// read back from state is no longer the float the provider wrote, so every plan would show it
/// changed.
fn whole_seconds(seconds: f64) -> i64 {
    seconds.round() as i64
}

/// `strategy_used`'s word for a strategy that ran.
fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Unicast { .. } => "unicast",
        Strategy::Chain => "chain",
        Strategy::Tree { .. } => "tree",
        Strategy::Auto => "auto",
    }
}

/// A host's entry in `hosts` from the engine's report (its `vm_id` is filled in by the caller).
fn host_copy((target, report): (&Target, &HostReport)) -> HostCopy {
    let (status, message) = match report.status {
        HostStatus::Transferred => (
            STATUS_OK,
            match &report.error {
                Some(recovered) => format!("copied and verified, after: {recovered}"),
                None => "copied and verified".to_owned(),
            },
        ),
        HostStatus::AlreadyPresent => (STATUS_OK, "already there, verified by hash".to_owned()),
        HostStatus::Failed => (
            STATUS_FAILED,
            report.error.clone().unwrap_or_else(|| "failed".into()),
        ),
    };
    HostCopy {
        vm: Value::Value(report.name.clone()),
        vm_id: Value::Null,
        address: Value::Value(target.host.address.clone()),
        status: Value::Value(status.into()),
        bytes: Value::Value(i64::try_from(report.bytes).unwrap_or(i64::MAX)),
        message: Value::Value(message),
    }
}

/// `hosts` for the VMs the MCIS has now, in its order: a VM that is still the one recorded
/// (same cloud id) keeps its entry; any other VM, new or re-created under an old name, is
/// `missing`. Entries of VMs that are gone are dropped.
fn reconcile(recorded: &[HostCopy], current: &[VmIdentity]) -> Vec<HostCopy> {
    current
        .iter()
        .map(|vm| {
            recorded
                .iter()
                .find(|h| {
                    h.vm.as_deref_option() == Some(vm.name.as_str())
                        && h.vm_id.as_ref_option() == vm.cloud_id.as_ref()
                })
                .cloned()
                .unwrap_or_else(|| HostCopy {
                    vm: Value::Value(vm.name.clone()),
                    vm_id: vm.cloud_id.clone().into(),
                    address: Value::Null,
                    status: Value::Value(STATUS_MISSING.into()),
                    bytes: Value::Value(0),
                    message: Value::Value(
                        "this VM came after the last transfer; the next apply copies the file"
                            .into(),
                    ),
                })
        })
        .collect()
}

/// The transfer resource as Terraform state holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransferState {
    pub id: Value<String>,
    pub mcis_id: Value<String>,
    pub group: Value<String>,
    pub source: Value<String>,
    pub destination: Value<String>,
    pub strategy: Value<String>,
    pub fanout: Value<i64>,
    pub parallelism: Value<i64>,
    pub source_bandwidth_mbit: Value<i64>,
    pub vm_bandwidth_mbit: Value<i64>,
    pub user: Value<String>,
    pub timeout: Value<String>,
    pub sha256: Value<String>,
    pub size_bytes: Value<i64>,
    pub strategy_used: Value<String>,
    pub predicted_seconds: Value<i64>,
    pub elapsed_seconds: Value<i64>,
    pub hosts: Value<Vec<HostCopy>>,
}

impl TransferState {
    /// Marks what a transfer computes as unknown until it has run.
    fn mark_transfer_pending(&mut self) {
        self.strategy_used = Value::Unknown;
        self.predicted_seconds = Value::Unknown;
        self.elapsed_seconds = Value::Unknown;
        self.hosts = Value::Unknown;
    }

    /// The engine's options from the attributes (defaults where left out).
    fn options(&self) -> TransferOptions {
        let whole = |value: &Value<i64>, default: i64| {
            usize::try_from(value.as_ref_option().copied().unwrap_or(default)).unwrap_or(1)
        };
        let bytes_per_second = |mbit: &Value<i64>| {
            mbit.as_ref_option()
                .copied()
                .unwrap_or(DEFAULT_BANDWIDTH_MBIT) as f64
                * 1e6
                / 8.0
        };
        let parallel = whole(&self.parallelism, DEFAULT_PARALLELISM);
        let strategy = match self.strategy.as_deref_option().unwrap_or(DEFAULT_STRATEGY) {
            "unicast" => Strategy::Unicast { parallel },
            "chain" => Strategy::Chain,
            "tree" => Strategy::Tree {
                fanout: whole(&self.fanout, DEFAULT_FANOUT),
            },
            _ => Strategy::Auto,
        };
        let mut options = TransferOptions {
            strategy,
            unicast_parallel: parallel,
            progress_interval: PROGRESS_INTERVAL,
            // The plan hashed the source already; each VM checks its copy against that hash, so a
            // file changed since the plan fails on the VMs instead of being shipped unnoticed.
            expected_sha256: self.sha256.as_ref_option().cloned(),
            ..TransferOptions::default()
        };
        options.model.frontend_bandwidth = bytes_per_second(&self.source_bandwidth_mbit);
        options.model.host_bandwidth = bytes_per_second(&self.vm_bandwidth_mbit);
        options
    }
}

/// One VM's copy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostCopy {
    pub vm: Value<String>,
    pub vm_id: Value<String>,
    pub address: Value<String>,
    pub status: Value<String>,
    pub bytes: Value<i64>,
    pub message: Value<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(vm: &str, id: &str, status: &str) -> HostCopy {
        HostCopy {
            vm: Value::Value(vm.into()),
            vm_id: Value::Value(id.into()),
            address: Value::Value("10.0.0.1".into()),
            status: Value::Value(status.into()),
            bytes: Value::Value(7),
            message: Value::Value("copied and verified".into()),
        }
    }

    #[test]
    fn reconcile_follows_the_vms_the_mcis_has_now() {
        let recorded = vec![copy("a", "i-1", STATUS_OK), copy("b", "i-2", STATUS_OK)];
        let vm = |name: &str, id: Option<&str>| VmIdentity {
            name: name.into(),
            cloud_id: id.map(Into::into),
        };
        let same = vec![vm("a", Some("i-1")), vm("b", Some("i-2"))];
        assert_eq!(reconcile(&recorded, &same), recorded);
        // b was re-created under its name, c is new, a is gone.
        let now = vec![vm("b", Some("i-9")), vm("c", None)];
        let seen = reconcile(&recorded, &now);
        let summary: Vec<(Option<&str>, Option<&str>, Option<&str>)> = seen
            .iter()
            .map(|h| {
                (
                    h.vm.as_deref_option(),
                    h.vm_id.as_deref_option(),
                    h.status.as_deref_option(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (Some("b"), Some("i-9"), Some(STATUS_MISSING)),
                (Some("c"), None, Some(STATUS_MISSING)),
            ]
        );
    }

    fn target(name: &str) -> Target {
        Target {
            host: remote::Host::new(name, "10.0.0.5", 22, "root", "ssh-ed25519 AAAA"),
            dest: "/srv/x".into(),
        }
    }

    #[test]
    fn runs_are_recorded_per_vm_in_the_mcis_order() {
        let mut state = TransferState {
            mcis_id: Value::Value("ns/lab".into()),
            destination: Value::Value("/srv/x".into()),
            sha256: Value::Value("planned".into()),
            ..TransferState::default()
        };
        let report = TransferReport {
            sha256: "abc".into(),
            size: 10,
            strategy_used: Strategy::Chain,
            predicted_seconds: 1.4,
            elapsed_seconds: 2.0,
            waves: 2,
            hosts: vec![
                HostReport {
                    name: "lab-b-0".into(),
                    status: HostStatus::Transferred,
                    bytes: 10,
                    attempts: 1,
                    error: None,
                },
                HostReport {
                    name: "lab-a-1".into(),
                    status: HostStatus::Failed,
                    bytes: 4,
                    attempts: 3,
                    error: Some("host lab-a-1: refused".into()),
                },
            ],
            warnings: vec!["clean-up on host lab-a-1 failed".into()],
        };
        let unusable = remote::Error::Invalid("no".into());
        let runs = vec![
            (vec![target("lab-b-0"), target("lab-a-1")], Ok(report)),
            (vec![target("lab-a-0")], Err(unusable)),
        ];
        let order: Vec<VmIdentity> = ["lab-a-0", "lab-a-1", "lab-b-0"]
            .iter()
            .enumerate()
            .map(|(i, name)| VmIdentity {
                name: (*name).into(),
                cloud_id: Some(format!("i-{i}")),
            })
            .collect();
        let outcome = record_runs(&mut state, runs, &order, Duration::from_millis(2600));
        assert_eq!(outcome.vms, 3);
        assert_eq!(
            outcome.failed,
            vec!["lab-a-0: no", "lab-a-1: host lab-a-1: refused"]
        );
        assert_eq!(outcome.warnings, vec!["clean-up on host lab-a-1 failed"]);
        let hosts = state.hosts.as_ref_option().unwrap();
        let seen: Vec<(&str, &str, &str, i64)> = hosts
            .iter()
            .map(|h| {
                (
                    h.vm.as_deref_option().unwrap(),
                    h.vm_id.as_deref_option().unwrap(),
                    h.status.as_deref_option().unwrap(),
                    *h.bytes.as_ref_option().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("lab-a-0", "i-0", STATUS_FAILED, 0),
                ("lab-a-1", "i-1", STATUS_FAILED, 4),
                ("lab-b-0", "i-2", STATUS_OK, 10),
            ]
        );
        assert_eq!(state.sha256.as_deref_option(), Some("abc"));
        assert_eq!(state.strategy_used.as_deref_option(), Some("chain"));
        assert_eq!(state.predicted_seconds.as_ref_option(), Some(&1));
        assert_eq!(state.elapsed_seconds.as_ref_option(), Some(&3));
        assert_eq!(state.id.as_deref_option(), Some("ns/lab/*:/srv/x"));
    }

    #[test]
    fn destinations_must_be_absolute_file_paths() {
        assert!(check_destination("/var/lib/images/ubuntu.qcow2").is_ok());
        for bad in ["images/x", "", "/var/lib/", "/a\nb", "~/x"] {
            assert!(check_destination(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn options_follow_the_attributes() {
        let mut state = TransferState::default();
        let options = state.options();
        assert_eq!(options.strategy, Strategy::Auto);
        assert_eq!(options.unicast_parallel, 8);
        assert_eq!(options.model.host_bandwidth, 125e6);
        state.strategy = Value::Value("tree".into());
        state.fanout = Value::Value(3);
        state.vm_bandwidth_mbit = Value::Value(100);
        let options = state.options();
        assert_eq!(options.strategy, Strategy::Tree { fanout: 3 });
        assert_eq!(options.model.host_bandwidth, 12.5e6);
        state.strategy = Value::Value("unicast".into());
        state.parallelism = Value::Value(2);
        assert_eq!(state.options().strategy, Strategy::Unicast { parallel: 2 });
    }

    #[test]
    fn host_entries_say_what_happened() {
        let target = target("vm-1");
        let report = HostReport {
            name: "vm-1".into(),
            status: HostStatus::Failed,
            bytes: 10,
            attempts: 3,
            error: Some("host vm-1: cannot connect".into()),
        };
        let entry = host_copy((&target, &report));
        assert_eq!(entry.status.as_deref_option(), Some(STATUS_FAILED));
        assert_eq!(
            entry.message.as_deref_option(),
            Some("host vm-1: cannot connect")
        );
        assert_eq!(entry.address.as_deref_option(), Some("10.0.0.5"));
        let present = HostReport {
            status: HostStatus::AlreadyPresent,
            bytes: 0,
            error: None,
            ..report
        };
        assert_eq!(
            host_copy((&target, &present)).status.as_deref_option(),
            Some(STATUS_OK)
        );
    }
}
