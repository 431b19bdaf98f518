//! Explanations of a placement: per chosen offer, its price and the alternatives it beat (with
//! the reason each lost); for the MCIS, the totals, the pair of regions that sets the maximum
//! RTT, the constraints that bind, and what the solver did.

use crate::requirements::Objective;
use crate::solver::problem::Problem;
use crate::solver::{PlacedVm, RunResult};
use serde::{Deserialize, Serialize};

/// Alternatives listed per chosen offer.
pub const ALTERNATIVES_PER_CHOICE: usize = 3;

/// Why the placement is what it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// MCIS-level lines: totals, maximum RTT and its pair, optimality, binding constraints.
    pub summary: Vec<String>,
    /// One entry per (group, offer, spot) used, in VM order.
    pub choices: Vec<Choice>,
    /// What the solver did.
    pub solver: SolverReport,
}

/// VMs of one group on one offer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Group name.
    pub group: String,
    /// VM indices within the group.
    pub indices: Vec<u32>,
    /// Provider.
    pub provider: String,
    /// Region.
    pub region: String,
    /// Spec.
    pub spec: String,
    /// USD/hour per VM.
    pub price_usd_per_hour: f64,
    /// Spot.
    pub spot: bool,
    /// Kept by request (pinned), not chosen.
    pub pinned: bool,
    /// The best offers of the group that were not used, and why.
    pub alternatives: Vec<Alternative>,
}

/// An offer that lost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    /// Provider.
    pub provider: String,
    /// Region.
    pub region: String,
    /// Spec.
    pub spec: String,
    /// USD/hour per VM the group would pay.
    pub price_usd_per_hour: f64,
    /// Why it was not used.
    pub reason: String,
}

/// Solver statistics; deterministic (no timings), so placements compare byte for byte.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SolverReport {
    /// One line per lexicographic stage.
    pub stages: Vec<String>,
    /// ILPs solved.
    pub ilp_solves: usize,
    /// Candidate (group, offer) pairs after pruning.
    pub candidates: usize,
    /// Regions that host candidates or pinned VMs.
    pub regions: usize,
    /// Variables of the last ILP.
    pub variables: usize,
    /// Constraints of the last ILP.
    pub constraints: usize,
    /// Maximal cliques of the last latency constraint (`None`: none needed or pairwise form).
    pub cliques: Option<usize>,
    /// Whether every tie-break stage finished within the time limit.
    pub tie_breaks_complete: bool,
}

fn money(x: f64) -> String {
    format!("${x:.4}/h")
}

