//! An independent check of a placement against a request: written without the solver's
//! reduced problem, so tests (and the greedy baseline's report) do not trust the code they test.

use crate::catalog::{Catalog, RegionKey};
use crate::requirements::Requirements;
use crate::solver::{PlacedVm, PlanOptions};
use std::collections::{BTreeMap, BTreeSet};

/// Every violated constraint of `vms` for `req`, as one message each; empty when the placement
/// is valid. Pinned VMs (`pinned = true`) are exempt from group filters and blocked offers, as
/// the planner keeps them where they are, but count toward every MCIS-wide constraint.
pub fn check_placement(
    req: &Requirements,
    cat: &Catalog,
    opts: &PlanOptions,
    vms: &[PlacedVm],
) -> Vec<String> {
    let mut v = Vec::new();
    let p = &req.placement;
    for grp in &req.groups {
        let idx: BTreeSet<u32> = vms
            .iter()
            .filter(|x| x.group == grp.name)
            .map(|x| x.index)
            .collect();
        let n = vms.iter().filter(|x| x.group == grp.name).count();
        if n != grp.count as usize || idx.len() != n || idx.iter().any(|&i| i >= grp.count) {
            v.push(format!(
                "vm_group `{}`: {n} VMs with indices {:?}, expected indices 0..{}",
                grp.name, idx, grp.count
            ));
        }
    }
    let mut cost = 0.0;
    let mut regions: BTreeMap<RegionKey, u32> = BTreeMap::new();
    for x in vms {
        cost += x.price_usd_per_hour;
        *regions.entry(x.region_key()).or_default() += 1;
        let label = format!(
            "{}[{}] on {}/{}/{}",
            x.group, x.index, x.provider, x.region, x.spec
        );
        if cat.region(&x.region_key()).is_none() {
            v.push(format!("{label}: region not in the catalog"));
            continue;
        }
        if let Some(nr) = p.near {
            if let Some(d) = nr.max_distance_km {
                let r = cat.region_index(&x.region_key()).expect("checked");
                let dist = cat.distance_to(r, nr.latitude, nr.longitude);
                if dist > d + 1e-6 {
                    v.push(format!(
                        "{label}: {dist:.0} km from near > max_distance_km = {d}"
                    ));
                }
            }
        }
        if x.pinned {
            continue;
        }
        let Some(grp) = req.groups.iter().find(|g| g.name == x.group) else {
            v.push(format!("{label}: unknown group"));
            continue;
        };
        let Some(o) = cat
            .offers()
            .iter()
            .find(|o| o.provider == x.provider && o.region == x.region && o.spec == x.spec)
        else {
            v.push(format!("{label}: offer not in the catalog"));
            continue;
        };
        if let Some(m) = grp.mismatch(o) {
            v.push(format!("{label}: violates the group's {}", m.field()));
        }
        if opts
            .blocked
            .iter()
            .any(|b| b.matches(&o.provider, &o.region, &o.spec))
        {
            v.push(format!("{label}: offer is blocked"));
        }
        let want = if x.spot {
            if !grp.spot {
                v.push(format!("{label}: spot VM in a group without spot"));
            }
            o.spot_usd_per_hour
        } else {
            Some(o.price_usd_per_hour)
        };
        if want.is_none_or(|w| (w - x.price_usd_per_hour).abs() > 1e-9) {
            v.push(format!(
                "{label}: price {} does not match the catalog",
                x.price_usd_per_hour
            ));
        }
    }
    let keys: Vec<&RegionKey> = regions.keys().collect();
    if let Some(l) = p.max_latency_ms {
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                if let Some(r) = cat.rtt(a, b) {
                    if r.ms > l + 1e-9 {
                        v.push(format!(
                            "RTT {a} - {b} = {} ms > max_latency_ms = {l}",
                            r.ms
                        ));
                    }
                }
            }
        }
    }
    let providers: BTreeSet<&str> = keys.iter().map(|k| k.provider.as_str()).collect();
    if let Some(m) = p.min_providers {
        if (providers.len() as u32) < m {
            v.push(format!(
                "{} providers < min_providers = {m}",
                providers.len()
            ));
        }
    }
    if let Some(m) = p.min_regions {
        if (keys.len() as u32) < m {
            v.push(format!("{} regions < min_regions = {m}", keys.len()));
        }
    }
    if let Some(q) = p.max_vms_per_region {
        for (k, n) in &regions {
            if *n > q {
                v.push(format!("{n} VMs in {k} > max_vms_per_region = {q}"));
            }
        }
    }
    if let Some(b) = p.max_hourly_cost {
        if cost > b + 1e-6 {
            v.push(format!("total ${cost:.4}/h > max_hourly_cost = {b}"));
        }
    }
    v
}

/// The maximum RTT over pairs of distinct regions of `vms`: (ms, pair, estimated); ties go to
/// the lexicographically first pair.
pub fn max_rtt_of(cat: &Catalog, vms: &[PlacedVm]) -> Option<(f64, (RegionKey, RegionKey), bool)> {
    let keys: BTreeSet<RegionKey> = vms.iter().map(|x| x.region_key()).collect();
    let keys: Vec<RegionKey> = keys.into_iter().collect();
    let mut best: Option<(f64, (RegionKey, RegionKey), bool)> = None;
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            if let Some(r) = cat.rtt(a, b) {
                if best.as_ref().is_none_or(|x| r.ms > x.0) {
                    best = Some((r.ms, (a.clone(), b.clone()), r.estimated));
                }
            }
        }
    }
    best
}
