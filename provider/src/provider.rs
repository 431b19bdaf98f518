//! The provider itself: its configuration block, and the list of resources and data sources.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, DynamicDataSource, DynamicResource, Provider};

use crate::data_sources::placement::PlacementDataSource;
use crate::diag;
use crate::drivers::{Drivers, DRIVER_KINDS};
use crate::names::check_cloud;
use crate::number::Number;
use crate::resources::command::CommandResource;
use crate::resources::mcir::McirResource;
use crate::resources::mcis::McisResource;
use crate::resources::namespace::NamespaceResource;
use crate::resources::security_group::SecurityGroup;
use crate::resources::ssh_key::SshKey;
use crate::resources::transfer::TransferResource;
use crate::resources::vnet::Vnet;
use crate::schema::{number, optional_string, required_string};
use crate::store::Store;
use crate::timeouts::parse_duration;

/// Where the store lives when the configuration does not say: beside the configuration (Terraform
/// runs providers in the root module's directory), like `.terraform/` itself.
pub const DEFAULT_STORE: &str = ".tumblebug/store.db";

/// What `configure` sets up once, and every resource uses afterwards.
pub struct Context {
    /// The durable store.
    pub store: Store,
    /// The driver of each cloud.
    pub drivers: Drivers,
    /// Pause between status polls while waiting for the clouds.
    pub poll_interval: Duration,
    /// The user's catalog, when the provider block names one.
    pub user_catalog: Option<Arc<planner::Catalog>>,
}

impl Context {
    /// The catalog the planner uses: the user's, or the embedded one (parsed on first use, so
    /// runs that plan nothing do not pay for it).
    pub fn catalog(&self) -> &planner::Catalog {
        self.user_catalog
            .as_deref()
            .unwrap_or_else(|| planner::Catalog::embedded_ref())
    }
}

/// The provider's [`Context`], shared with every resource. Terraform asks for the resource list
/// before it configures the provider, so resources hold this handle and look the context up per
/// call.
#[derive(Clone, Default)]
pub struct Shared(Arc<OnceLock<Context>>);

impl Shared {
    /// The configured context, or an error diagnostic when the provider is not configured yet.
    pub fn get(&self, diags: &mut Diagnostics) -> Option<&Context> {
        let context = self.0.get();
        if context.is_none() {
            diags.root_error_short("The tumblebug provider is used before it was configured.");
        }
        context
    }
}

/// The provider configuration block.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// Path of the SQLite store.
    pub store: Value<String>,
    /// Path of a user catalog.
    pub catalog: Value<String>,
    /// Cloud name -> driver kind.
    pub clouds: Value<BTreeMap<String, Value<String>>>,
    /// Pause between status polls, e.g. `1s`.
    pub poll_interval: Value<String>,
    /// Settings of the embedded simulator.
    #[serde(with = "tf_provider::value::serde_as_vec")]
    pub simulator: Value<SimulatorBlock>,
    /// Settings of the `local` driver.
    #[serde(with = "tf_provider::value::serde_as_vec")]
    pub local: Value<LocalBlock>,
}

/// The `local` block.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LocalBlock {
    pub state_dir: Value<String>,
    pub bandwidth_mbit: Value<i64>,
    pub address_pool: Value<String>,
    pub prefix: Value<String>,
    /// Round-trip times between regions.
    pub latency: Value<Vec<LatencyBlock>>,
}

/// One `latency` block of the `local` block.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct LatencyBlock {
    /// The two regions.
    pub regions: Value<Vec<Value<String>>>,
    /// Round-trip time in milliseconds.
    pub rtt_ms: Value<Number>,
}

/// The `simulator` block.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SimulatorBlock {
    /// Cloud name -> seconds each transition takes.
    pub durations: Value<BTreeMap<String, Value<Number>>>,
    /// Injected faults.
    pub fault: Value<Vec<FaultBlock>>,
}

/// One `fault` block.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct FaultBlock {
    /// `create_failure`, `status_error` or `stuck`.
    pub kind: Value<String>,
    /// Cloud name.
    pub provider: Value<String>,
    /// Region; all regions when null.
    pub region: Value<String>,
    /// For `create_failure`: `capacity` or `quota`.
    pub error: Value<String>,
    /// For `stuck`: the phase that never ends.
    pub phase: Value<String>,
    /// The cloud's message; default: the cloud's own text for that error.
    pub message: Value<String>,
}

