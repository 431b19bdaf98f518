//! The joint placement: [`plan`] turns requirements and a catalog into a [`Placement`].
//!
//! # Model
//!
//! Offers are first reduced to what can be optimal: per (group, region) only the cheapest offer
//! that fits the group (the Pareto front of price and performance when performance matters),
//! after dropping blocked offers, regions beyond `near.max_distance_km` and regions too far from
//! pinned VMs. Over these candidates the ILP (built with `good_lp`) has integer counts per
//! (group, offer), region and provider binaries with the "used means used" link, the spread,
//! per-region and cost rows, and the latency bound in clique form over the compatibility graph
//! (`petgraph`; Bron-Kerbosch with a cap, pairwise conflict rows past it).
//!
//! # Stages
//!
//! The objective is optimised lexicographically, one stage per criterion (the order of each
//! objective is documented on [`crate::requirements::Objective`]); every stage keeps the optimum
//! of the earlier ones as a bound and prunes candidates that cannot meet it.
//!
//! - A linear criterion (cost, distance, performance, the weighted sum) is minimised exactly:
//!   one ILP when no pair of live regions conflicts, otherwise one small ILP per maximal clique
//!   (every feasible placement lies inside one), visited in order of a combinatorial lower bound
//!   and stopped when the bound cannot beat the incumbent. A greedy fill that meets a bound
//!   proves that part without an ILP.
//! - The maximum RTT is found by a search over the distinct RTT values between live regions;
//!   as a tie-break, the first probe is just below the current maximum.
//! - The weighted objective with a latency weight is an epsilon-constraint scan over decreasing
//!   latency bounds, stopped when the linear part alone cannot beat the incumbent.
//! - Names come last as a canonical form: VMs move to the offer earliest in catalog order among
//!   those equal on every earlier criterion, as long as every constraint holds.
//!
//! `optimal` reports whether the first (primary) stage was proven; the explanation's solver
//! report says whether every tie-break finished within the time limit.

pub(crate) mod cliques;
pub(crate) mod greedy;
pub(crate) mod ilp;
pub(crate) mod problem;
pub(crate) mod stages;

use crate::catalog::{Catalog, RegionKey};
use crate::diagnose::{self, Infeasible};
use crate::explain::{self, Explanation};
use crate::requirements::{Objective, Requirements};
use problem::{Limits, Problem};
use serde::{Deserialize, Serialize};
use stages::weighted_refs;
pub(crate) use stages::{min_max_rtt, run_stages, solve_once, RunError, RunResult};
use std::time::{Duration, Instant};

/// The MILP backend behind `good_lp`. Only `microlp` (pure Rust) is in the default build;
/// the `highs` and `coin_cbc` cargo features add the others (see `docs/benchmarks/planner.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// microlp: pure Rust, builds in seconds.
    #[default]
    Microlp,
    /// HiGHS (feature `highs`; needs cmake and libclang, about 10 minutes to build).
    #[cfg(feature = "highs")]
    Highs,
    /// COIN-OR CBC (feature `coin_cbc`; needs `coinor-libcbc-dev` at build and run time).
    #[cfg(feature = "coin_cbc")]
    Cbc,
}

impl Backend {
    /// Backends compiled into this build.
    pub fn available() -> Vec<Backend> {
        vec![
            Backend::Microlp,
            #[cfg(feature = "highs")]
            Backend::Highs,
            #[cfg(feature = "coin_cbc")]
            Backend::Cbc,
        ]
    }
    /// Parses a backend name as used by the CLI.
    pub fn parse(s: &str) -> Option<Backend> {
        Backend::available().into_iter().find(|b| b.name() == s)
    }
    /// The backend's name.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Microlp => "microlp",
            #[cfg(feature = "highs")]
            Backend::Highs => "highs",
            #[cfg(feature = "coin_cbc")]
            Backend::Cbc => "cbc",
        }
    }
}

/// How linear stages are solved. Both are exact; the default is much faster on large catalogs
/// with a latency bound, the other exists to compare MILP backends on one full model per stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Per maximal clique of the latency graph, ordered by a lower bound, with greedy proofs
    /// where the greedy fill meets the bound (see the module docs).
    #[default]
    Decomposed,
    /// One ILP per stage with the latency bound in clique form (pairwise past the cap), warm
    /// started by the greedy heuristic.
    Monolithic,
}

/// Offers the cloud refused (capacity, quota): a provider, optionally narrowed to a region and
/// a spec. Blocked offers are never chosen for new VMs; pinned VMs on them stay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockedOffer {
    /// Provider.
    pub provider: String,
    /// Region (all regions of the provider when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Spec (all specs when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
}

