//! The planner's requirements in HCL, shared by the `tumblebug_placement` data source and the
//! `vm_group` / `placement` blocks of `tumblebug_mcis`. The HCL names are the planner's JSON
//! names (`planner::Requirements`), so the conversion builds that JSON and lets the planner's own
//! parser check it: one definition of the request, one set of messages.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock,
};
use tf_provider::value::Value;
use tf_provider::{map, AttributePath, Diagnostics};

use crate::number::Number;
use crate::schema::{attribute, number, optional_string};

/// The `requirements` block of a VM group: what its VMs need, for the planner to choose
/// provider, region and spec.
pub fn requirements_block() -> NestedBlock {
    NestedBlock::Optional(Block {
        version: 1,
        description: Description::markdown(
            "What each VM of the group needs; the planner chooses provider, region and spec \
             (possibly different ones per VM) to satisfy it and the `placement` block. Every \
             attribute is optional.",
        ),
        attributes: requirement_attributes(),
        ..Default::default()
    })
}

fn requirement_attributes() -> HashMap<String, Attribute> {
    let typed = |attr_type: AttributeType, description: &str| {
        attribute(attr_type, AttributeConstraint::Optional, description)
    };
    let numbers = || AttributeType::Map(AttributeType::Number.into());
    let strings = || AttributeType::List(AttributeType::String.into());
    map! {
        "vcpu" => typed(numbers(), "vCPUs per VM as `{ min = 2, max = 8 }` (either end may be left out)."),
        "memory_gib" => typed(numbers(), "Memory per VM in GiB as `{ min = 4, max = 32 }` (either end may be left out)."),
        "arch" => optional_string("CPU architecture, `x86_64` (default) or `arm64`: images are architecture-specific, so Arm (often the cheapest) is only chosen when asked for."),
        "gpu" => typed(AttributeType::Map(AttributeType::String.into()), "Accelerators per VM as `{ model = \"T4\", count = 1 }` (any model when `model` is left out). Without it, offers with accelerators are excluded."),
        "providers" => typed(strings(), "Allowed clouds, e.g. `[\"aws\", \"gcp\"]`; all when left out."),
        "deny_providers" => typed(strings(), "Clouds never to use."),
        "regions" => typed(strings(), "Allowed regions: a bare name (`us-east-1`, any cloud) or `<cloud>-<region>` (`gcp-us-central1`); all when left out."),
        "deny_regions" => typed(strings(), "Regions never to use, spelled as in `regions`."),
        "spot" => typed(AttributeType::Bool, "Whether VMs may be spot/preemptible where a spot price is known (then that price counts). Default false."),
    }
}

/// The `placement` block: what to optimise and the MCIS-wide constraints.
pub fn placement_block() -> NestedBlock {
    let near = Block {
        version: 1,
        description: Description::markdown("A point the VMs should stay close to."),
        attributes: map! {
            "latitude" => number("Latitude in decimal degrees (-90 to 90).", AttributeConstraint::Required),
            "longitude" => number("Longitude in decimal degrees (-180 to 180).", AttributeConstraint::Required),
            "max_distance_km" => number("Every VM's region must lie within this great-circle distance.", AttributeConstraint::Optional),
        },
        ..Default::default()
    };
    NestedBlock::Optional(Block {
        version: 1,
        description: Description::markdown(
            "How the planner places the VM groups that give requirements instead of a fixed \
             provider, region and spec: jointly, optimally, within every constraint.",
        ),
        attributes: map! {
            "objective" => optional_string(
                "`cost` (default: minimise USD/hour; ties: lower maximum RTT, then provider, \
                 region, spec names), `latency` (minimise the maximum RTT between used regions, \
                 then cost), `location` (minimise the total distance to `near`, then cost), \
                 `performance` (maximise the total performance score within `max_hourly_cost`, \
                 then cost) or `weighted` (see `weights`)."),
            "weights" => Attribute {
                attr_type: AttributeType::Map(AttributeType::Number.into()),
                description: Description::markdown(
                    "For `objective = \"weighted\"`: weights of `cost` (USD/hour over the cheapest \
                     conceivable total), `latency` (maximum RTT over 100 ms), `location` (mean \
                     distance to `near` over 1000 km) and `performance` (minus the total score \
                     over the best conceivable)."),
                constraint: AttributeConstraint::Optional,
                ..Default::default()
            },
            "max_latency_ms" => number("Upper bound on the RTT between any two distinct regions that host VMs of the MCIS.", AttributeConstraint::Optional),
            "min_providers" => number("At least this many clouds host VMs.", AttributeConstraint::Optional),
            "min_regions" => number("At least this many regions host VMs.", AttributeConstraint::Optional),
            "max_vms_per_region" => number("At most this many VMs (all groups together) in one region.", AttributeConstraint::Optional),
            "max_hourly_cost" => number("Upper bound on the total USD/hour.", AttributeConstraint::Optional),
        },
        blocks: map! {
            "near" => NestedBlock::Optional(near),
        },
        ..Default::default()
    })
}

