//! The reduced problem the ILP is built from: per group the candidate offers that can be
//! optimal, the regions and providers they live in, and what pinned VMs already occupy.

use super::{BlockedOffer, PlanOptions};
use crate::catalog::Catalog;
use crate::requirements::{Objective, Requirements};
use std::collections::BTreeMap;

/// A (group, offer) pair the ILP may use.
#[derive(Clone, Debug)]
pub(crate) struct Cand {
    pub g: usize,
    /// Catalog offer index.
    pub offer: usize,
    /// Local region index.
    pub region: usize,
    pub spot: bool,
    /// Effective USD/hour.
    pub price: f64,
    /// Performance score (0 when unknown).
    pub perf: f64,
    /// Tie-break rank: catalog order (provider, region, spec), on-demand before spot.
    pub rank: f64,
}

#[derive(Clone, Debug)]
pub(crate) struct LocalRegion {
    /// Catalog region index.
    pub cat: usize,
    /// Local provider index.
    pub provider: usize,
    /// VMs already there (pinned).
    pub pinned: u32,
    /// Great-circle km to `near` (0 without `near`).
    pub dist_km: f64,
}

/// A pinned VM resolved against the catalog.
#[derive(Clone, Debug)]
pub(crate) struct Pin {
    pub g: usize,
    pub index: u32,
    pub provider: String,
    pub region_name: String,
    pub spec: String,
    pub region: usize,
    pub spot: bool,
    pub price: f64,
    pub perf: f64,
}

/// Which MCIS-wide constraints are switched on: all of the request's by default; the diagnosis
/// switches families off to find a minimal conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Active {
    pub latency: bool,
    pub min_providers: bool,
    pub min_regions: bool,
    pub max_vms_per_region: bool,
    pub max_hourly_cost: bool,
}

impl Active {
    pub const ALL: Active = Active {
        latency: true,
        min_providers: true,
        min_regions: true,
        max_vms_per_region: true,
        max_hourly_cost: true,
    };
}

/// Numeric values of the MCIS-wide constraints (the diagnosis overrides them to probe
/// relaxations).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Limits {
    pub max_latency_ms: Option<f64>,
    pub min_providers: u32,
    pub min_regions: u32,
    pub max_vms_per_region: Option<u32>,
    pub max_hourly_cost: Option<f64>,
    pub max_distance_km: Option<f64>,
}

impl Limits {
    pub fn of(req: &Requirements) -> Limits {
        let p = &req.placement;
        Limits {
            max_latency_ms: p.max_latency_ms,
            min_providers: p.min_providers.unwrap_or(0),
            min_regions: p.min_regions.unwrap_or(0),
            max_vms_per_region: p.max_vms_per_region,
            max_hourly_cost: p.max_hourly_cost,
            max_distance_km: p.near.and_then(|n| n.max_distance_km),
        }
    }
    pub fn masked(mut self, a: Active) -> Limits {
        if !a.latency {
            self.max_latency_ms = None;
        }
        if !a.min_providers {
            self.min_providers = 0;
        }
        if !a.min_regions {
            self.min_regions = 0;
        }
        if !a.max_vms_per_region {
            self.max_vms_per_region = None;
        }
        if !a.max_hourly_cost {
            self.max_hourly_cost = None;
        }
        self
    }
}

pub(crate) struct Problem<'a> {
    pub req: &'a Requirements,
    pub cat: &'a Catalog,
    pub limits: Limits,
    /// VMs still to place per group.
    pub free: Vec<u32>,
    pub cands: Vec<Cand>,
    pub regions: Vec<LocalRegion>,
    pub providers: Vec<String>,
    /// Local provider hosts a pinned VM.
    pub provider_pinned: Vec<bool>,
    pub pins: Vec<Pin>,
    /// Symmetric RTT between local regions, row-major.
    pub rtt: Vec<f64>,
    pub rtt_est: Vec<bool>,
    /// Per group: offers accepted by the group filters (before blocked/near/latency), for
    /// explanations and diagnosis.
    pub group_offers: Vec<Vec<usize>>,
    /// The caller's blocked offers.
    pub blocked: Vec<BlockedOffer>,
}

fn blocked(b: &[BlockedOffer], p: &str, r: &str, s: &str) -> bool {
    b.iter().any(|x| x.matches(p, r, s))
}