impl BlockedOffer {
    /// Blocks one offer.
    pub fn offer(provider: &str, region: &str, spec: &str) -> BlockedOffer {
        BlockedOffer {
            provider: provider.into(),
            region: Some(region.into()),
            spec: Some(spec.into()),
        }
    }
    /// Whether the rule covers the offer.
    pub fn matches(&self, provider: &str, region: &str, spec: &str) -> bool {
        self.provider.eq_ignore_ascii_case(provider)
            && self.region.as_deref().is_none_or(|r| r == region)
            && self.spec.as_deref().is_none_or(|s| s == spec)
    }
}

/// A VM that exists and stays where it is ("keep these VMs"): it counts toward its group's
/// `count` and toward every MCIS constraint (regions, providers, latency, per-region limit,
/// cost), so a re-plan only places the missing VMs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedVm {
    /// Group name.
    pub group: String,
    /// Index within the group (`0..count`).
    pub index: u32,
    /// Provider.
    pub provider: String,
    /// Region.
    pub region: String,
    /// Spec.
    pub spec: String,
    /// Whether it runs as spot.
    #[serde(default)]
    pub spot: bool,
    /// Its price; taken from the catalog when absent (then the offer must be in the catalog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_usd_per_hour: Option<f64>,
}

/// Options of one [`plan`] call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlanOptions {
    /// Offers not to use for new VMs (failover).
    pub blocked: Vec<BlockedOffer>,
    /// VMs to keep.
    pub pinned: Vec<PinnedVm>,
    /// Wall-clock budget for the whole plan; on expiry the best placement found so far is
    /// returned with `optimal = false` and its gap.
    #[serde(with = "secs")]
    pub time_limit: Duration,
    /// MILP backend.
    pub backend: Backend,
    /// Solution strategy (benchmarks compare them; the default is the fast one).
    pub strategy: Strategy,
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            blocked: Vec::new(),
            pinned: Vec::new(),
            time_limit: Duration::from_secs(10),
            backend: Backend::Microlp,
            strategy: Strategy::Decomposed,
        }
    }
}

/// One VM of the placement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlacedVm {
    /// Group name.
    pub group: String,
    /// Index within the group.
    pub index: u32,
    /// Provider.
    pub provider: String,
    /// Region.
    pub region: String,
    /// Spec.
    pub spec: String,
    /// USD/hour this VM costs (the spot price when `spot`).
    pub price_usd_per_hour: f64,
    /// Whether it runs as spot.
    pub spot: bool,
    /// Whether it was pinned by the caller (kept where it is).
    pub pinned: bool,
}

impl PlacedVm {
    /// The VM's region key.
    pub fn region_key(&self) -> RegionKey {
        RegionKey::new(&self.provider, &self.region)
    }
}

/// The result of [`plan`]: where every VM goes, what it costs, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// All VMs (pinned and new), by group order of the request, then index.
    pub vms: Vec<PlacedVm>,
    /// Total USD/hour.
    pub hourly_cost: f64,
    /// Largest RTT between two distinct used regions (`None` with a single region).
    pub max_rtt_ms: Option<f64>,
    /// The pair of regions that sets `max_rtt_ms`.
    pub max_rtt_pair: Option<(RegionKey, RegionKey)>,
    /// Whether `max_rtt_ms` is an estimate (no measurement for that pair).
    pub max_rtt_estimated: bool,
    /// The objective that was optimised.
    pub objective: Objective,
    /// Value of the primary objective, in its unit: USD/hour (cost), ms (latency), km
    /// (location: total over VMs), score (performance: total), or the weighted sum.
    pub objective_value: f64,
    /// Best proven bound on `objective_value` (a lower bound; for `performance`, which is
    /// maximised, an upper bound).
    pub lower_bound: f64,
    /// Relative gap `|value - bound| / max(|value|, 1e-9)`; 0 when proven.
    pub gap: f64,
    /// `true` if and only if the primary objective was proven optimal.
    pub optimal: bool,
    /// Why this placement.
    pub explanation: Explanation,
}

