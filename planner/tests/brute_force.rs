//! Optimality against brute force: many small random catalogs and requests, every assignment of
//! VMs to offers enumerated, the planner's result compared criterion by criterion. Also: every
//! returned placement passes the independent checker, and infeasible instances are diagnosed.

use planner::catalog::{CatalogInfo, MeasuredRtt};
use planner::requirements::{GpuRequirement, Near, Range, Weights};
use planner::{
    check_placement, plan, Arch, Catalog, FailureKind, GroupRequirements, Objective, Offer,
    PlacementPolicy, PlanOptions, Region, RegionKey, Requirements,
};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn f(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.below(1_000_000) as f64 / 1_000_000.0)
    }
}

fn random_catalog(r: &mut Rng) -> Catalog {
    let providers = ["aws", "azure", "gcp"];
    let np = 1 + r.below(3) as usize;
    let mut regions = Vec::new();
    let nr = 2 + r.below(5) as usize;
    for i in 0..nr {
        let p = providers[i % np];
        regions.push(Region {
            provider: p.into(),
            region: format!("r{i}"),
            display_name: format!("R{i}"),
            latitude: r.f(-40.0, 60.0),
            longitude: r.f(-120.0, 140.0),
        });
    }
    let mut measured = Vec::new();
    for a in &regions {
        for b in &regions {
            if a.key() != b.key() && r.chance(50) {
                // Coarse values so that ties in RTT happen.
                measured.push(MeasuredRtt {
                    from: a.key(),
                    to: b.key(),
                    ms: (5 * (1 + r.below(30))) as f64,
                });
            }
        }
    }
    let mut offers = Vec::new();
    for reg in &regions {
        let n = 1 + r.below(3);
        for s in 0..n {
            let vcpu = [1, 2, 4][r.below(3) as usize];
            // Prices on a coarse grid so that ties in cost happen.
            let price = (1 + r.below(8)) as f64 * 0.01 * vcpu as f64;
            offers.push(Offer {
                provider: reg.provider.clone(),
                region: reg.region.clone(),
                spec: format!("s{s}"),
                vcpu,
                memory_gib: vcpu as f64 * 2.0,
                arch: if r.chance(15) {
                    Arch::Arm64
                } else {
                    Arch::X86_64
                },
                gpu_model: None,
                gpu_count: 0,
                price_usd_per_hour: price,
                spot_usd_per_hour: r.chance(30).then(|| (price * 0.5 * 100.0).round() / 100.0),
                performance: r.chance(70).then(|| (10 + r.below(5) * 10) as f64),
            });
        }
    }
    Catalog::new(regions, offers, measured, CatalogInfo::default())
}

fn random_request(r: &mut Rng, cat: &Catalog) -> Requirements {
    let ng = 1 + r.below(2) as usize;
    let mut groups = Vec::new();
    for g in 0..ng {
        groups.push(GroupRequirements {
            name: format!("g{g}"),
            count: 1 + r.below(3) as u32,
            vcpu: Range {
                min: r.chance(50).then(|| [1, 2][r.below(2) as usize]),
                max: r.chance(30).then_some(2),
            },
            spot: r.chance(30),
            ..Default::default()
        });
    }
    let rtts: Vec<f64> = {
        let regs = cat.regions();
        let mut v = Vec::new();
        for a in regs {
            for b in regs {
                if a.key() < b.key() {
                    v.push(cat.rtt(&a.key(), &b.key()).unwrap().ms);
                }
            }
        }
        v
    };
    let objective = [
        Objective::Cost,
        Objective::Cost,
        Objective::Latency,
        Objective::Location,
        Objective::Performance,
        Objective::Weighted,
    ][r.below(6) as usize];
    let near = (objective == Objective::Location || r.chance(25)).then(|| Near {
        latitude: r.f(-40.0, 60.0),
        longitude: r.f(-120.0, 140.0),
        max_distance_km: r.chance(30).then(|| r.f(3000.0, 15000.0)),
    });
    let weights = (objective == Objective::Weighted).then(|| Weights {
        cost: r.below(3) as f64,
        latency: r.below(3) as f64,
        location: if near.is_some() {
            r.below(2) as f64
        } else {
            0.0
        },
        performance: 1.0 + r.below(2) as f64,
    });
    PlacementPolicy {
        objective,
        weights,
        max_latency_ms: (r.chance(40) && !rtts.is_empty())
            .then(|| rtts[r.below(rtts.len() as u64) as usize]),
        min_providers: r.chance(30).then(|| 1 + r.below(3) as u32),
        min_regions: r.chance(40).then(|| 1 + r.below(4) as u32),
        max_vms_per_region: r.chance(30).then(|| 1 + r.below(3) as u32),
        near,
        max_hourly_cost: r.chance(20).then(|| r.f(0.02, 0.4)),
    }
    .into_req(groups)
}