/// `terraform-provider-tumblebug`.
#[derive(Default)]
pub struct TumblebugProvider {
    shared: Shared,
}

#[async_trait]
impl Provider for TumblebugProvider {
    type Config<'a> = ProviderConfig;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown(
                    "The tumblebug provider manages multi-cloud infrastructure in the manner of \
                     CB-Tumblebug: namespaces, and groups of VMs spread over several clouds. It \
                     needs no credentials for its embedded default cloud. Logs follow `TF_LOG`.",
                ),
                attributes: map! {
                    "store" => optional_string(
                        "Path of the SQLite file where the provider keeps what exists (its durable \
                         store), relative to the directory where Terraform runs. Created with its \
                         parent directories if missing. Default: `.tumblebug/store.db`."),
                    "catalog" => optional_string(
                        "The planner's catalog of offers, regions and RTTs: a directory in the \
                         public formats (Libcloud `pricing.json`, SkyPilot `vms.csv`, \
                         CB-Tumblebug's `cloudlatencymap.csv`, `cloudinfo.yaml`, ...) or a file \
                         written by `tumblebug-planner catalog export`. Default: the catalog \
                         embedded in the provider (see `docs/catalog.md`)."),
                    "clouds" => Attribute {
                        attr_type: AttributeType::Map(AttributeType::String.into()),
                        description: Description::markdown(
                            "Which driver serves each cloud, e.g. `{ aws = \"sim\" }`. Drivers: \
                             `sim`, the embedded simulator, and `local`, real hosts on this machine \
                             (network namespaces with sshd; needs root, see the `local` block). \
                             Every cloud not listed is served by `sim`, so the same HCL runs in CI \
                             without credentials, except the cloud named `local`, served by `local`."),
                        constraint: AttributeConstraint::Optional,
                        ..Default::default()
                    },
                    "poll_interval" => optional_string(
                        "Pause between status polls while waiting for the clouds, e.g. `1s` \
                         (default) or `200ms`."),
                },
                blocks: map! {
                    "simulator" => NestedBlock::Optional(simulator_block()),
                    "local" => NestedBlock::Optional(local_block()),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ProviderConfig) -> Option<()> {
        if let Value::Value(store) = &config.store {
            if store.trim().is_empty() {
                diag::invalid_attribute(
                    diags,
                    "store",
                    "The store path is empty.",
                    format!("Give a file path such as \"{DEFAULT_STORE}\", or leave `store` out."),
                );
            }
        }
        if let Value::Value(catalog) = &config.catalog {
            if catalog.trim().is_empty() {
                diag::invalid_attribute(
                    diags,
                    "catalog",
                    "The catalog path is empty.",
                    "Give the path of a catalog file, or leave `catalog` out to use the embedded one.",
                );
            }
        }
        if let Value::Value(clouds) = &config.clouds {
            for cloud in clouds.keys() {
                if let Err((problem, valid)) = check_cloud(cloud) {
                    let path = AttributePath::new("clouds").key(cloud.clone());
                    diag::invalid_at(diags, path, "clouds", problem, valid);
                }
            }
            for (cloud, driver) in clouds {
                if let Value::Value(driver) = driver {
                    if !DRIVER_KINDS.contains(&driver.as_str()) {
                        let path = AttributePath::new("clouds").key(cloud.clone());
                        let valid = format!("Valid drivers: {}.", DRIVER_KINDS.join(", "));
                        diag::invalid_at(
                            diags,
                            path,
                            "clouds",
                            format!("\"{driver}\" is not a driver."),
                            valid,
                        );
                    }
                }
            }
        }
        if let Value::Value(text) = &config.poll_interval {
            if let Err(problem) = parse_duration(text) {
                diag::invalid_attribute(
                    diags,
                    "poll_interval",
                    problem,
                    "For example \"1s\" or \"200ms\".",
                );
            }
        }
        if let Value::Value(sim) = &config.simulator {
            if let Err((path, problem)) = sim_config(sim) {
                diags.error("Invalid simulator setting", problem, path);
            }
        }
        if let Value::Value(local) = &config.local {
            if let Err((path, problem)) = local_config(local) {
                diags.error("Invalid local setting", problem, path);
            }
        }
        Some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: ProviderConfig,
    ) -> Option<()> {
        let store_path = PathBuf::from(
            config
                .store
                .as_option()
                .unwrap_or_else(|| DEFAULT_STORE.into()),
        );
        let store = match Store::open(&store_path) {
            Ok(store) => store,
            Err(err) => {
                diag::failed_at(
                    diags,
                    "store",
                    "Cannot open the tumblebug store",
                    format!(
                        "Check that {} is a writable file path, or set `store` to another path.",
                        store_path.display()
                    ),
                    format!("{err:#}"),
                );
                return None;
            }
        };
        let user_catalog = match config.catalog.as_option().map(PathBuf::from) {
            None => None,
            Some(path) => match planner::Catalog::load(&path) {
                Ok(catalog) => Some(Arc::new(catalog)),
                Err(err) => {
                    diag::invalid_attribute(
                        diags,
                        "catalog",
                        format!("The catalog {} cannot be read: {err}", path.display()),
                        "Give a directory in the public formats (the layout of the project's \
                         shared catalog), a catalog exported by `tumblebug-planner catalog \
                         export`, or leave `catalog` out to use the embedded one.",
                    );
                    return None;
                }
            },
        };
        let sim = match config
            .simulator
            .as_option()
            .map(|block| sim_config(&block))
            .transpose()
        {
            Ok(sim) => sim.unwrap_or_default(),
            Err((path, problem)) => {
                diags.error("Invalid simulator setting", problem, path);
                return None;
            }
        };
        let simulator = match clouds::sim::SimCloud::open(store.path(), sim) {
            Ok(simulator) => {
                // The planner's catalog is parsed only if a request leaves the built-in regions.
                let catalog = user_catalog.clone();
                Arc::new(simulator.with_more_regions(move || {
                    sim_catalog(
                        catalog
                            .as_deref()
                            .unwrap_or_else(|| planner::Catalog::embedded_ref()),
                    )
                }))
            }
            Err(err) => {
                diag::failed(
                    diags,
                    "Cannot start the cloud simulator",
                    "Check the `store` path.",
                    err,
                );
                return None;
            }
        };
        // Every cloud is served by the simulator unless `clouds` says otherwise, except `local`.
        let mut served: BTreeMap<&str, String> = lifecycle::Cloud::ALL
            .iter()
            .map(|c| {
                let driver = if *c == lifecycle::Cloud::Local {
                    "local"
                } else {
                    "sim"
                };
                (c.as_str(), driver.to_owned())
            })
            .collect();
        for (cloud, driver) in config.clouds.as_ref_option().into_iter().flatten() {
            if let (Some(entry), Value::Value(driver)) = (served.get_mut(cloud.as_str()), driver) {
                *entry = driver.clone();
            }
        }
        let by = |kind: &str| -> Vec<&str> {
            served
                .iter()
                .filter(|(_, driver)| driver.as_str() == kind)
                .map(|(cloud, _)| *cloud)
                .collect()
        };
        let mut drivers = Drivers::default();
        drivers.insert(&by("sim"), simulator);
        let local_clouds = by("local");
        if !local_clouds.is_empty() {
            let local = config.local.as_option().unwrap_or_default();
            // Opened on first use, so a machine without root can still run every other cloud.
            match local_config(&local) {
                Ok(local) => drivers.insert_lazy(&local_clouds, move || {
                    let cloud = clouds::local::LocalCloud::open(local.clone());
                    cloud
                        .map(|cloud| Arc::new(cloud) as Arc<dyn clouds::CloudDriver>)
                        .map_err(|e| e.to_string())
                }),
                Err((_, problem)) => drivers.insert_unavailable(&local_clouds, &problem),
            }
        }
        let poll_interval = config
            .poll_interval
            .as_deref_option()
            .and_then(|text| parse_duration(text).ok())
            .unwrap_or(Duration::from_secs(1));
        tracing::info!(store = %store.path().display(), "provider configured");
        // Terraform configures a provider instance once; a second call keeps the first context.
        let _ = self.shared.0.set(Context {
            store,
            drivers,
            poll_interval,
            user_catalog,
        });
        Some(())
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(map! {
            "namespace" => NamespaceResource::new(self.shared.clone()),
            "mcis" => McisResource::new(self.shared.clone()),
            "vnet" => McirResource::<Vnet>::new(self.shared.clone()),
            "security_group" => McirResource::<SecurityGroup>::new(self.shared.clone()),
            "ssh_key" => McirResource::<SshKey>::new(self.shared.clone()),
            "command" => CommandResource::new(self.shared.clone()),
            "transfer" => TransferResource::new(self.shared.clone()),
        })
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(map! {
            "placement" => PlacementDataSource::new(self.shared.clone()),
        })
    }
}

