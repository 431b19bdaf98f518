//! Why no placement exists, and the nearest request that has one.
//!
//! Two levels, cheapest first:
//!
//! 1. per group: which filters leave no offer (and what value of each filter would match), all
//!    matching offers blocked, nothing within `near.max_distance_km`, pinned VMs that break the
//!    latency bound among themselves;
//! 2. MCIS-wide: the constraint families present (latency bound, provider and region spread,
//!    per-region limit, cost cap, distance limit, pinned VMs) are reduced to an irreducible
//!    conflicting subset by a deletion filter (drop a family, keep it dropped while the rest is
//!    still infeasible); then, for each family of that subset, the nearest feasible value with
//!    every other constraint of the request unchanged, computed by an ILP (largest spread,
//!    smallest per-region limit, cheapest cost) or a threshold search (smallest latency bound,
//!    smallest distance).

use crate::catalog::Catalog;
use crate::requirements::{GroupRequirements, Mismatch, Requirements};
use crate::solver::ilp::{Goal, Outcome};
use crate::solver::problem::{Active, Limits, Problem};
use crate::solver::{self, PlanOptions};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{Duration, Instant};

/// What kind of failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The request itself is malformed (see `conflicts`).
    InvalidRequest,
    /// Proven: no placement satisfies every constraint.
    Infeasible,
    /// The time limit expired before any placement was found.
    TimedOut,
    /// The MILP backend reported an error.
    SolverFailed,
}

/// A diagnosed failure of [`crate::plan`]. `Display` prints the whole diagnosis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Infeasible {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The constraints that conflict (or the request errors).
    pub conflicts: Vec<String>,
    /// The nearest feasible relaxations, one constraint at a time.
    pub relaxations: Vec<String>,
    /// Further context.
    pub notes: Vec<String>,
}

impl fmt::Display for Infeasible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = match self.kind {
            FailureKind::InvalidRequest => "invalid placement request",
            FailureKind::Infeasible => "no placement satisfies the requirements",
            FailureKind::TimedOut => "no placement found within the time limit",
            FailureKind::SolverFailed => "the MILP solver failed",
        };
        writeln!(f, "{head}")?;
        for c in &self.conflicts {
            writeln!(f, "  conflict: {c}")?;
        }
        for r in &self.relaxations {
            writeln!(f, "  nearest feasible: {r}")?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Infeasible {}

impl Infeasible {
    pub(crate) fn invalid(errors: Vec<String>) -> Infeasible {
        Infeasible {
            kind: FailureKind::InvalidRequest,
            conflicts: errors,
            relaxations: Vec::new(),
            notes: Vec::new(),
        }
    }
    pub(crate) fn timed_out(limit: Duration) -> Infeasible {
        Infeasible {
            kind: FailureKind::TimedOut,
            conflicts: Vec::new(),
            relaxations: Vec::new(),
            notes: vec![format!(
                "the search ran out of its {:.1} s budget before finding any placement; raise the time limit",
                limit.as_secs_f64()
            )],
        }
    }
    pub(crate) fn solver_failed(e: String) -> Infeasible {
        Infeasible {
            kind: FailureKind::SolverFailed,
            conflicts: Vec::new(),
            relaxations: Vec::new(),
            notes: vec![e],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Latency,
    MinProviders,
    MinRegions,
    MaxVmsPerRegion,
    MaxHourlyCost,
    Near,
    Pins,
}

fn fmt_num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x}")
    }
}

impl Family {
    fn describe(self, req: &Requirements, opts: &PlanOptions) -> String {
        let p = &req.placement;
        match self {
            Family::Latency => format!(
                "max_latency_ms = {}",
                fmt_num(p.max_latency_ms.unwrap_or(0.0))
            ),
            Family::MinProviders => format!("min_providers = {}", p.min_providers.unwrap_or(0)),
            Family::MinRegions => format!("min_regions = {}", p.min_regions.unwrap_or(0)),
            Family::MaxVmsPerRegion => {
                format!("max_vms_per_region = {}", p.max_vms_per_region.unwrap_or(0))
            }
            Family::MaxHourlyCost => format!(
                "max_hourly_cost = {}",
                fmt_num(p.max_hourly_cost.unwrap_or(0.0))
            ),
            Family::Near => format!(
                "near.max_distance_km = {}",
                fmt_num(p.near.and_then(|n| n.max_distance_km).unwrap_or(0.0))
            ),
            Family::Pins => format!("the {} pinned VMs", opts.pinned.len()),
        }
    }
}

#[derive(Clone, Copy)]
struct Toggles {
    active: Active,
    near: bool,
    pins: bool,
}