trait IntoReq {
    fn into_req(self, groups: Vec<GroupRequirements>) -> Requirements;
}
impl IntoReq for PlacementPolicy {
    fn into_req(self, groups: Vec<GroupRequirements>) -> Requirements {
        Requirements {
            groups,
            placement: self,
        }
    }
}

/// The criteria of a placement, in the order the objective compares them (all minimised).
fn criteria(req: &Requirements, cat: &Catalog, vms: &[(usize, usize)]) -> Vec<f64> {
    // vms: (group, offer index)
    let p = &req.placement;
    let mut cost = 0.0;
    let mut perf = 0.0;
    let mut dist = 0.0;
    let mut regions: Vec<usize> = Vec::new();
    for &(g, o) in vms {
        let off = &cat.offers()[o];
        cost += req.groups[g].effective_price(off).0;
        perf += off.performance.unwrap_or(0.0);
        let ri = cat.offer_region_index(o);
        if let Some(n) = p.near {
            dist += cat.distance_to(ri, n.latitude, n.longitude);
        }
        regions.push(ri);
    }
    regions.sort_unstable();
    regions.dedup();
    let mut t: f64 = 0.0;
    for (i, &a) in regions.iter().enumerate() {
        for &b in &regions[i + 1..] {
            t = t.max(cat.rtt_by_index(a, b).ms);
        }
    }
    match p.objective {
        Objective::Cost => vec![cost, t],
        Objective::Latency => vec![t, cost],
        Objective::Location => vec![dist, cost, t],
        Objective::Performance => vec![-perf, cost, t],
        Objective::Weighted => {
            let w = p.weights.unwrap();
            let mut cref = 0.0;
            let mut pref = 0.0;
            for grp in &req.groups {
                let offers: Vec<&Offer> = cat.offers().iter().filter(|o| grp.accepts(o)).collect();
                let minp = offers
                    .iter()
                    .map(|o| grp.effective_price(o).0)
                    .fold(f64::INFINITY, f64::min);
                let maxp = offers
                    .iter()
                    .map(|o| o.performance.unwrap_or(0.0))
                    .fold(0.0, f64::max);
                if minp.is_finite() {
                    cref += grp.count as f64 * minp;
                }
                pref += grp.count as f64 * maxp;
            }
            let cref = if cref > 0.0 { cref } else { 1.0 };
            let pref = if pref > 0.0 { pref } else { 1.0 };
            let n = req.total_vms().max(1) as f64;
            let v = w.cost * cost / cref + w.latency * t / 100.0 + w.location * dist / (n * 1000.0)
                - w.performance * perf / pref;
            vec![v, cost, t]
        }
    }
}