fn simulator_block() -> Block {
    let fault = Block {
        version: 1,
        description: Description::markdown(
            "A fault to inject into the simulator, for testing failure handling.",
        ),
        attributes: map! {
            "kind" => required_string("`create_failure` (VM creation is refused), `status_error` (the status API errors) or `stuck` (VMs entering `phase` never leave it)."),
            "provider" => required_string("Cloud the fault applies to."),
            "region" => optional_string("Region the fault applies to; all regions of the cloud when left out."),
            "error" => optional_string("For `create_failure`: `capacity` (default) or `quota`."),
            "phase" => optional_string("For `stuck`: `creating`, `suspending`, `resuming`, `rebooting` or `terminating`."),
            "message" => optional_string("The error text; default: the cloud's own text for that error."),
        },
        ..Default::default()
    };
    Block {
        version: 1,
        description: Description::markdown(
            "Settings of the embedded multi-cloud simulator (the `sim` driver).",
        ),
        attributes: map! {
            "durations" => Attribute {
                attr_type: AttributeType::Map(AttributeType::Number.into()),
                description: Description::markdown("Seconds each transition (create, suspend, ...) takes, per cloud, e.g. `{ aws = 3, gcp = 0 }`. Default: 3 seconds."),
                constraint: AttributeConstraint::Optional,
                ..Default::default()
            },
        },
        blocks: map! {
            "fault" => NestedBlock::List(fault),
        },
        ..Default::default()
    }
}

