//! What an MCIS asks for: VM groups and a placement policy.
//!
//! The JSON form uses exactly the HCL names of the `vm_group` blocks and the `placement` block,
//! so the provider maps one onto the other field by field. Every field except a group's `name`
//! and `count` is optional.
//!
//! ```json
//! {
//!   "groups": [
//!     { "name": "web", "count": 4,
//!       "vcpu": { "min": 2, "max": 4 }, "memory_gib": { "min": 4 },
//!       "arch": "x86_64",
//!       "gpu": { "model": "T4", "count": 1 },
//!       "providers": ["aws", "gcp"], "deny_providers": [],
//!       "regions": ["us-east-1", "gcp-us-central1"], "deny_regions": [],
//!       "spot": false }
//!   ],
//!   "placement": {
//!     "objective": "cost",
//!     "weights": { "cost": 1, "latency": 0, "location": 0, "performance": 0 },
//!     "max_latency_ms": 40, "min_providers": 2, "min_regions": 3,
//!     "max_vms_per_region": 10,
//!     "near": { "latitude": 37.57, "longitude": 126.98, "max_distance_km": 3000 },
//!     "max_hourly_cost": 25.0
//!   }
//! }
//! ```
//!
//! `vm_group` is accepted as an alias of `groups`. Unknown fields are errors, so a typo never
//! silently drops a constraint.

use crate::catalog::{Arch, Offer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The whole request for one MCIS.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// The VM groups (`vm_group` blocks in HCL).
    #[serde(alias = "vm_group")]
    pub groups: Vec<GroupRequirements>,
    /// The `placement` block.
    #[serde(default)]
    pub placement: PlacementPolicy,
}

/// An inclusive range; a missing end is unbounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range<T> {
    /// Lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<T>,
    /// Upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<T>,
}

impl<T: PartialOrd + Copy> Range<T> {
    /// Whether `v` lies in the range.
    pub fn contains(&self, v: T) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }
    fn is_unbounded(&self) -> bool {
        self.min.is_none() && self.max.is_none()
    }
}

/// An accelerator request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuRequirement {
    /// Model name as the catalog spells it (`T4`, `A100`, `A100-80GB`, `L4`), compared without
    /// regard to case; any model when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Minimum accelerators per VM (default 1).
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// One VM group: `count` identical VMs (each may land on a different offer).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRequirements {
    /// Group name, unique within the MCIS.
    pub name: String,
    /// Number of VMs.
    pub count: u32,
    /// vCPUs per VM.
    #[serde(default, skip_serializing_if = "Range::is_unbounded")]
    pub vcpu: Range<u32>,
    /// Memory per VM in GiB.
    #[serde(default, skip_serializing_if = "Range::is_unbounded")]
    pub memory_gib: Range<f64>,
    /// CPU architecture; `x86_64` by default because images are architecture-specific and most
    /// are built for x86. Ask for `arm64` explicitly to get the (often cheapest) Arm offers.
    #[serde(default)]
    pub arch: Arch,
    /// Accelerators. Without this block, offers with accelerators are excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuRequirement>,
    /// Allowed providers (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<String>,
    /// Denied providers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_providers: Vec<String>,
    /// Allowed regions (all when empty): a bare name (`us-east-1`, any provider) or a
    /// `provider-region` key (`gcp-us-central1`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Denied regions, spelled as in `regions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_regions: Vec<String>,
    /// Whether VMs may be spot/preemptible where a spot price is known (then the spot price is
    /// what the objective sees).
    #[serde(default)]
    pub spot: bool,
}

/// What the placement optimises first. Ties are broken in the documented order of each variant;
/// the last tie-breaker is always the smallest sum of catalog ranks of the chosen offers
/// (catalog order is provider, region, spec), so names earlier in that order win.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Minimise total USD/hour; then the maximum RTT; then names.
    #[default]
    Cost,
    /// Minimise the maximum RTT between any two used regions; then cost; then names.
    Latency,
    /// Minimise the VMs' total great-circle distance to `near`; then cost; then the maximum
    /// RTT; then names.
    Location,
    /// Maximise the total performance score (unknown scores count 0) within `max_hourly_cost`;
    /// then cost; then the maximum RTT; then names.
    Performance,
    /// Minimise the weighted sum of normalised terms (see [`Weights`]); then cost; then the
    /// maximum RTT; then names.
    Weighted,
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Objective::Cost => "cost",
            Objective::Latency => "latency",
            Objective::Location => "location",
            Objective::Performance => "performance",
            Objective::Weighted => "weighted",
        })
    }
}