fn feasible(req: &Requirements, cat: &Catalog, vms: &[(usize, usize)]) -> bool {
    let p = &req.placement;
    let mut cost = 0.0;
    let mut load: std::collections::BTreeMap<usize, u32> = Default::default();
    for &(g, o) in vms {
        let off = &cat.offers()[o];
        cost += req.groups[g].effective_price(off).0;
        let ri = cat.offer_region_index(o);
        *load.entry(ri).or_default() += 1;
        if let (Some(n), Some(d)) = (p.near, p.near.and_then(|n| n.max_distance_km)) {
            if cat.distance_to(ri, n.latitude, n.longitude) > d {
                return false;
            }
        }
    }
    let regions: Vec<usize> = load.keys().copied().collect();
    if let Some(l) = p.max_latency_ms {
        for (i, &a) in regions.iter().enumerate() {
            for &b in &regions[i + 1..] {
                if cat.rtt_by_index(a, b).ms > l {
                    return false;
                }
            }
        }
    }
    let mut provs: Vec<&str> = regions
        .iter()
        .map(|&r| cat.regions()[r].provider.as_str())
        .collect();
    provs.sort_unstable();
    provs.dedup();
    p.min_providers.is_none_or(|m| provs.len() as u32 >= m)
        && p.min_regions.is_none_or(|m| regions.len() as u32 >= m)
        && p.max_vms_per_region
            .is_none_or(|q| load.values().all(|&n| n <= q))
        && p.max_hourly_cost.is_none_or(|b| cost <= b + 1e-9)
}

/// Number of assignments brute force enumerates.
fn search_space(req: &Requirements, cat: &Catalog) -> usize {
    req.groups
        .iter()
        .map(|g| {
            let n = cat.offers().iter().filter(|o| g.accepts(o)).count();
            // Multisets of size count over n offers: C(n + count - 1, count).
            let k = g.count as usize;
            (0..k).fold(1usize, |acc, i| acc * (n + i) / (i + 1))
        })
        .product()
}