fn local_block() -> Block {
    use clouds::local as defaults;
    let latency = Block {
        version: 1,
        description: Description::markdown(
            "A round-trip time added between the VMs of two local regions, so that regions stand \
             for near and far places; one block per pair of regions. Pairs not given, and VMs of \
             one region, get none. A user-space router on the host holds each packet between \
             the regions for half the time each way (the kernel may lack `netem`).",
        ),
        attributes: map! {
            "regions" => crate::schema::attribute(
                AttributeType::List(AttributeType::String.into()),
                AttributeConstraint::Required,
                "The two regions, e.g. `[\"seoul\", \"virginia\"]`."),
            "rtt_ms" => number(&format!(
                "Round-trip time in milliseconds, 1 to {}.", defaults::MAX_RTT_MS),
                AttributeConstraint::Required),
        },
        ..Default::default()
    };
    Block {
        version: 1,
        description: Description::markdown(
            "Settings of the `local` driver: real hosts on this machine, each VM a network \
             namespace with its own address on a bridge, its own `/root`, `/tmp` and `/srv`, and \
             an OpenSSH server. Needs root. `terraform-provider-tumblebug local cleanup` removes \
             what a crash left behind.",
        ),
        attributes: map! {
            "state_dir" => optional_string(&format!(
                "Where the driver keeps its records and the VMs' directories. Default `{}`.",
                defaults::DEFAULT_STATE_DIR)),
            "bandwidth_mbit" => number(&format!(
                "Each VM's link rate in Mbit/s, both directions (`tc tbf`); 0 = unlimited. \
                 Default {}.", defaults::DEFAULT_BANDWIDTH_MBIT), AttributeConstraint::Optional),
            "address_pool" => optional_string(&format!(
                "IPv4 range the vNets' subnets are carved from; must not overlap the host's \
                 networks. Default `{}`.", defaults::DEFAULT_ADDRESS_POOL)),
            "prefix" => optional_string(&format!(
                "Prefix of every namespace and interface the driver creates (1 to 5 lower-case \
                 letters or digits). Default `{}`.", defaults::DEFAULT_PREFIX)),
        },
        blocks: map! {
            "latency" => NestedBlock::List(latency),
        },
        ..Default::default()
    }
}