impl Toggles {
    fn all() -> Toggles {
        Toggles {
            active: Active::ALL,
            near: true,
            pins: true,
        }
    }
    fn without(mut self, f: Family) -> Toggles {
        match f {
            Family::Latency => self.active.latency = false,
            Family::MinProviders => self.active.min_providers = false,
            Family::MinRegions => self.active.min_regions = false,
            Family::MaxVmsPerRegion => self.active.max_vms_per_region = false,
            Family::MaxHourlyCost => self.active.max_hourly_cost = false,
            Family::Near => self.near = false,
            Family::Pins => self.pins = false,
        }
        self
    }
}

struct Ctx<'a> {
    req: &'a Requirements,
    cat: &'a Catalog,
    opts: &'a PlanOptions,
    deadline: Instant,
}

impl<'a> Ctx<'a> {
    fn problem(&self, t: Toggles, limits: Option<Limits>) -> Option<(Problem<'a>, PlanOptions)> {
        let mut lim = limits
            .unwrap_or_else(|| Limits::of(self.req))
            .masked(t.active);
        if !t.near {
            lim.max_distance_km = None;
        }
        let mut o = self.opts.clone();
        if !t.pins {
            o.pinned.clear();
        }
        let p = Problem::build(self.req, self.cat, &o, lim).ok()?;
        Some((p, o))
    }

    fn solve(&self, p: &Problem, goal: Goal) -> Outcome {
        solver::solve_once(
            p,
            goal,
            p.limits.max_latency_ms,
            self.deadline,
            self.opts.backend,
        )
    }

    /// `Some(true)` feasible, `Some(false)` proven infeasible, `None` unknown (time).
    fn feasible(&self, t: Toggles, limits: Option<Limits>) -> Option<bool> {
        let (p, _) = self.problem(t, limits)?;
        match self.solve(&p, Goal::Linear(vec![0.0; p.cands.len()])) {
            Outcome::Solved { .. } => Some(true),
            Outcome::Infeasible => Some(false),
            _ => None,
        }
    }
}

/// Diagnoses a request that [`crate::plan`] found infeasible (with its own time budget).
pub fn diagnose(req: &Requirements, cat: &Catalog, opts: &PlanOptions) -> Infeasible {
    let ctx = Ctx {
        req,
        cat,
        opts,
        deadline: Instant::now() + opts.time_limit,
    };
    let mut conflicts = Vec::new();
    let mut relaxations = Vec::new();
    let mut notes = Vec::new();
    group_level(&ctx, &mut conflicts, &mut relaxations);
    if conflicts.is_empty() {
        mcis_level(&ctx, &mut conflicts, &mut relaxations, &mut notes);
    }
    if conflicts.is_empty() {
        notes.push("no single cause was isolated within the time limit".into());
    }
    Infeasible {
        kind: FailureKind::Infeasible,
        conflicts,
        relaxations,
        notes,
    }
}

fn group_filter_values(grp: &GroupRequirements, f: Mismatch) -> String {
    match f {
        Mismatch::Provider => {
            let mut v = Vec::new();
            if !grp.providers.is_empty() {
                v.push(format!("providers = {:?}", grp.providers));
            }
            if !grp.deny_providers.is_empty() {
                v.push(format!("deny_providers = {:?}", grp.deny_providers));
            }
            v.join(", ")
        }
        Mismatch::Region => {
            let mut v = Vec::new();
            if !grp.regions.is_empty() {
                v.push(format!("regions = {:?}", grp.regions));
            }
            if !grp.deny_regions.is_empty() {
                v.push(format!("deny_regions = {:?}", grp.deny_regions));
            }
            v.join(", ")
        }
        Mismatch::Arch => format!("arch = {}", grp.arch),
        Mismatch::Gpu => match &grp.gpu {
            None => "no gpu".into(),
            Some(g) => format!(
                "gpu {{ model = {}, count = {} }}",
                g.model.as_deref().unwrap_or("any"),
                g.count
            ),
        },
        Mismatch::Vcpu => format!(
            "vcpu {{ min = {}, max = {} }}",
            grp.vcpu.min.map_or("-".into(), |x| x.to_string()),
            grp.vcpu.max.map_or("-".into(), |x| x.to_string())
        ),
        Mismatch::Memory => format!(
            "memory_gib {{ min = {}, max = {} }}",
            grp.memory_gib.min.map_or("-".into(), |x| x.to_string()),
            grp.memory_gib.max.map_or("-".into(), |x| x.to_string())
        ),
    }
}