/// Multisets of size `k` over `0..n`.
fn multisets(n: usize, k: u32) -> Vec<Vec<usize>> {
    fn rec(start: usize, n: usize, k: u32, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k == 0 {
            out.push(cur.clone());
            return;
        }
        for i in start..n {
            cur.push(i);
            rec(i, n, k - 1, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    rec(0, n, k, &mut Vec::new(), &mut out);
    out
}

fn brute_force(req: &Requirements, cat: &Catalog) -> Option<Vec<f64>> {
    brute_force_with(req, cat, &[], &[])
}

/// With pinned VMs `(group, offer)` fixed and offers `blocked` for the others.
fn brute_force_with(
    req: &Requirements,
    cat: &Catalog,
    pinned: &[(usize, usize)],
    blocked: &[usize],
) -> Option<Vec<f64>> {
    let per_group: Vec<Vec<Vec<usize>>> = req
        .groups
        .iter()
        .enumerate()
        .map(|(gi, g)| {
            let offers: Vec<usize> = (0..cat.offers().len())
                .filter(|&i| g.accepts(&cat.offers()[i]) && !blocked.contains(&i))
                .collect();
            let n_pinned = pinned.iter().filter(|p| p.0 == gi).count() as u32;
            multisets(offers.len(), g.count - n_pinned)
                .into_iter()
                .map(|m| m.into_iter().map(|i| offers[i]).collect())
                .collect()
        })
        .collect();
    let mut best: Option<Vec<f64>> = None;
    let mut idx = vec![0usize; per_group.len()];
    assert!(
        per_group.iter().map(|v| v.len()).product::<usize>() <= 400_000,
        "instance too large"
    );
    if per_group.iter().any(|v| v.is_empty()) {
        return None;
    }
    loop {
        let vms: Vec<(usize, usize)> = idx
            .iter()
            .enumerate()
            .flat_map(|(g, &i)| per_group[g][i].iter().map(move |&o| (g, o)))
            .chain(pinned.iter().copied())
            .collect();
        if feasible(req, cat, &vms) {
            let c = criteria(req, cat, &vms);
            let better = match &best {
                None => true,
                Some(b) => {
                    let mut ord = std::cmp::Ordering::Equal;
                    for (x, y) in c.iter().zip(b) {
                        if (x - y).abs() > 1e-9 * (1.0 + y.abs()) {
                            ord = x.partial_cmp(y).unwrap();
                            break;
                        }
                    }
                    ord == std::cmp::Ordering::Less
                }
            };
            if better {
                best = Some(c);
            }
        }
        // Next combination.
        let mut g = 0;
        loop {
            if g == idx.len() {
                return best;
            }
            idx[g] += 1;
            if idx[g] < per_group[g].len() {
                break;
            }
            idx[g] = 0;
            g += 1;
        }
    }
}

fn placed(req: &Requirements, cat: &Catalog, p: &planner::Placement) -> Vec<(usize, usize)> {
    p.vms
        .iter()
        .map(|v| {
            let g = req.groups.iter().position(|g| g.name == v.group).unwrap();
            let o = cat.offer_index(&v.provider, &v.region, &v.spec).unwrap();
            (g, o)
        })
        .collect()
}

#[test]
fn planner_matches_brute_force_on_random_instances() {
    let mut r = Rng(0x5eed_1234_abcd_0001);
    let (mut solved, mut infeasible) = (0, 0);
    for case in 0..1500 {
        let cat = random_catalog(&mut r);
        let req = random_request(&mut r, &cat);
        if search_space(&req, &cat) > 400_000 {
            continue;
        }
        let want = brute_force(&req, &cat);
        let got = plan(&req, &cat, &PlanOptions::default());
        let ctx = || format!("case {case}: {}", serde_json::to_string(&req).unwrap());
        match (want, got) {
            (Some(w), Ok(p)) => {
                solved += 1;
                assert!(p.optimal, "{}", ctx());
                let v = check_placement(&req, &cat, &PlanOptions::default(), &p.vms);
                assert!(v.is_empty(), "{}: violations {v:?}", ctx());
                let c = criteria(&req, &cat, &placed(&req, &cat, &p));
                for (i, (x, y)) in c.iter().zip(&w).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-6 * (1.0 + y.abs()),
                        "{}: criterion {i}: planner {c:?} vs brute force {w:?}",
                        ctx()
                    );
                }
                // The reported value is the primary criterion (performance is reported positive).
                let primary = if req.placement.objective == Objective::Performance {
                    -c[0]
                } else {
                    c[0]
                };
                assert!(
                    (p.objective_value - primary).abs() <= 1e-6 * (1.0 + primary.abs()),
                    "{}",
                    ctx()
                );
                assert!(
                    p.gap == 0.0 && (p.lower_bound - p.objective_value).abs() < 1e-9,
                    "{}",
                    ctx()
                );
            }
            (None, Err(e)) => {
                infeasible += 1;
                assert!(matches!(e.kind, FailureKind::Infeasible), "{}: {e}", ctx());
                assert!(
                    !e.conflicts.is_empty(),
                    "{}: diagnosis without conflicts: {e}",
                    ctx()
                );
            }
            (Some(w), Err(e)) => panic!(
                "{}: planner says infeasible ({e}), brute force found {w:?}",
                ctx()
            ),
            (None, Ok(p)) => panic!(
                "{}: brute force says infeasible, planner placed {:?}",
                ctx(),
                p.vms
            ),
        }
    }
    eprintln!("brute force: {solved} solved, {infeasible} infeasible");
    assert!(
        solved > 600 && infeasible > 100,
        "coverage: {solved} solved, {infeasible} infeasible"
    );
}

#[test]
fn failover_replans_missing_vms_optimally_around_pinned_ones() {
    let mut r = Rng(0xfa11_07e5);
    let mut checked = 0;
    for case in 0..800 {
        let cat = random_catalog(&mut r);
        let req = random_request(&mut r, &cat);
        let Ok(first) = plan(&req, &cat, &PlanOptions::default()) else {
            continue;
        };
        // The cloud refuses one VM's offer: pin every other VM, block that offer.
        let victim = r.below(first.vms.len() as u64) as usize;
        let v = &first.vms[victim];
        let opts = PlanOptions {
            blocked: vec![planner::BlockedOffer::offer(
                &v.provider,
                &v.region,
                &v.spec,
            )],
            pinned: first
                .vms
                .iter()
                .enumerate()
                .filter(|(i, x)| {
                    *i != victim
                        && !(x.provider == v.provider && x.region == v.region && x.spec == v.spec)
                })
                .map(|(_, x)| planner::PinnedVm {
                    group: x.group.clone(),
                    index: x.index,
                    provider: x.provider.clone(),
                    region: x.region.clone(),
                    spec: x.spec.clone(),
                    spot: x.spot,
                    price_usd_per_hour: None,
                })
                .collect(),
            ..PlanOptions::default()
        };
        let pinned: Vec<(usize, usize)> = opts
            .pinned
            .iter()
            .map(|x| {
                let g = req.groups.iter().position(|g| g.name == x.group).unwrap();
                (g, cat.offer_index(&x.provider, &x.region, &x.spec).unwrap())
            })
            .collect();
        let blocked = vec![cat.offer_index(&v.provider, &v.region, &v.spec).unwrap()];
        let want = brute_force_with(&req, &cat, &pinned, &blocked);
        let got = plan(&req, &cat, &opts);
        let ctx = || {
            format!(
                "case {case}: {} with {:?}",
                serde_json::to_string(&req).unwrap(),
                opts
            )
        };
        match (want, got) {
            (Some(w), Ok(p)) => {
                checked += 1;
                assert!(p.optimal, "{}", ctx());
                assert!(
                    check_placement(&req, &cat, &opts, &p.vms).is_empty(),
                    "{}",
                    ctx()
                );
                for x in &opts.pinned {
                    assert!(
                        p.vms.iter().any(|y| y.pinned
                            && y.group == x.group
                            && y.index == x.index
                            && y.spec == x.spec
                            && y.region == x.region),
                        "{}: pinned VM moved",
                        ctx()
                    );
                }
                let c = criteria(&req, &cat, &placed(&req, &cat, &p));
                for (i, (x, y)) in c.iter().zip(&w).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-6 * (1.0 + y.abs()),
                        "{}: criterion {i}: {c:?} vs {w:?}",
                        ctx()
                    );
                }
            }
            (None, Err(e)) => assert!(matches!(e.kind, FailureKind::Infeasible), "{}: {e}", ctx()),
            (w, g) => panic!(
                "{}: brute force {w:?}, planner {:?}",
                ctx(),
                g.map(|p| p.vms)
            ),
        }
    }
    assert!(checked > 200, "only {checked} failovers checked");
}