/// The `placement` block as state holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlacementBlock {
    pub objective: Value<String>,
    pub weights: Value<BTreeMap<String, Value<Number>>>,
    pub max_latency_ms: Value<Number>,
    pub min_providers: Value<i64>,
    pub min_regions: Value<i64>,
    pub max_vms_per_region: Value<i64>,
    pub max_hourly_cost: Value<Number>,
    #[serde(with = "tf_provider::value::serde_as_vec")]
    pub near: Value<NearBlock>,
}

/// The `near` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NearBlock {
    pub latitude: Value<Number>,
    pub longitude: Value<Number>,
    pub max_distance_km: Value<Number>,
}

/// The `requirements` block of one group, as state holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupRequirementFields {
    pub vcpu: Value<BTreeMap<String, Value<Number>>>,
    pub memory_gib: Value<BTreeMap<String, Value<Number>>>,
    pub arch: Value<String>,
    pub gpu: Value<BTreeMap<String, Value<String>>>,
    pub providers: Value<Vec<Value<String>>>,
    pub deny_providers: Value<Vec<Value<String>>>,
    pub regions: Value<Vec<Value<String>>>,
    pub deny_regions: Value<Vec<Value<String>>>,
    pub spot: Value<bool>,
}

/// A value not known until apply: the request cannot be planned yet.
#[derive(Debug)]
pub struct Unknown;

/// `Some(json)` for a known value, `None` for null, `Err` for unknown.
fn known<T, F: FnOnce(&T) -> Result<Json, Unknown>>(
    v: &Value<T>,
    f: F,
) -> Result<Option<Json>, Unknown> {
    match v {
        Value::Value(x) => f(x).map(Some),
        Value::Null => Ok(None),
        Value::Unknown => Err(Unknown),
    }
}

/// A number as JSON: whole numbers as integers, which the planner's integer fields (`vcpu`)
/// require; Terraform hands every number over as a float.
fn number_json(x: f64) -> Json {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

fn map_json(m: &BTreeMap<String, Value<Number>>) -> Result<Json, Unknown> {
    let mut out = Map::new();
    for (k, v) in m {
        if let Some(x) = known(v, |x: &Number| Ok(number_json(x.0)))? {
            out.insert(k.clone(), x);
        }
    }
    Ok(Json::Object(out))
}

fn list_json(l: &[Value<String>]) -> Result<Json, Unknown> {
    let mut out = Vec::new();
    for v in l {
        if let Some(x) = known(v, |s: &String| Ok(json!(s)))? {
            out.push(x);
        }
    }
    Ok(Json::Array(out))
}

impl GroupRequirementFields {
    /// The planner's JSON for a group called `name` of `count` VMs.
    pub fn to_json(&self, name: &str, count: i64) -> Result<Json, Unknown> {
        let mut group = Map::new();
        group.insert("name".into(), json!(name));
        group.insert("count".into(), json!(count));
        let fields = [
            ("vcpu", known(&self.vcpu, map_json)?),
            ("memory_gib", known(&self.memory_gib, map_json)?),
            ("arch", known(&self.arch, |s| Ok(json!(s)))?),
            (
                "gpu",
                known(&self.gpu, |m| {
                    let mut out = Map::new();
                    for (k, v) in m {
                        if let Some(x) = known(v, |s: &String| {
                            // The count arrives as text (a map of strings); the planner wants a number.
                            Ok(s.parse::<u32>()
                                .map(|n| json!(n))
                                .unwrap_or_else(|_| json!(s)))
                        })? {
                            out.insert(k.clone(), x);
                        }
                    }
                    Ok(Json::Object(out))
                })?,
            ),
            ("providers", known(&self.providers, |l| list_json(l))?),
            (
                "deny_providers",
                known(&self.deny_providers, |l| list_json(l))?,
            ),
            ("regions", known(&self.regions, |l| list_json(l))?),
            ("deny_regions", known(&self.deny_regions, |l| list_json(l))?),
            ("spot", known(&self.spot, |b| Ok(json!(b)))?),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                group.insert(name.into(), value);
            }
        }
        Ok(Json::Object(group))
    }
}

