//! The greedy warm start: for each candidate region set (each maximal clique under a latency
//! bound, else all regions) put every group on its cheapest regions, then buy the missing
//! regions/providers with the cheapest single-VM moves. Often optimal without spread
//! constraints; always a valid incumbent when it succeeds, which lets the ILP prune from the
//! first node, and when it meets the trivial lower bound no ILP is needed at all.

use super::ilp::LatencyForm;
use super::problem::Problem;

/// Sets evaluated at most (largest cliques first).
const MAX_SETS: usize = 400;

pub(crate) fn greedy(
    p: &Problem,
    a: &[f64],
    active: &[bool],
    latency: Option<&LatencyForm>,
    bounds: &[(Vec<f64>, f64)],
) -> Option<Vec<u32>> {
    let nr = p.regions.len();
    let mut live = vec![false; nr];
    for (k, c) in p.cands.iter().enumerate() {
        if active[k] {
            live[c.region] = true;
        }
    }
    for pin in &p.pins {
        live[pin.region] = true;
    }
    let live_list: Vec<usize> = (0..nr).filter(|&r| live[r]).collect();
    let mut sets: Vec<Vec<usize>> = match latency {
        None => vec![live_list],
        Some(LatencyForm::Cliques(cs)) => cs.clone(),
        Some(LatencyForm::Pairs(_)) => return None,
    };
    if sets.len() > MAX_SETS {
        sets.sort_by(|x, y| y.len().cmp(&x.len()).then(x.cmp(y)));
        sets.truncate(MAX_SETS);
    }
    let mut best: Option<(f64, Vec<u32>)> = None;
    for s in &sets {
        if let Some(c) = fill(p, a, active, s, bounds) {
            let v: f64 = c.iter().zip(a).map(|(&n, a)| n as f64 * a).sum();
            if best.as_ref().is_none_or(|(b, _)| v < *b - 1e-12) {
                best = Some((v, c));
            }
        }
    }
    best.map(|(_, c)| c)
}

pub(crate) fn fill(
    p: &Problem,
    a: &[f64],
    active: &[bool],
    set: &[usize],
    bounds: &[(Vec<f64>, f64)],
) -> Option<Vec<u32>> {
    let nr = p.regions.len();
    let mut in_set = vec![false; nr];
    for &r in set {
        in_set[r] = true;
    }
    if p.pins.iter().any(|pin| !in_set[pin.region]) {
        return None;
    }
    let cap = p.limits.max_vms_per_region.unwrap_or(u32::MAX);
    let mut load: Vec<u32> = p.regions.iter().map(|r| r.pinned).collect();
    let mut counts = vec![0u32; p.cands.len()];
    let mut order: Vec<usize> = (0..p.cands.len())
        .filter(|&k| active[k] && in_set[p.cands[k].region])
        .collect();
    order.sort_by(|&x, &y| {
        (p.cands[x].g)
            .cmp(&p.cands[y].g)
            .then(a[x].total_cmp(&a[y]))
            .then(p.cands[x].rank.total_cmp(&p.cands[y].rank))
    });
    let mut left = p.free.clone();
    for &k in &order {
        let c = &p.cands[k];
        let room = cap.saturating_sub(load[c.region]);
        let put = left[c.g].min(room);
        counts[k] += put;
        load[c.region] += put;
        left[c.g] -= put;
    }
    if left.iter().any(|&l| l > 0) {
        return None;
    }
    // Spread repair.
    let lim = p.limits;
    loop {
        let used_r: Vec<bool> = load.iter().map(|&l| l > 0).collect();
        let n_regions = used_r.iter().filter(|&&u| u).count() as u32;
        let mut used_p = vec![false; p.providers.len()];
        for r in 0..nr {
            if used_r[r] {
                used_p[p.regions[r].provider] = true;
            }
        }
        let n_prov = used_p.iter().filter(|&&u| u).count() as u32;
        let need_p = n_prov < lim.min_providers;
        if n_regions >= lim.min_regions && !need_p {
            break;
        }
        let mut best: Option<(f64, usize, usize)> = None;
        for &from in &order {
            if counts[from] == 0 || load[p.cands[from].region] < 2 {
                continue;
            }
            for &to in &order {
                let (cf, ct) = (&p.cands[from], &p.cands[to]);
                if ct.g != cf.g
                    || used_r[ct.region]
                    || (need_p && used_p[p.regions[ct.region].provider])
                {
                    continue;
                }
                let d = a[to] - a[from];
                if best.is_none_or(|(b, _, _)| d < b - 1e-12) {
                    best = Some((d, from, to));
                }
            }
        }
        let (_, from, to) = best?;
        counts[from] -= 1;
        load[p.cands[from].region] -= 1;
        counts[to] += 1;
        load[p.cands[to].region] += 1;
    }
    if let Some(b) = lim.max_hourly_cost {
        let cost: f64 = counts
            .iter()
            .zip(&p.cands)
            .map(|(&n, c)| n as f64 * c.price)
            .sum();
        if cost > b - p.pinned_cost() + 1e-9 {
            return None;
        }
    }
    for (coef, rhs) in bounds {
        let v: f64 = counts.iter().zip(coef).map(|(&n, a)| n as f64 * a).sum();
        if v > *rhs {
            return None;
        }
    }
    Some(counts)
}