/// Weights of the `weighted` objective. Each term is normalised so that 1.0 means the same
/// thing whatever the catalog:
///
/// - cost: total USD/hour divided by the cheapest conceivable total (every VM on the cheapest
///   offer its group allows, ignoring spread and latency), so it is at least 1;
/// - latency: the maximum RTT between used regions divided by 100 ms (roughly one ocean);
/// - location: the mean great-circle distance of the VMs to `near` divided by 1,000 km;
/// - performance: minus the total performance score divided by the largest conceivable total
///   (every VM on its group's best-scored offer), so it lies in [-1, 0].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Weight of the cost term.
    #[serde(default)]
    pub cost: f64,
    /// Weight of the latency term.
    #[serde(default)]
    pub latency: f64,
    /// Weight of the location term (needs `near`).
    #[serde(default)]
    pub location: f64,
    /// Weight of the performance term.
    #[serde(default)]
    pub performance: f64,
}

/// A point the MCIS should stay close to.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Near {
    /// Latitude in decimal degrees.
    pub latitude: f64,
    /// Longitude in decimal degrees.
    pub longitude: f64,
    /// Every VM's region must lie within this great-circle distance (no limit when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_distance_km: Option<f64>,
}

/// The MCIS-wide `placement` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementPolicy {
    /// What to optimise (default `cost`).
    #[serde(default)]
    pub objective: Objective,
    /// Weights for `objective = "weighted"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weights>,
    /// Upper bound on the RTT between any two distinct regions that host VMs of the MCIS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<f64>,
    /// At least this many providers host VMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_providers: Option<u32>,
    /// At least this many regions host VMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_regions: Option<u32>,
    /// At most this many VMs (all groups together) per region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vms_per_region: Option<u32>,
    /// Reference point for `objective = "location"`, the location weight and the distance limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub near: Option<Near>,
    /// Upper bound on the total USD/hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_hourly_cost: Option<f64>,
}

impl Requirements {
    /// Parses the JSON form.
    pub fn from_json(s: &str) -> Result<Requirements, serde_json::Error> {
        serde_json::from_str(s)
    }

    /// Total VMs over all groups.
    pub fn total_vms(&self) -> u32 {
        self.groups.iter().map(|g| g.count).sum()
    }