/// The `local` driver's configuration from the `local` block, or the attribute path and what is
/// wrong with it.
fn local_config(block: &LocalBlock) -> Result<clouds::local::LocalConfig, (AttributePath, String)> {
    let local = || AttributePath::new("local").index(0);
    let mut config = clouds::local::LocalConfig::default();
    if let Some(dir) = block.state_dir.as_deref_option() {
        config.state_dir = dir.into();
    }
    if let Some(rate) = block.bandwidth_mbit.as_ref_option() {
        config.bandwidth_mbit = u32::try_from(*rate).map_err(|_| {
            (
                local().attribute("bandwidth_mbit"),
                format!("bandwidth_mbit = {rate}: give Mbit/s, 0 or more."),
            )
        })?;
    }
    if let Some(pool) = block.address_pool.as_deref_option() {
        config.address_pool = pool.into();
    }
    if let Some(prefix) = block.prefix.as_deref_option() {
        config.prefix = prefix.into();
    }
    let latency_at = |i: usize, attribute: &'static str| {
        local()
            .attribute("latency")
            .index(i as i64)
            .attribute(attribute)
    };
    let blocks = block.latency.as_ref_option().map(Vec::as_slice);
    let mut all_known = true;
    for (i, entry) in blocks.unwrap_or_default().iter().enumerate() {
        let regions = entry.regions.as_ref_option().and_then(|list| {
            list.iter()
                .map(|region| region.as_deref_option().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
        });
        let (Some(regions), Some(&rtt)) = (regions, entry.rtt_ms.as_ref_option()) else {
            all_known = false;
            continue;
        };
        let regions: [String; 2] = regions.try_into().map_err(|given: Vec<String>| {
            let problem = format!("{given:?}: give exactly two regions.");
            (latency_at(i, "regions"), problem)
        })?;
        let whole = (rtt.0.fract() == 0.0 && rtt.0 >= 0.0 && rtt.0 <= f64::from(u32::MAX))
            .then_some(rtt.0 as u32);
        let rtt_ms = whole.ok_or_else(|| {
            let problem = format!(
                "{}: give whole milliseconds, 1 to {}.",
                rtt.0,
                clouds::local::MAX_RTT_MS
            );
            (latency_at(i, "rtt_ms"), problem)
        })?;
        config
            .latency
            .push(clouds::local::RegionLatency { regions, rtt_ms });
    }
    if !all_known {
        // Values Terraform does not know yet (during validation): checked once they are.
        config.latency.clear();
    }
    clouds::local::check_latency(&config.latency).map_err(|problem| {
        (
            latency_at(problem.entry, problem.attribute),
            problem.to_string(),
        )
    })?;
    // The provider runs its own binary as the delay router (see `cli`).
    if let Ok(program) = std::env::current_exe() {
        config.router_command = vec![
            program.to_string_lossy().into_owned(),
            "local".to_owned(),
            "delay-router".to_owned(),
        ];
    }
    config.validate().map_err(|problem| (local(), problem))?;
    Ok(config)
}

/// Every region and spec of the planner's catalog, as simulator regions: the simulator accepts
/// whatever the planner chooses.
fn sim_catalog(catalog: &planner::Catalog) -> clouds::sim::SimCatalog {
    let mut regions: BTreeMap<(&str, &str), clouds::sim::SimRegion> = BTreeMap::new();
    for offer in catalog.offers() {
        regions
            .entry((&offer.provider, &offer.region))
            .or_insert_with(|| clouds::sim::SimRegion {
                provider: offer.provider.clone(),
                region: offer.region.clone(),
                zones: Vec::new(),
                specs: Vec::new(),
            })
            .specs
            .push(offer.spec.clone());
    }
    clouds::sim::SimCatalog {
        regions: regions.into_values().collect(),
    }
}