#[test]
fn gpu_and_arch_filters_are_honoured() {
    let mut r = Rng(42);
    let cat = random_catalog(&mut r);
    let mut offers = cat.offers().to_vec();
    offers[0].gpu_model = Some("T4".into());
    offers[0].gpu_count = 1;
    let cat = Catalog::new(
        cat.regions().to_vec(),
        offers,
        cat.measured_rtts(),
        CatalogInfo::default(),
    );
    let t4 = &cat.offers()[0];
    let req = Requirements {
        groups: vec![GroupRequirements {
            name: "gpu".into(),
            count: 2,
            arch: t4.arch,
            gpu: Some(GpuRequirement {
                model: Some("t4".into()),
                count: 1,
            }),
            ..Default::default()
        }],
        placement: PlacementPolicy::default(),
    };
    let p = plan(&req, &cat, &PlanOptions::default()).unwrap();
    assert!(p
        .vms
        .iter()
        .all(|v| v.spec == t4.spec && v.region == t4.region));
    // Without a gpu block, the GPU offer is never used.
    let req = Requirements {
        groups: vec![GroupRequirements {
            name: "cpu".into(),
            count: 3,
            arch: t4.arch,
            ..Default::default()
        }],
        placement: PlacementPolicy::default(),
    };
    if let Ok(p) = plan(&req, &cat, &PlanOptions::default()) {
        let k = RegionKey::new(&t4.provider, &t4.region);
        assert!(!p
            .vms
            .iter()
            .any(|v| v.region_key() == k && v.spec == t4.spec));
    }
}