    /// Checks the request on its own, without a catalog: every message names the field.
    pub fn validate(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.groups.is_empty() {
            e.push("at least one vm_group is required".to_string());
        }
        let mut names = std::collections::BTreeSet::new();
        for g in &self.groups {
            let n = &g.name;
            if n.is_empty() {
                e.push("a vm_group has an empty name".into());
            }
            if !names.insert(n.clone()) {
                e.push(format!("vm_group `{n}` is defined twice"));
            }
            if let (Some(a), Some(b)) = (g.vcpu.min, g.vcpu.max) {
                if a > b {
                    e.push(format!(
                        "vm_group `{n}`: vcpu.min = {a} exceeds vcpu.max = {b}"
                    ));
                }
            }
            if let (Some(a), Some(b)) = (g.memory_gib.min, g.memory_gib.max) {
                if a > b {
                    e.push(format!(
                        "vm_group `{n}`: memory_gib.min = {a} exceeds memory_gib.max = {b}"
                    ));
                }
            }
            for v in [g.memory_gib.min, g.memory_gib.max].into_iter().flatten() {
                if !v.is_finite() || v < 0.0 {
                    e.push(format!(
                        "vm_group `{n}`: memory_gib must be a non-negative number"
                    ));
                }
            }
            if let Some(gpu) = &g.gpu {
                if gpu.count == 0 {
                    e.push(format!("vm_group `{n}`: gpu.count must be at least 1 (omit the gpu block for none)"));
                }
            }
        }
        let p = &self.placement;
        if let Some(l) = p.max_latency_ms {
            if !(l.is_finite() && l >= 0.0) {
                e.push("placement.max_latency_ms must be a non-negative number".into());
            }
        }
        if let Some(c) = p.max_hourly_cost {
            if !(c.is_finite() && c >= 0.0) {
                e.push("placement.max_hourly_cost must be a non-negative number".into());
            }
        }
        if p.max_vms_per_region == Some(0) {
            e.push("placement.max_vms_per_region must be at least 1".into());
        }
        if let Some(nr) = &p.near {
            if !(-90.0..=90.0).contains(&nr.latitude) || !(-180.0..=180.0).contains(&nr.longitude) {
                e.push(
                    "placement.near: latitude must lie in [-90, 90] and longitude in [-180, 180]"
                        .into(),
                );
            }
            if let Some(d) = nr.max_distance_km {
                if !(d.is_finite() && d >= 0.0) {
                    e.push("placement.near.max_distance_km must be a non-negative number".into());
                }
            }
        }
        match p.objective {
            Objective::Location if p.near.is_none() => {
                e.push("placement.objective = \"location\" needs placement.near".into())
            }
            Objective::Weighted => match &p.weights {
                None => e.push("placement.objective = \"weighted\" needs placement.weights".into()),
                Some(w) => {
                    let all = [w.cost, w.latency, w.location, w.performance];
                    if all.iter().any(|x| !x.is_finite() || *x < 0.0) {
                        e.push("placement.weights must be non-negative numbers".into());
                    } else if all.iter().all(|x| *x == 0.0) {
                        e.push("placement.weights: at least one weight must be positive".into());
                    }
                    if w.location > 0.0 && p.near.is_none() {
                        e.push("placement.weights.location needs placement.near".into());
                    }
                }
            },
            _ => {}
        }
        if p.weights.is_some() && p.objective != Objective::Weighted {
            e.push(format!(
                "placement.weights is only read with objective = \"weighted\" (objective is \"{}\")",
                p.objective
            ));
        }
        e
    }
}

/// Why an offer does not fit a group, in the order the filters are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mismatch {
    /// Provider not allowed or denied.
    Provider,
    /// Region not allowed or denied.
    Region,
    /// Wrong CPU architecture.
    Arch,
    /// Accelerators missing, or present without a `gpu` block.
    Gpu,
    /// vCPUs out of range.
    Vcpu,
    /// Memory out of range.
    Memory,
}

impl Mismatch {
    /// The HCL field the mismatch is about.
    pub fn field(self) -> &'static str {
        match self {
            Mismatch::Provider => "providers/deny_providers",
            Mismatch::Region => "regions/deny_regions",
            Mismatch::Arch => "arch",
            Mismatch::Gpu => "gpu",
            Mismatch::Vcpu => "vcpu",
            Mismatch::Memory => "memory_gib",
        }
    }
    /// All filters, in checking order.
    pub const ALL: [Mismatch; 6] = [
        Mismatch::Provider,
        Mismatch::Region,
        Mismatch::Arch,
        Mismatch::Gpu,
        Mismatch::Vcpu,
        Mismatch::Memory,
    ];
}

fn region_matches(pattern: &str, o: &Offer) -> bool {
    let p = pattern.trim();
    p.eq_ignore_ascii_case(&o.region)
        || (p.len() == o.provider.len() + 1 + o.region.len()
            && p[..o.provider.len()].eq_ignore_ascii_case(&o.provider)
            && p.as_bytes()[o.provider.len()] == b'-'
            && p[o.provider.len() + 1..].eq_ignore_ascii_case(&o.region))
}