impl<'a> Problem<'a> {
    /// Builds the reduced problem. `Err` carries request errors that are not infeasibility
    /// (unknown pinned offers, too many pinned VMs).
    pub fn build(
        req: &'a Requirements,
        cat: &'a Catalog,
        opts: &PlanOptions,
        limits: Limits,
    ) -> Result<Problem<'a>, Vec<String>> {
        let near = req.placement.near;
        let needs_perf = match req.placement.objective {
            Objective::Performance => true,
            Objective::Weighted => req.placement.weights.is_some_and(|w| w.performance > 0.0),
            _ => false,
        };
        let group_idx: BTreeMap<&str, usize> = req
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.name.as_str(), i))
            .collect();

        // Pinned VMs.
        let mut errors = Vec::new();
        let mut pins_raw = Vec::new();
        let mut seen = BTreeMap::new();
        for p in &opts.pinned {
            let Some(&g) = group_idx.get(p.group.as_str()) else {
                errors.push(format!(
                    "pinned VM {}[{}]: no vm_group `{}`",
                    p.group, p.index, p.group
                ));
                continue;
            };
            if p.index >= req.groups[g].count {
                errors.push(format!(
                    "pinned VM {}[{}]: index out of range (count = {})",
                    p.group, p.index, req.groups[g].count
                ));
                continue;
            }
            if seen.insert((g, p.index), ()).is_some() {
                errors.push(format!(
                    "pinned VM {}[{}] is listed twice",
                    p.group, p.index
                ));
                continue;
            }
            let rkey = crate::catalog::RegionKey::new(&p.provider, &p.region);
            let Some(creg) = cat.region_index(&rkey) else {
                errors.push(format!(
                    "pinned VM {}[{}]: region {rkey} is not in the catalog (no coordinates, so no RTT)",
                    p.group, p.index
                ));
                continue;
            };
            let offer = cat.offer_index(&p.provider, &p.region, &p.spec);
            let price = match (p.price_usd_per_hour, offer) {
                (Some(x), _) => x,
                (None, Some(i)) => {
                    let o = &cat.offers()[i];
                    match (p.spot, o.spot_usd_per_hour) {
                        (true, Some(s)) => s,
                        _ => o.price_usd_per_hour,
                    }
                }
                (None, None) => {
                    errors.push(format!(
                        "pinned VM {}[{}]: offer {}/{}/{} is not in the catalog; give its price_usd_per_hour",
                        p.group, p.index, p.provider, p.region, p.spec
                    ));
                    continue;
                }
            };
            let perf = offer
                .and_then(|i| cat.offers()[i].performance)
                .unwrap_or(0.0);
            pins_raw.push((g, p, creg, price, perf));
        }
        let mut pinned_per_group = vec![0u32; req.groups.len()];
        for (g, ..) in &pins_raw {
            pinned_per_group[*g] += 1;
        }
        let free: Vec<u32> = req
            .groups
            .iter()
            .zip(&pinned_per_group)
            .map(|(g, p)| g.count.saturating_sub(*p))
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }

        let pinned_regions: Vec<usize> = {
            let mut v: Vec<usize> = pins_raw.iter().map(|x| x.2).collect();
            v.sort_unstable();
            v.dedup();
            v
        };

        // Candidates per group, pruned per (group, region).
        let nreg = cat.regions().len();
        let region_ok: Vec<bool> = (0..nreg)
            .map(|creg| {
                let dist_ok = match (near, limits.max_distance_km) {
                    (Some(n), Some(d)) => {
                        cat.distance_to(creg, n.latitude, n.longitude) <= d + 1e-9
                    }
                    _ => true,
                };
                let lat_ok = match limits.max_latency_ms {
                    Some(l) => pinned_regions
                        .iter()
                        .all(|&pr| pr == creg || cat.rtt_by_index(pr, creg).ms <= l + 1e-9),
                    None => true,
                };
                dist_ok && lat_ok
            })
            .collect();
        let mut group_offers = vec![Vec::new(); req.groups.len()];
        let mut raw: Vec<(usize, usize, usize, bool, f64, f64)> = Vec::new(); // g, offer, cat region, spot, price, perf
        for (g, grp) in req.groups.iter().enumerate() {
            // Best (price, -perf, offer) per region, or all offers per region for Pareto fronts.
            let mut best: Vec<Option<(f64, usize, bool, f64)>> = vec![None; nreg];
            let mut all: Vec<Vec<(usize, bool, f64, f64)>> = if needs_perf {
                vec![Vec::new(); nreg]
            } else {
                Vec::new()
            };
            for (oi, o) in cat.offers().iter().enumerate() {
                if !grp.accepts(o) {
                    continue;
                }
                group_offers[g].push(oi);
                let creg = cat.offer_region_index(oi);
                if free[g] == 0
                    || !region_ok[creg]
                    || blocked(&opts.blocked, &o.provider, &o.region, &o.spec)
                {
                    continue;
                }
                let (price, spot) = grp.effective_price(o);
                let perf = o.performance.unwrap_or(0.0);
                if needs_perf {
                    all[creg].push((oi, spot, price, perf));
                } else if best[creg].is_none_or(|b| price < b.0) {
                    // Offers come in catalog order, so a price tie keeps the earlier name.
                    best[creg] = Some((price, oi, spot, perf));
                }
            }
            if needs_perf {
                for (creg, mut offers) in all.into_iter().enumerate() {
                    offers.sort_by(|a, b| {
                        a.2.total_cmp(&b.2)
                            .then(b.3.total_cmp(&a.3))
                            .then(a.0.cmp(&b.0))
                    });
                    let mut best_perf = f64::NEG_INFINITY;
                    for (oi, spot, price, perf) in offers {
                        if perf > best_perf {
                            best_perf = perf;
                            raw.push((g, oi, creg, spot, price, perf));
                        }
                    }
                }
            } else {
                for (creg, b) in best.into_iter().enumerate() {
                    if let Some((price, oi, spot, perf)) = b {
                        raw.push((g, oi, creg, spot, price, perf));
                    }
                }
            }
        }

        // Local regions: those with candidates or pins, in catalog order.
        let mut cregs: Vec<usize> = raw
            .iter()
            .map(|x| x.2)
            .chain(pinned_regions.iter().copied())
            .collect();
        cregs.sort_unstable();
        cregs.dedup();
        let local_of: BTreeMap<usize, usize> =
            cregs.iter().enumerate().map(|(l, &c)| (c, l)).collect();
        let mut providers: Vec<String> = cregs
            .iter()
            .map(|&c| cat.regions()[c].provider.clone())
            .collect();
        providers.sort();
        providers.dedup();
        let regions: Vec<LocalRegion> = cregs
            .iter()
            .map(|&c| LocalRegion {
                cat: c,
                provider: providers
                    .binary_search(&cat.regions()[c].provider)
                    .expect("listed above"),
                pinned: 0,
                dist_km: near.map_or(0.0, |n| cat.distance_to(c, n.latitude, n.longitude)),
            })
            .collect();
        let mut regions = regions;
        let mut provider_pinned = vec![false; providers.len()];
        let mut pins = Vec::new();
        for (g, p, creg, price, perf) in pins_raw {
            let l = local_of[&creg];
            regions[l].pinned += 1;
            provider_pinned[regions[l].provider] = true;
            pins.push(Pin {
                g,
                index: p.index,
                provider: p.provider.clone(),
                region_name: p.region.clone(),
                spec: p.spec.clone(),
                region: l,
                spot: p.spot,
                price,
                perf,
            });
        }
        pins.sort_by_key(|p| (p.g, p.index));

        let mut cands: Vec<Cand> = raw
            .into_iter()
            .map(|(g, offer, creg, spot, price, perf)| Cand {
                g,
                offer,
                region: local_of[&creg],
                spot,
                price,
                perf,
                rank: (offer * 2 + spot as usize) as f64,
            })
            .collect();
        cands.sort_by(|a, b| {
            (a.g, a.region, a.offer, a.spot).cmp(&(b.g, b.region, b.offer, b.spot))
        });

        let n = regions.len();
        let mut rtt = vec![0.0; n * n];
        let mut rtt_est = vec![false; n * n];
        for i in 0..n {
            for j in 0..n {
                let r = cat.rtt_by_index(regions[i].cat, regions[j].cat);
                rtt[i * n + j] = if i == j { 0.0 } else { r.ms };
                rtt_est[i * n + j] = r.estimated;
            }
        }
        Ok(Problem {
            req,
            cat,
            limits,
            free,
            cands,
            regions,
            providers,
            provider_pinned,
            pins,
            rtt,
            rtt_est,
            group_offers,
            blocked: opts.blocked.clone(),
        })
    }

    pub fn opts_blocked(&self, o: &crate::catalog::Offer) -> bool {
        blocked(&self.blocked, &o.provider, &o.region, &o.spec)
    }

    pub fn rtt(&self, a: usize, b: usize) -> f64 {
        self.rtt[a * self.regions.len() + b]
    }

    pub fn pinned_cost(&self) -> f64 {
        self.pins.iter().map(|p| p.price).sum()
    }

    pub fn pinned_perf(&self) -> f64 {
        self.pins.iter().map(|p| p.perf).sum()
    }

    pub fn pinned_dist(&self) -> f64 {
        self.pins
            .iter()
            .map(|p| self.regions[p.region].dist_km)
            .sum()
    }

    /// Maximum RTT over pairs of distinct regions used by `counts` plus pins; the pair (local
    /// indices, lower first) is the lexicographically first among equals.
    pub fn max_rtt(&self, counts: &[u32]) -> Option<(f64, usize, usize)> {
        let used = self.used_regions(counts);
        let mut best: Option<(f64, usize, usize)> = None;
        for (i, &a) in used.iter().enumerate() {
            for &b in &used[i + 1..] {
                let r = self.rtt(a, b);
                if best.is_none_or(|(m, _, _)| r > m) {
                    best = Some((r, a, b));
                }
            }
        }
        best
    }

    /// Local regions hosting VMs (placed or pinned), ascending.
    pub fn used_regions(&self, counts: &[u32]) -> Vec<usize> {
        let mut used = vec![false; self.regions.len()];
        for (k, &n) in counts.iter().enumerate() {
            if n > 0 {
                used[self.cands[k].region] = true;
            }
        }
        for p in &self.pins {
            used[p.region] = true;
        }
        (0..self.regions.len()).filter(|&r| used[r]).collect()
    }

    /// Sorted distinct RTTs between distinct local regions, with 0 (one region) first.
    pub fn rtt_thresholds(&self, regions: &[usize]) -> Vec<f64> {
        let mut v = vec![0.0];
        for (i, &a) in regions.iter().enumerate() {
            for &b in &regions[i + 1..] {
                v.push(self.rtt(a, b));
            }
        }
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    }
}
