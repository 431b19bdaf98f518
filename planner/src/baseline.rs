//! CB-Tumblebug's placement, reproduced for comparison: each VM group on its own, the group's
//! filters as the `filter.policy`, the objective as one `ORDER BY`, the first row wins and takes
//! all VMs of the group. Nothing is joint: the MCIS-wide constraints (latency between VMs,
//! spread, per-region limit, cost cap, distance limit) are not enforced, only reported as
//! `violations`.
//!
//! ORDER BY per objective, as in `recommendSpec`: cost = price ascending; performance = score
//! descending (unknown last), then price; location = great-circle distance to `near` bucketed by
//! 50 km, then price; latency = RTT from the anchor region, then price (CB-Tumblebug needs
//! anchor regions from the user: the region nearest to `near` is used, and without `near` the
//! order falls back to price); weighted = those terms in decreasing weight order (CB-Tumblebug
//! never reads the weights' values, only the order of its priority list), then price.
//! Remaining ties go to catalog order (provider, region, spec).

use crate::catalog::{Catalog, RegionKey};
use crate::check::{check_placement, max_rtt_of};
use crate::diagnose::Infeasible;
use crate::requirements::{Objective, Requirements};
use crate::solver::{PlacedVm, PlanOptions};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// The baseline's placement and what it breaks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselinePlan {
    /// All VMs, by group order, then index.
    pub vms: Vec<PlacedVm>,
    /// Total USD/hour.
    pub hourly_cost: f64,
    /// Largest RTT between two distinct used regions.
    pub max_rtt_ms: Option<f64>,
    /// The pair that sets it.
    pub max_rtt_pair: Option<(RegionKey, RegionKey)>,
    /// Whether that RTT is estimated.
    pub max_rtt_estimated: bool,
    /// Constraints of the request the placement violates (empty if none).
    pub violations: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Term {
    Cost,
    Latency,
    Location,
    Performance,
}

/// CB-Tumblebug's per-group greedy ranking. Fails only when a group has no matching offer.
pub fn plan_greedy_baseline(
    req: &Requirements,
    catalog: &Catalog,
) -> Result<BaselinePlan, Infeasible> {
    let errors = req.validate();
    if !errors.is_empty() {
        return Err(Infeasible::invalid(errors));
    }
    let p = &req.placement;
    let terms: Vec<Term> = match p.objective {
        Objective::Cost => vec![Term::Cost],
        Objective::Latency => vec![Term::Latency, Term::Cost],
        Objective::Location => vec![Term::Location, Term::Cost],
        Objective::Performance => vec![Term::Performance, Term::Cost],
        Objective::Weighted => {
            let w = p.weights.unwrap_or_default();
            let mut t = vec![
                (w.cost, Term::Cost),
                (w.latency, Term::Latency),
                (w.location, Term::Location),
                (w.performance, Term::Performance),
            ];
            t.retain(|x| x.0 > 0.0);
            t.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut v: Vec<Term> = t.into_iter().map(|x| x.1).collect();
            v.push(Term::Cost);
            v
        }
    };
    let anchor = p.near.and_then(|n| {
        (0..catalog.regions().len())
            .filter(|&r| {
                catalog
                    .offers()
                    .iter()
                    .any(|o| o.region_key() == catalog.regions()[r].key())
            })
            .min_by(|&a, &b| {
                catalog
                    .distance_to(a, n.latitude, n.longitude)
                    .total_cmp(&catalog.distance_to(b, n.latitude, n.longitude))
                    .then(a.cmp(&b))
            })
    });
    let mut vms = Vec::new();
    for grp in &req.groups {
        let rows: Vec<usize> = (0..catalog.offers().len())
            .filter(|&i| grp.accepts(&catalog.offers()[i]))
            .collect();
        let key = |i: usize, t: Term| -> f64 {
            let o = &catalog.offers()[i];
            let r = catalog
                .region_index(&o.region_key())
                .expect("catalog invariant");
            match t {
                Term::Cost => grp.effective_price(o).0,
                Term::Performance => -o.performance.unwrap_or(f64::NEG_INFINITY),
                Term::Location => p.near.map_or(0.0, |n| {
                    (catalog.distance_to(r, n.latitude, n.longitude) / 50.0).floor()
                }),
                Term::Latency => anchor.map_or(0.0, |a| {
                    if a == r {
                        0.0
                    } else {
                        catalog.rtt_by_index(a, r).ms
                    }
                }),
            }
        };
        let best = rows.iter().copied().min_by(|&a, &b| {
            terms
                .iter()
                .map(|&t| key(a, t).total_cmp(&key(b, t)))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
                .then(a.cmp(&b))
        });
        let Some(best) = best else {
            return Err(Infeasible {
                kind: crate::diagnose::FailureKind::Infeasible,
                conflicts: vec![format!(
                    "vm_group `{}`: no catalog offer matches its filters",
                    grp.name
                )],
                relaxations: Vec::new(),
                notes: Vec::new(),
            });
        };
        let o = &catalog.offers()[best];
        let (price, spot) = grp.effective_price(o);
        for index in 0..grp.count {
            vms.push(PlacedVm {
                group: grp.name.clone(),
                index,
                provider: o.provider.clone(),
                region: o.region.clone(),
                spec: o.spec.clone(),
                price_usd_per_hour: price,
                spot,
                pinned: false,
            });
        }
    }
    let hourly_cost = vms.iter().map(|v| v.price_usd_per_hour).sum();
    let mx = max_rtt_of(catalog, &vms);
    let violations = check_placement(req, catalog, &PlanOptions::default(), &vms);
    Ok(BaselinePlan {
        hourly_cost,
        max_rtt_ms: mx.as_ref().map(|x| x.0),
        max_rtt_estimated: mx.as_ref().is_some_and(|x| x.2),
        max_rtt_pair: mx.map(|x| x.1),
        vms,
        violations,
    })
}