impl GroupRequirements {
    /// Whether one filter accepts the offer (group-level filters only; blocked offers, `near`
    /// and latency are the planner's business).
    pub fn passes(&self, f: Mismatch, o: &Offer) -> bool {
        match f {
            Mismatch::Provider => {
                (self.providers.is_empty()
                    || self
                        .providers
                        .iter()
                        .any(|p| p.eq_ignore_ascii_case(&o.provider)))
                    && !self
                        .deny_providers
                        .iter()
                        .any(|p| p.eq_ignore_ascii_case(&o.provider))
            }
            Mismatch::Region => {
                (self.regions.is_empty() || self.regions.iter().any(|r| region_matches(r, o)))
                    && !self.deny_regions.iter().any(|r| region_matches(r, o))
            }
            Mismatch::Arch => o.arch == self.arch,
            Mismatch::Gpu => match &self.gpu {
                None => o.gpu_count == 0,
                Some(g) => {
                    o.gpu_count >= g.count
                        && g.model.as_ref().is_none_or(|m| {
                            o.gpu_model
                                .as_ref()
                                .is_some_and(|om| om.eq_ignore_ascii_case(m))
                        })
                }
            },
            Mismatch::Vcpu => self.vcpu.contains(o.vcpu),
            // A small tolerance: sources print 0.6123046875 GiB or 3.75 as computed floats.
            Mismatch::Memory => {
                self.memory_gib.min.is_none_or(|m| o.memory_gib + 1e-6 >= m)
                    && self.memory_gib.max.is_none_or(|m| o.memory_gib - 1e-6 <= m)
            }
        }
    }

    /// The first filter that rejects the offer, or `None` if it fits.
    pub fn mismatch(&self, o: &Offer) -> Option<Mismatch> {
        Mismatch::ALL.into_iter().find(|&f| !self.passes(f, o))
    }

    /// Whether the offer fits the group (the numeric filters first: this runs for every
    /// offer of the catalog and every group).
    pub fn accepts(&self, o: &Offer) -> bool {
        [
            Mismatch::Arch,
            Mismatch::Vcpu,
            Mismatch::Memory,
            Mismatch::Gpu,
            Mismatch::Provider,
            Mismatch::Region,
        ]
        .into_iter()
        .all(|f| self.passes(f, o))
    }