/// The simulator's configuration from the `simulator` block, or the attribute path and problem.
fn sim_config(block: &SimulatorBlock) -> Result<clouds::sim::SimConfig, (AttributePath, String)> {
    let mut json = serde_json::Map::new();
    if let Value::Value(durations) = &block.durations {
        let mut map = serde_json::Map::new();
        for (cloud, seconds) in durations {
            if let Value::Value(Number(seconds)) = seconds {
                if *seconds < 0.0 || !seconds.is_finite() {
                    let path = AttributePath::new("simulator")
                        .index(0)
                        .attribute("durations")
                        .key(cloud.clone());
                    return Err((
                        path,
                        format!("{seconds} is not a duration: give seconds, 0 or more."),
                    ));
                }
                map.insert(cloud.clone(), serde_json::json!(seconds));
            }
        }
        json.insert("durations".into(), map.into());
    }
    let mut faults = Vec::new();
    for (i, fault) in block
        .fault
        .as_ref_option()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = |attr: &'static str| {
            AttributePath::new("simulator")
                .index(0)
                .attribute("fault")
                .index(i as i64)
                .attribute(attr)
        };
        let text = |v: &Value<String>| v.as_deref_option().map(str::to_owned);
        let kind = text(&fault.kind).unwrap_or_default();
        let value = match kind.as_str() {
            "create_failure" => {
                if fault.region.is_null() {
                    return Err((path("region"), "A create_failure fault needs the region it applies to.".into()));
                }
                serde_json::json!({ "type": "create_failure",
                    "provider": text(&fault.provider), "region": text(&fault.region),
                    "kind": text(&fault.error).unwrap_or_else(|| "capacity".into()), "message": text(&fault.message) })
            }
            "status_error" => serde_json::json!({ "type": "status_error",
                "provider": text(&fault.provider), "region": text(&fault.region), "message": text(&fault.message) }),
            "stuck" => serde_json::json!({ "type": "stuck",
                "provider": text(&fault.provider), "region": text(&fault.region), "phase": text(&fault.phase) }),
            other => return Err((path("kind"), format!("\"{other}\" is not a fault kind. Valid kinds: create_failure, status_error, stuck."))),
        };
        faults.push(value);
    }
    json.insert("faults".into(), faults.into());
    serde_json::from_value(json.into())
        .map_err(|err| (AttributePath::new("simulator"), format!("{err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(regions: &[&str], rtt_ms: f64) -> LatencyBlock {
        LatencyBlock {
            regions: Value::Value(
                regions
                    .iter()
                    .map(|r| Value::Value(r.to_string()))
                    .collect(),
            ),
            rtt_ms: Value::Value(Number(rtt_ms)),
        }
    }

    fn local_with(latency: Vec<LatencyBlock>) -> LocalBlock {
        LocalBlock {
            latency: Value::Value(latency),
            ..LocalBlock::default()
        }
    }

    #[test]
    fn latency_blocks_become_the_drivers_round_trip_times() {
        let config =
            local_config(&local_with(vec![latency(&["seoul", "virginia"], 180.0)])).unwrap();
        assert_eq!(
            config.latency,
            [clouds::local::RegionLatency {
                regions: ["seoul".into(), "virginia".into()],
                rtt_ms: 180,
            }]
        );
        assert_eq!(config.router_command[1..], ["local", "delay-router"]);
    }

    #[test]
    fn a_wrong_latency_block_is_reported_at_its_attribute() {
        let at = |i: i64, attribute: &'static str| {
            AttributePath::new("local")
                .index(0)
                .attribute("latency")
                .index(i)
                .attribute(attribute)
        };
        let rows = [
            (
                vec![latency(&["a"], 10.0)],
                at(0, "regions"),
                "give exactly two regions",
            ),
            (
                vec![latency(&["a", "b"], -1.0)],
                at(0, "rtt_ms"),
                "-1: give whole milliseconds",
            ),
            (
                vec![latency(&["a", "b"], 12.5)],
                at(0, "rtt_ms"),
                "12.5: give whole milliseconds",
            ),
            (
                vec![latency(&["a", "b"], 10.0), latency(&["b", "b"], 10.0)],
                at(1, "regions"),
                "two different regions",
            ),
            (
                vec![latency(&["a", "b"], 0.0)],
                at(0, "rtt_ms"),
                "latency[0].rtt_ms: 0 must be from 1",
            ),
            (
                vec![latency(&["a", "b"], 10.0), latency(&["b", "a"], 20.0)],
                at(1, "regions"),
                "already given by latency[0]",
            ),
        ];
        for (blocks, path, part) in rows {
            let (got_path, problem) = local_config(&local_with(blocks)).unwrap_err();
            assert_eq!(got_path, path, "{problem}");
            assert!(problem.contains(part), "{problem}");
        }
        // Values not known yet (during validation) are checked later.
        let unknown = LatencyBlock {
            regions: Value::Unknown,
            rtt_ms: Value::Value(Number(0.0)),
        };
        assert!(local_config(&local_with(vec![unknown, latency(&["a", "a"], 5.0)])).is_ok());
    }
}