impl PlacementBlock {
    /// The planner's JSON of the block.
    pub fn to_json(&self) -> Result<Json, Unknown> {
        let mut out = Map::new();
        let fields = [
            ("objective", known(&self.objective, |s| Ok(json!(s)))?),
            ("weights", known(&self.weights, map_json)?),
            (
                "max_latency_ms",
                known(&self.max_latency_ms, |x| Ok(json!(x)))?,
            ),
            (
                "min_providers",
                known(&self.min_providers, |x| Ok(json!(x)))?,
            ),
            ("min_regions", known(&self.min_regions, |x| Ok(json!(x)))?),
            (
                "max_vms_per_region",
                known(&self.max_vms_per_region, |x| Ok(json!(x)))?,
            ),
            (
                "max_hourly_cost",
                known(&self.max_hourly_cost, |x| Ok(json!(x)))?,
            ),
            (
                "near",
                known(&self.near, |n| {
                    let mut near = Map::new();
                    for (k, v) in [
                        ("latitude", &n.latitude),
                        ("longitude", &n.longitude),
                        ("max_distance_km", &n.max_distance_km),
                    ] {
                        if let Some(x) = known(v, |x| Ok(json!(x)))? {
                            near.insert(k.into(), x);
                        }
                    }
                    Ok(Json::Object(near))
                })?,
            ),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                out.insert(name.into(), value);
            }
        }
        Ok(Json::Object(out))
    }
}

/// The `placement` block in the planner's JSON (`{}` when there is none).
pub fn policy_json(placement: &Value<PlacementBlock>) -> Result<Json, Unknown> {
    match placement {
        Value::Value(block) => block.to_json(),
        Value::Null => Ok(json!({})),
        Value::Unknown => Err(Unknown),
    }
}

/// The planner's request from groups' JSON and the placement block; `Ok(None)` while a value is
/// unknown, `Err` with the problems (each naming its field) when the request is invalid.
pub fn requirements(
    groups: Vec<Json>,
    placement: &Value<PlacementBlock>,
) -> Result<Option<planner::Requirements>, Vec<String>> {
    match policy_json(placement) {
        Ok(policy) => request(groups, policy).map(Some),
        Err(Unknown) => Ok(None),
    }
}

/// The planner's request from groups' JSON and the policy's JSON, checked by the planner's own
/// parser and `validate` (each problem names its field).
pub fn request(groups: Vec<Json>, policy: Json) -> Result<planner::Requirements, Vec<String>> {
    let request = json!({ "groups": groups, "placement": policy });
    let parsed: planner::Requirements =
        serde_json::from_value(request).map_err(|e| vec![e.to_string()])?;
    let problems = parsed.validate();
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(problems)
    }
}

/// The fields of each entry of `vms` (and of `tumblebug_mcis.planned_vms`).
pub fn placed_vm_type() -> AttributeType {
    AttributeType::Object(map! {
        "group" => AttributeType::String,
        "index" => AttributeType::Number,
        "provider" => AttributeType::String,
        "region" => AttributeType::String,
        "spec" => AttributeType::String,
        "price_usd_per_hour" => AttributeType::Number,
        "spot" => AttributeType::Bool,
    })
}

/// One placed VM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlacedVmState {
    pub group: Value<String>,
    pub index: Value<i64>,
    pub provider: Value<String>,
    pub region: Value<String>,
    pub spec: Value<String>,
    pub price_usd_per_hour: Value<Number>,
    pub spot: Value<bool>,
}

impl From<&crate::mcis::plan::PlacedVm> for PlacedVmState {
    fn from(vm: &crate::mcis::plan::PlacedVm) -> Self {
        PlacedVmState {
            group: Value::Value(vm.group.clone()),
            index: Value::Value(vm.index.into()),
            provider: Value::Value(vm.place.provider.clone()),
            region: Value::Value(vm.place.region.clone()),
            spec: Value::Value(vm.place.spec.clone()),
            price_usd_per_hour: vm.price_usd_per_hour.map(Number).into(),
            spot: Value::Value(vm.place.spot),
        }
    }
}

/// Reports request problems as errors on `path`.
pub fn report(diags: &mut Diagnostics, path: AttributePath, problems: &[String]) {
    for problem in problems {
        diags.error(
            "Invalid placement requirements",
            format!("{problem}.\n\nSee the `vm_group` requirement attributes and the `placement` block in the docs."),
            path.clone(),
        );
    }
}

/// Reports an infeasible request: the conflicting constraints and the nearest feasible
/// relaxation, as the planner diagnosed them.
/// `kept` says that VMs already placed were held where they are (`tumblebug_mcis`).
pub fn report_infeasible(diags: &mut Diagnostics, infeasible: &planner::Infeasible, kept: bool) {
    let kept = if kept {
        "\nVMs placed earlier were kept where they are; change `replan_trigger` to let the planner move them."
    } else {
        ""
    };
    diags.root_error(
        "No placement satisfies the requirements",
        format!("{infeasible}\nRelax one of the constraints above (the nearest feasible values are given), or widen the groups' allowed clouds and regions.{kept}"),
    );
}