fn group_level(ctx: &Ctx, conflicts: &mut Vec<String>, relax: &mut Vec<String>) {
    let (req, cat, opts) = (ctx.req, ctx.cat, ctx.opts);
    let lim = Limits::of(req);
    for grp in &req.groups {
        let pinned = opts.pinned.iter().filter(|p| p.group == grp.name).count() as u32;
        if pinned >= grp.count {
            continue;
        }
        let name = &grp.name;
        let accepted: Vec<usize> = (0..cat.offers().len())
            .filter(|&i| grp.accepts(&cat.offers()[i]))
            .collect();
        if accepted.is_empty() {
            // Which filters, each removed alone, would let offers through?
            let mut culprits = Vec::new();
            for f in Mismatch::ALL {
                let others: Vec<&crate::catalog::Offer> = cat
                    .offers()
                    .iter()
                    .filter(|o| Mismatch::ALL.iter().all(|&h| h == f || grp.passes(h, o)))
                    .collect();
                if others.is_empty() {
                    continue;
                }
                culprits.push(group_filter_values(grp, f));
                relax.push(filter_relaxation(grp, f, &others));
            }
            if culprits.is_empty() {
                conflicts.push(format!(
                    "vm_group `{name}`: no catalog offer matches its filters, and relaxing any single filter is not enough"
                ));
            } else {
                conflicts.push(format!(
                    "vm_group `{name}`: no catalog offer matches all of its filters; relaxing any one of these would: {}",
                    culprits.join("; ")
                ));
            }
            continue;
        }
        let unblocked: Vec<usize> = accepted
            .iter()
            .copied()
            .filter(|&i| {
                let o = &cat.offers()[i];
                !opts
                    .blocked
                    .iter()
                    .any(|b| b.matches(&o.provider, &o.region, &o.spec))
            })
            .collect();
        if unblocked.is_empty() {
            conflicts.push(format!(
                "vm_group `{name}`: all {} matching offers are blocked",
                accepted.len()
            ));
            relax.push(format!(
                "vm_group `{name}`: unblock an offer or widen the group's filters"
            ));
            continue;
        }
        if let (Some(nr), Some(d)) = (req.placement.near, lim.max_distance_km) {
            let nearest = unblocked
                .iter()
                .map(|&i| {
                    let r = cat
                        .region_index(&cat.offers()[i].region_key())
                        .expect("catalog invariant");
                    (cat.distance_to(r, nr.latitude, nr.longitude), r)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
                .expect("not empty");
            if nearest.0 > d {
                conflicts.push(format!(
                    "vm_group `{name}`: no matching offer within near.max_distance_km = {} of ({}, {})",
                    fmt_num(d),
                    nr.latitude,
                    nr.longitude
                ));
                relax.push(format!(
                    "near.max_distance_km = {:.0} reaches the nearest matching region, {}",
                    nearest.0.ceil(),
                    cat.regions()[nearest.1].key()
                ));
            }
        }
    }
    // Pinned VMs among themselves.
    if let Some(l) = lim.max_latency_ms {
        let mut regions: Vec<crate::catalog::RegionKey> = opts
            .pinned
            .iter()
            .map(|p| crate::catalog::RegionKey::new(&p.provider, &p.region))
            .collect();
        regions.sort();
        regions.dedup();
        for (i, a) in regions.iter().enumerate() {
            for b in &regions[i + 1..] {
                if let Some(r) = cat.rtt(a, b) {
                    if r.ms > l {
                        conflicts.push(format!(
                            "pinned VMs in {a} and {b} are {:.1} ms apart{}, above max_latency_ms = {}",
                            r.ms,
                            if r.estimated { " (estimated)" } else { "" },
                            fmt_num(l)
                        ));
                        relax.push(format!(
                            "max_latency_ms = {:.1} admits the pinned VMs, or re-place one of them",
                            r.ms
                        ));
                    }
                }
            }
        }
    }
}

fn filter_relaxation(
    grp: &GroupRequirements,
    f: Mismatch,
    others: &[&crate::catalog::Offer],
) -> String {
    let name = &grp.name;
    let n = others.len();
    match f {
        Mismatch::Vcpu => {
            let lo = others.iter().map(|o| o.vcpu).min().expect("not empty");
            let hi = others.iter().map(|o| o.vcpu).max().expect("not empty");
            match (grp.vcpu.min, grp.vcpu.max) {
                (Some(m), _) if m > hi => format!("vm_group `{name}`: vcpu.min = {hi} (the largest offered with the other filters)"),
                (_, Some(m)) if m < lo => format!("vm_group `{name}`: vcpu.max = {lo} (the smallest offered with the other filters)"),
                _ => format!("vm_group `{name}`: widen vcpu (offered with the other filters: {lo} to {hi})"),
            }
        }
        Mismatch::Memory => {
            let lo = others
                .iter()
                .map(|o| o.memory_gib)
                .fold(f64::INFINITY, f64::min);
            let hi = others.iter().map(|o| o.memory_gib).fold(0.0, f64::max);
            match (grp.memory_gib.min, grp.memory_gib.max) {
                (Some(m), _) if m > hi => format!("vm_group `{name}`: memory_gib.min = {hi} (the largest offered with the other filters)"),
                (_, Some(m)) if m < lo => format!("vm_group `{name}`: memory_gib.max = {lo} (the smallest offered with the other filters)"),
                _ => format!("vm_group `{name}`: widen memory_gib (offered with the other filters: {lo} to {hi} GiB)"),
            }
        }
        Mismatch::Arch => {
            format!("vm_group `{name}`: the other architecture matches {n} offers (arch is image-specific: change the image too)")
        }
        Mismatch::Gpu => {
            let mut models: Vec<String> = others
                .iter()
                .filter_map(|o| {
                    o.gpu_model
                        .as_ref()
                        .map(|m| format!("{m} x{}", o.gpu_count))
                })
                .collect();
            models.sort();
            models.dedup();
            models.truncate(8);
            if models.is_empty() {
                format!(
                    "vm_group `{name}`: drop the gpu block ({n} offers without accelerators match)"
                )
            } else {
                format!(
                    "vm_group `{name}`: gpu choices that match the other filters: {}",
                    models.join(", ")
                )
            }
        }
        Mismatch::Provider => {
            let mut p: Vec<&str> = others.iter().map(|o| o.provider.as_str()).collect();
            p.sort();
            p.dedup();
            format!(
                "vm_group `{name}`: providers with matching offers: {}",
                p.join(", ")
            )
        }
        Mismatch::Region => {
            format!("vm_group `{name}`: widen regions ({n} offers elsewhere match)")
        }
    }
}

fn mcis_level(
    ctx: &Ctx,
    conflicts: &mut Vec<String>,
    relax: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    let (req, opts) = (ctx.req, ctx.opts);
    let p = &req.placement;
    let mut present = Vec::new();
    if p.max_latency_ms.is_some() {
        present.push(Family::Latency);
    }
    if p.min_providers.unwrap_or(0) > 1 {
        present.push(Family::MinProviders);
    }
    if p.min_regions.unwrap_or(0) > 1 {
        present.push(Family::MinRegions);
    }
    if p.max_vms_per_region.is_some() {
        present.push(Family::MaxVmsPerRegion);
    }
    if p.max_hourly_cost.is_some() {
        present.push(Family::MaxHourlyCost);
    }
    if p.near.and_then(|n| n.max_distance_km).is_some() {
        present.push(Family::Near);
    }
    if !opts.pinned.is_empty() {
        present.push(Family::Pins);
    }
    let none = present.iter().fold(Toggles::all(), |t, &f| t.without(f));
    if ctx.feasible(none, None) == Some(false) {
        conflicts.push("the groups cannot be placed even without any MCIS-wide constraint".into());
        return;
    }
    // Deletion filter.
    let mut set = present.clone();
    for &f in &present {
        let trial: Vec<Family> = set.iter().copied().filter(|&x| x != f).collect();
        let t = present
            .iter()
            .filter(|x| !trial.contains(x))
            .fold(Toggles::all(), |t, &x| t.without(x));
        if ctx.feasible(t, None) == Some(false) {
            set = trial;
        }
    }
    if set.is_empty() {
        notes.push("could not isolate the conflicting constraints within the time limit".into());
        return;
    }
    let names: Vec<String> = set.iter().map(|f| f.describe(req, opts)).collect();
    conflicts.push(match names.len() {
        1 => format!("{} cannot hold", names[0]),
        _ => format!("{} cannot hold together", names.join(" and ")),
    });
    for f in set {
        relax.push(relaxation(ctx, f));
    }
}

fn relaxation(ctx: &Ctx, f: Family) -> String {
    let (req, opts) = (ctx.req, ctx.opts);
    let what = f.describe(req, opts);
    let t = Toggles::all().without(f);
    let Some((p, _)) = ctx.problem(t, None) else {
        return format!("{what}: could not evaluate a relaxation");
    };
    let not_alone = format!("relaxing {what} alone is not enough");
    let unknown = format!("{what}: no relaxation found within the time limit");
    match f {
        Family::Latency => match solver::min_max_rtt(&p, ctx.deadline, opts.backend) {
            Ok((ms, proven, pair)) => {
                let pair = pair
                    .map(|(a, b, est)| {
                        format!(
                            ", set by {a} - {b} ({})",
                            if est { "estimated" } else { "measured" }
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "{what} cannot hold with the other constraints; the smallest feasible bound is {} ms{pair}{}",
                    fmt_num(ms),
                    if proven { "" } else { " (not proven minimal)" }
                )
            }
            Err(solver::RunError::Infeasible) => not_alone,
            Err(_) => unknown,
        },
        Family::MinProviders | Family::MinRegions | Family::MaxVmsPerRegion => {
            // Monotone in the value: a binary search with the other constraints unchanged.
            // Feasible values are `min_*` at most k (search down) and `max_vms_per_region` at
            // least k (search up).
            let base = Limits::of(req);
            let total = req.total_vms().max(1);
            let with = |k: u32| {
                let mut l = base;
                match f {
                    Family::MinProviders => l.min_providers = k,
                    Family::MinRegions => l.min_regions = k,
                    _ => l.max_vms_per_region = Some(k),
                }
                ctx.feasible(Toggles::all(), Some(l))
            };
            let up = f == Family::MaxVmsPerRegion;
            let (field, cur) = match f {
                Family::MinProviders => ("min_providers", base.min_providers),
                Family::MinRegions => ("min_regions", base.min_regions),
                _ => (
                    "max_vms_per_region",
                    base.max_vms_per_region.unwrap_or(total),
                ),
            };
            // Candidates: cur+1..=total (up) or 1..=cur-1 (down), as a sorted list.
            let cands: Vec<u32> = if up {
                (cur + 1..=total.max(cur + 1)).collect()
            } else {
                (1..cur).collect()
            };
            // Find the boundary: for `up` the first feasible, for down the last feasible.
            let (mut lo, mut hi) = (0usize, cands.len());
            while lo < hi {
                let mid = (lo + hi) / 2;
                let feasible = match with(cands[mid]) {
                    Some(b) => b,
                    None => return unknown,
                };
                // Predicate "past the boundary": up = feasible, down = infeasible.
                if feasible == up {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            let found = if up {
                cands.get(lo).copied()
            } else {
                lo.checked_sub(1).map(|i| cands[i])
            };
            match found {
                Some(k) if up => format!(
                    "{field} = {k} is the smallest feasible value with the other constraints"
                ),
                Some(k) => format!(
                    "{field} = {k} is the largest feasible value with the other constraints"
                ),
                None => not_alone,
            }
        }
        Family::MaxHourlyCost => {
            let price: Vec<f64> = p.cands.iter().map(|c| c.price).collect();
            match ctx.solve(&p, Goal::Linear(price)) {
                Outcome::Solved { value, proven, .. } => format!(
                    "max_hourly_cost = {:.4} is the cheapest feasible placement with the other constraints{}",
                    value + p.pinned_cost(),
                    if proven { "" } else { " (not proven minimal)" }
                ),
                Outcome::Infeasible => not_alone,
                _ => unknown,
            }
        }
        Family::Near => {
            // Smallest radius that works: search the distinct distances of candidate regions.
            let Some(nr) = req.placement.near else {
                return unknown;
            };
            let mut ds: Vec<f64> = p
                .regions
                .iter()
                .map(|r| ctx.cat.distance_to(r.cat, nr.latitude, nr.longitude).ceil())
                .collect();
            ds.sort_by(f64::total_cmp);
            ds.dedup();
            let base = Limits::of(req);
            let (mut lo, mut hi) = (0usize, ds.len());
            let mut unknown_hit = false;
            while lo < hi {
                let mid = (lo + hi) / 2;
                let mut l = base;
                l.max_distance_km = Some(ds[mid]);
                match ctx.feasible(Toggles::all(), Some(l)) {
                    Some(true) => hi = mid,
                    Some(false) => lo = mid + 1,
                    None => {
                        unknown_hit = true;
                        break;
                    }
                }
            }
            if unknown_hit {
                unknown
            } else if hi < ds.len() {
                format!("near.max_distance_km = {:.0} is the smallest feasible distance with the other constraints", ds[hi])
            } else {
                not_alone
            }
        }
        Family::Pins => match ctx.feasible(t, None) {
            Some(true) => {
                "let the pinned VMs move: the request is feasible when they may be re-placed".into()
            }
            Some(false) => not_alone,
            None => unknown,
        },
    }
}