    /// The price a VM of this group pays on the offer, and whether it is spot: the spot price
    /// when the group allows spot and it is known and lower.
    pub fn effective_price(&self, o: &Offer) -> (f64, bool) {
        match o.spot_usd_per_hour {
            Some(s) if self.spot && s < o.price_usd_per_hour => (s, true),
            _ => (o.price_usd_per_hour, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> Offer {
        Offer {
            provider: "aws".into(),
            region: "us-east-1".into(),
            spec: "m5.large".into(),
            vcpu: 2,
            memory_gib: 8.0,
            arch: Arch::X86_64,
            gpu_model: None,
            gpu_count: 0,
            price_usd_per_hour: 0.096,
            spot_usd_per_hour: Some(0.03),
            performance: None,
        }
    }

    fn group(json: &str) -> GroupRequirements {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn filters_accept_and_reject_for_the_right_reason() {
        let o = offer();
        let cases = [
            (r#"{"name":"a","count":1}"#, None),
            (r#"{"name":"a","count":1,"providers":["AWS"]}"#, None),
            (
                r#"{"name":"a","count":1,"deny_providers":["aws"]}"#,
                Some(Mismatch::Provider),
            ),
            (
                r#"{"name":"a","count":1,"regions":["aws-us-east-1"]}"#,
                None,
            ),
            (r#"{"name":"a","count":1,"regions":["us-east-1"]}"#, None),
            (
                r#"{"name":"a","count":1,"regions":["gcp-us-east-1"]}"#,
                Some(Mismatch::Region),
            ),
            (
                r#"{"name":"a","count":1,"deny_regions":["us-east-1"]}"#,
                Some(Mismatch::Region),
            ),
            (
                r#"{"name":"a","count":1,"arch":"arm64"}"#,
                Some(Mismatch::Arch),
            ),
            (r#"{"name":"a","count":1,"gpu":{}}"#, Some(Mismatch::Gpu)),
            (
                r#"{"name":"a","count":1,"vcpu":{"min":4}}"#,
                Some(Mismatch::Vcpu),
            ),
            (
                r#"{"name":"a","count":1,"vcpu":{"max":1}}"#,
                Some(Mismatch::Vcpu),
            ),
            (
                r#"{"name":"a","count":1,"memory_gib":{"min":8,"max":8}}"#,
                None,
            ),
            (
                r#"{"name":"a","count":1,"memory_gib":{"min":8.5}}"#,
                Some(Mismatch::Memory),
            ),
        ];
        for (json, want) in cases {
            let g = group(json);
            assert_eq!(g.mismatch(&o), want, "{json}");
            assert_eq!(g.accepts(&o), want.is_none(), "{json}");
        }
        let mut gpu = offer();
        gpu.gpu_model = Some("T4".into());
        gpu.gpu_count = 1;
        assert!(group(r#"{"name":"a","count":1,"gpu":{"model":"t4"}}"#).accepts(&gpu));
        assert!(!group(r#"{"name":"a","count":1,"gpu":{"model":"t4","count":2}}"#).accepts(&gpu));
        assert!(!group(r#"{"name":"a","count":1,"gpu":{"model":"A100"}}"#).accepts(&gpu));
        assert!(
            !group(r#"{"name":"a","count":1}"#).accepts(&gpu),
            "no gpu block, no GPU offers"
        );
    }

    #[test]
    fn spot_price_only_when_allowed_and_cheaper() {
        let o = offer();
        assert_eq!(
            group(r#"{"name":"a","count":1}"#).effective_price(&o),
            (0.096, false)
        );
        assert_eq!(
            group(r#"{"name":"a","count":1,"spot":true}"#).effective_price(&o),
            (0.03, true)
        );
        let mut dear = offer();
        dear.spot_usd_per_hour = Some(0.2);
        assert_eq!(
            group(r#"{"name":"a","count":1,"spot":true}"#).effective_price(&dear),
            (0.096, false)
        );
    }

    #[test]
    fn validation_names_the_field() {
        let bad = [
            (r#"{"groups":[]}"#, "at least one vm_group"),
            (
                r#"{"groups":[{"name":"a","count":1},{"name":"a","count":1}]}"#,
                "defined twice",
            ),
            (
                r#"{"groups":[{"name":"a","count":1,"vcpu":{"min":4,"max":2}}]}"#,
                "vcpu.min = 4 exceeds vcpu.max = 2",
            ),
            (
                r#"{"groups":[{"name":"a","count":1,"gpu":{"count":0}}]}"#,
                "gpu.count",
            ),
            (
                r#"{"groups":[{"name":"a","count":1}],"placement":{"objective":"location"}}"#,
                "needs placement.near",
            ),
            (
                r#"{"groups":[{"name":"a","count":1}],"placement":{"objective":"weighted"}}"#,
                "needs placement.weights",
            ),
            (
                r#"{"groups":[{"name":"a","count":1}],"placement":{"objective":"weighted","weights":{}}}"#,
                "at least one weight",
            ),
            (
                r#"{"groups":[{"name":"a","count":1}],"placement":{"weights":{"cost":1}}}"#,
                "only read with objective",
            ),
            (
                r#"{"groups":[{"name":"a","count":1}],"placement":{"max_vms_per_region":0}}"#,
                "max_vms_per_region",
            ),
            (
                r#"{"groups":[{"name":"a","count":1}],"placement":{"near":{"latitude":91,"longitude":0}}}"#,
                "latitude",
            ),
            (
                r#"{"groups":[{"name":"a","count":1}],"placement":{"max_latency_ms":-1}}"#,
                "max_latency_ms",
            ),
        ];
        for (json, want) in bad {
            let r = Requirements::from_json(json).unwrap();
            let errs = r.validate();
            assert!(errs.iter().any(|e| e.contains(want)), "{json}: {errs:?}");
        }
        let good = Requirements::from_json(
            r#"{"groups":[{"name":"a","count":1}],"placement":{"objective":"weighted","weights":{"cost":1,"latency":1}}}"#,
        )
        .unwrap();
        assert!(good.validate().is_empty());
    }
}