/// Places every VM group of the MCIS jointly and optimally (see the module docs).
///
/// Deterministic: the same requirements, catalog and options give the same placement, byte for
/// byte (model construction follows catalog order and the backends are single-threaded).
/// When the time limit stops a search, the best placement found is returned with
/// `optimal = false`; an `Err` is a proven infeasibility (with its diagnosis), an invalid request,
/// or a time limit hit before any placement was found.
pub fn plan(
    req: &Requirements,
    catalog: &Catalog,
    opts: &PlanOptions,
) -> Result<Placement, Infeasible> {
    let start = Instant::now();
    let errors = req.validate();
    if !errors.is_empty() {
        return Err(Infeasible::invalid(errors));
    }
    let p = Problem::build(req, catalog, opts, Limits::of(req)).map_err(Infeasible::invalid)?;
    let deadline = start + opts.time_limit;
    let trace = std::env::var_os("PLANNER_TRACE").is_some();
    if trace {
        eprintln!(
            "[planner] problem built in {:.2} ms: {} candidates, {} regions",
            start.elapsed().as_secs_f64() * 1e3,
            p.cands.len(),
            p.regions.len()
        );
    }
    match run_stages(&p, deadline, opts.backend, opts.strategy) {
        Ok(r) => {
            if trace {
                eprintln!(
                    "[planner] stages done at {:.2} ms",
                    start.elapsed().as_secs_f64() * 1e3
                );
            }
            let out = finish(&p, r);
            if trace {
                eprintln!(
                    "[planner] explained at {:.2} ms",
                    start.elapsed().as_secs_f64() * 1e3
                );
            }
            Ok(out)
        }
        Err(RunError::Infeasible) => Err(diagnose::diagnose(req, catalog, opts)),
        Err(RunError::TimedOut) => Err(Infeasible::timed_out(opts.time_limit)),
        Err(RunError::Failed(e)) => Err(Infeasible::solver_failed(e)),
    }
}

fn finish(p: &Problem, r: RunResult) -> Placement {
    let req = p.req;
    let cat = p.cat;
    let mut vms = Vec::new();
    for (g, grp) in req.groups.iter().enumerate() {
        let pinned: Vec<&problem::Pin> = p.pins.iter().filter(|x| x.g == g).collect();
        let mut free_idx = (0..grp.count).filter(|i| !pinned.iter().any(|x| x.index == *i));
        let mut group_vms: Vec<PlacedVm> = pinned
            .iter()
            .map(|x| PlacedVm {
                group: grp.name.clone(),
                index: x.index,
                provider: x.provider.clone(),
                region: x.region_name.clone(),
                spec: x.spec.clone(),
                price_usd_per_hour: x.price,
                spot: x.spot,
                pinned: true,
            })
            .collect();
        for (k, c) in p.cands.iter().enumerate() {
            if c.g != g {
                continue;
            }
            let o = &cat.offers()[c.offer];
            for _ in 0..r.counts[k] {
                group_vms.push(PlacedVm {
                    group: grp.name.clone(),
                    index: free_idx.next().expect("counts match the group's free VMs"),
                    provider: o.provider.clone(),
                    region: o.region.clone(),
                    spec: o.spec.clone(),
                    price_usd_per_hour: c.price,
                    spot: c.spot,
                    pinned: false,
                });
            }
        }
        group_vms.sort_by_key(|v| v.index);
        vms.extend(group_vms);
    }
    let hourly_cost: f64 = vms.iter().map(|v| v.price_usd_per_hour).sum();
    let mx = p.max_rtt(&r.counts);
    let (max_rtt_ms, max_rtt_pair, max_rtt_estimated) = match mx {
        Some((ms, a, b)) => {
            let n = p.regions.len();
            (
                Some(ms),
                Some((
                    cat.regions()[p.regions[a].cat].key(),
                    cat.regions()[p.regions[b].cat].key(),
                )),
                p.rtt_est[a * n + b],
            )
        }
        None => (None, None, false),
    };
    let objective = req.placement.objective;
    let (objective_value, lower_bound) = match objective {
        Objective::Cost => (
            r.first_value + p.pinned_cost(),
            r.first_bound + p.pinned_cost(),
        ),
        Objective::Latency => (r.first_value, r.first_bound),
        Objective::Location => (
            r.first_value + p.pinned_dist(),
            r.first_bound + p.pinned_dist(),
        ),
        Objective::Performance => (
            -r.first_value + p.pinned_perf(),
            -r.first_bound + p.pinned_perf(),
        ),
        Objective::Weighted => {
            let c = pinned_weighted_constant(p);
            (r.first_value + c, r.first_bound + c)
        }
    };
    let gap = if r.proven {
        0.0
    } else {
        (objective_value - lower_bound).abs() / objective_value.abs().max(1e-9)
    };
    let explanation = explain::explain(p, &r, &vms, hourly_cost, mx);
    Placement {
        vms,
        hourly_cost,
        max_rtt_ms,
        max_rtt_pair,
        max_rtt_estimated,
        objective,
        objective_value,
        lower_bound: if r.proven {
            objective_value
        } else {
            lower_bound
        },
        gap,
        optimal: r.proven,
        explanation,
    }
}

fn pinned_weighted_constant(p: &Problem) -> f64 {
    let w = p.req.placement.weights.unwrap_or_default();
    let (cref, pref) = weighted_refs(p);
    let n_total = p.req.total_vms().max(1) as f64;
    p.pins
        .iter()
        .map(|x| {
            w.cost * x.price / cref + w.location * p.regions[x.region].dist_km / (n_total * 1000.0)
                - w.performance * x.perf / pref
        })
        .sum()
}