pub(crate) fn explain(
    p: &Problem,
    r: &RunResult,
    vms: &[PlacedVm],
    hourly_cost: f64,
    max_rtt: Option<(f64, usize, usize)>,
) -> Explanation {
    let req = p.req;
    let cat = p.cat;
    let lim = p.limits;
    let used = p.used_regions(&r.counts);
    let n = p.regions.len();
    let mut providers: Vec<usize> = used.iter().map(|&x| p.regions[x].provider).collect();
    providers.sort_unstable();
    providers.dedup();
    let key = |l: usize| cat.regions()[p.regions[l].cat].key().to_string();

    let mut summary = vec![format!(
        "{} VMs in {} regions across {} providers ({}): {} in total",
        vms.len(),
        used.len(),
        providers.len(),
        providers
            .iter()
            .map(|&q| p.providers[q].as_str())
            .collect::<Vec<_>>()
            .join(", "),
        money(hourly_cost)
    )];
    match max_rtt {
        Some((ms, a, b)) => summary.push(format!(
            "maximum RTT {ms:.1} ms between {} and {} ({})",
            key(a),
            key(b),
            if p.rtt_est[a * n + b] {
                "estimated from distance"
            } else {
                "measured"
            }
        )),
        None => summary.push("one region: no inter-region RTT".into()),
    }
    let obj = req.placement.objective;
    summary.push(if r.proven {
        format!("objective {obj}: proven optimal")
    } else {
        format!("objective {obj}: best placement found within the time limit (not proven optimal)")
    });
    let mut binding = Vec::new();
    if lim.min_regions > 1 && used.len() as u32 == lim.min_regions {
        binding.push(format!("min_regions = {}", lim.min_regions));
    }
    if lim.min_providers > 1 && providers.len() as u32 == lim.min_providers {
        binding.push(format!("min_providers = {}", lim.min_providers));
    }
    if let (Some(l), Some((ms, _, _))) = (lim.max_latency_ms, max_rtt) {
        if ms >= l * 0.9 {
            binding.push(format!("max_latency_ms = {l} (uses {ms:.1} ms)"));
        }
    }
    let mut load = vec![0u32; n];
    for (k, &c) in r.counts.iter().enumerate() {
        load[p.cands[k].region] += c;
    }
    for pin in &p.pins {
        load[pin.region] += 1;
    }
    if let Some(q) = lim.max_vms_per_region {
        let full = load.iter().filter(|&&l| l == q).count();
        if full > 0 {
            binding.push(format!("max_vms_per_region = {q} ({full} regions full)"));
        }
    }
    if let Some(b) = lim.max_hourly_cost {
        if hourly_cost >= b * 0.95 {
            binding.push(format!(
                "max_hourly_cost = {b} (uses {})",
                money(hourly_cost)
            ));
        }
    }
    if !binding.is_empty() {
        summary.push(format!("binding or nearly binding: {}", binding.join(", ")));
    }
    if !p.pins.is_empty() {
        summary.push(format!(
            "{} pinned VMs kept where they are; {} new VMs placed",
            p.pins.len(),
            vms.len() - p.pins.len()
        ));
    }

    // Choices, in VM order.
    let mut choices: Vec<Choice> = Vec::new();
    for v in vms {
        match choices.iter_mut().find(|c| {
            c.group == v.group
                && c.provider == v.provider
                && c.region == v.region
                && c.spec == v.spec
                && c.spot == v.spot
                && c.pinned == v.pinned
        }) {
            Some(c) => c.indices.push(v.index),
            None => choices.push(Choice {
                group: v.group.clone(),
                indices: vec![v.index],
                provider: v.provider.clone(),
                region: v.region.clone(),
                spec: v.spec.clone(),
                price_usd_per_hour: v.price_usd_per_hour,
                spot: v.spot,
                pinned: v.pinned,
                alternatives: Vec::new(),
            }),
        }
    }
    let used_cat: Vec<usize> = used.iter().map(|&l| p.regions[l].cat).collect();
    // Per group: the offers it uses, and its best unused offers by effective price.
    let mut alts_of_group: Vec<Option<Vec<(f64, usize)>>> = vec![None; req.groups.len()];
    for c in choices.iter_mut().filter(|c| !c.pinned) {
        let g = req
            .groups
            .iter()
            .position(|x| x.name == c.group)
            .expect("group of a VM");
        let grp = &req.groups[g];
        let alts = alts_of_group[g].get_or_insert_with(|| {
            let mut used_offers: Vec<usize> = vms
                .iter()
                .filter(|v| v.group == grp.name)
                .filter_map(|v| cat.offer_index(&v.provider, &v.region, &v.spec))
                .collect();
            used_offers.sort_unstable();
            used_offers.dedup();
            let mut all: Vec<(f64, usize)> = p.group_offers[g]
                .iter()
                .filter(|oi| used_offers.binary_search(oi).is_err())
                .map(|&oi| (grp.effective_price(&cat.offers()[oi]).0, oi))
                .collect();
            let cmp = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            if all.len() > ALTERNATIVES_PER_CHOICE {
                all.select_nth_unstable_by(ALTERNATIVES_PER_CHOICE - 1, cmp);
                all.truncate(ALTERNATIVES_PER_CHOICE);
            }
            all.sort_by(cmp);
            all
        });
        let chosen_creg = cat
            .region_index(&crate::catalog::RegionKey::new(&c.provider, &c.region))
            .expect("placed regions are catalog regions");
        let chosen_perf = cat
            .offer_index(&c.provider, &c.region, &c.spec)
            .and_then(|i| cat.offers()[i].performance)
            .unwrap_or(0.0);
        for &(price, oi) in alts.iter() {
            let o = &cat.offers()[oi];
            let creg = cat.offer_region_index(oi);
            let reason = alternative_reason(
                p,
                oi,
                creg,
                price,
                c.price_usd_per_hour,
                chosen_creg,
                chosen_perf,
                &used_cat,
                &load,
                max_rtt.map(|x| x.0),
                obj,
            );
            c.alternatives.push(Alternative {
                provider: o.provider.clone(),
                region: o.region.clone(),
                spec: o.spec.clone(),
                price_usd_per_hour: price,
                reason,
            });
        }
    }

    Explanation {
        summary,
        choices,
        solver: SolverReport {
            stages: r.stages.clone(),
            ilp_solves: r.ilp_solves,
            candidates: p.cands.len(),
            regions: p.regions.len(),
            variables: r.size.variables,
            constraints: r.size.constraints,
            cliques: r.size.cliques,
            tie_breaks_complete: r.tie_breaks_complete,
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn alternative_reason(
    p: &Problem,
    oi: usize,
    creg: usize,
    price: f64,
    chosen_price: f64,
    chosen_creg: usize,
    chosen_perf: f64,
    used_cat: &[usize],
    load_local: &[u32],
    max_rtt: Option<f64>,
    obj: Objective,
) -> String {
    let cat = p.cat;
    let o = &cat.offers()[oi];
    let lim = p.limits;
    let req = p.req;
    if p.opts_blocked(o) {
        return "blocked (refused by the cloud)".into();
    }
    if let (Some(nr), Some(d)) = (req.placement.near, lim.max_distance_km) {
        let dist = cat.distance_to(creg, nr.latitude, nr.longitude);
        if dist > d {
            return format!("{dist:.0} km from `near`, beyond max_distance_km = {d}");
        }
    }
    if let Some(l) = lim.max_latency_ms {
        let worst = used_cat
            .iter()
            .filter(|&&u| u != creg)
            .map(|&u| (cat.rtt_by_index(u, creg), u))
            .max_by(|a, b| a.0.ms.total_cmp(&b.0.ms).then(b.1.cmp(&a.1)));
        if let Some((rtt, u)) = worst {
            if rtt.ms > l {
                return format!(
                    "RTT {:.1} ms{} to {} exceeds max_latency_ms = {l}",
                    rtt.ms,
                    if rtt.estimated { " (estimated)" } else { "" },
                    cat.regions()[u].key()
                );
            }
        }
    }
    let new_region = !used_cat.contains(&creg);
    let raise = if new_region {
        used_cat
            .iter()
            .map(|&u| cat.rtt_by_index(u, creg).ms)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
            .filter(|&x| max_rtt.is_none_or(|m| x > m + 1e-9))
    } else {
        None
    };
    let dearer = price > chosen_price + 1e-12;
    match obj {
        Objective::Latency => {
            if let Some(x) = raise {
                return format!("would raise the maximum RTT to {x:.1} ms");
            }
        }
        Objective::Location => {
            if let Some(nr) = req.placement.near {
                let d_alt = cat.distance_to(creg, nr.latitude, nr.longitude);
                let d_cho = cat.distance_to(chosen_creg, nr.latitude, nr.longitude);
                if d_alt > d_cho + 1e-6 {
                    return format!("farther from `near` ({d_alt:.0} km vs {d_cho:.0} km)");
                }
            }
        }
        Objective::Performance => {
            let pf = o.performance.unwrap_or(0.0);
            if pf < chosen_perf - 1e-9 {
                return format!(
                    "lower performance score ({} vs {chosen_perf})",
                    o.performance
                        .map_or("unknown".to_string(), |x| x.to_string())
                );
            }
        }
        _ => {}
    }
    if dearer {
        return format!(
            "costs {} more ({:+.1} %)",
            money(price - chosen_price),
            100.0 * (price - chosen_price) / chosen_price.max(1e-12)
        );
    }
    // Not dearer: a global constraint or a tie-break decided.
    if let Some(q) = lim.max_vms_per_region {
        if let Some(l) = p.regions.iter().position(|r| r.cat == creg) {
            if load_local[l] >= q {
                return format!(
                    "as cheap or cheaper, but its region is full (max_vms_per_region = {q})"
                );
            }
        }
    }
    if let Some(x) = raise {
        if lim.max_latency_ms.is_some() || obj == Objective::Cost {
            return format!("as cheap or cheaper, but would raise the maximum RTT to {x:.1} ms");
        }
    }
    if (price - chosen_price).abs() <= 1e-12 {
        return "same price; lost the tie-break (maximum RTT, then names)".into();
    }
    if lim.min_regions > 1 || lim.min_providers > 1 {
        return "cheaper, but the spread (min_regions/min_providers) is met at a lower total with the chosen regions".into();
    }
    "cheaper, but not usable within the other constraints".into()
}

/// The explanation as text: the summary lines, then per offer used the alternatives it beat.
/// The planner's command line prints it, and the provider shows it in `explanation`.
impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for line in &self.summary {
            writeln!(f, "{line}")?;
        }
        writeln!(f, "why these offers:")?;
        for c in self.choices.iter().filter(|c| !c.pinned) {
            writeln!(
                f,
                "  {} {:?}: {}/{}/{} at ${:.4}/h{}",
                c.group,
                c.indices,
                c.provider,
                c.region,
                c.spec,
                c.price_usd_per_hour,
                if c.spot { " (spot)" } else { "" }
            )?;
            for alt in &c.alternatives {
                writeln!(
                    f,
                    "      vs {}/{}/{} ${:.4}/h: {}",
                    alt.provider, alt.region, alt.spec, alt.price_usd_per_hour, alt.reason
                )?;
            }
        }
        Ok(())
    }
}
