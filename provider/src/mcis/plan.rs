//! Where the VMs of an MCIS go: the planner's part of `tumblebug_mcis`, free of Terraform types
//! and I/O (the catalog is handed in), so it is tested directly.
//!
//! Groups with a fixed provider, region and spec join the planner's request as VMs pinned where
//! they are (when the catalog knows their offer), so MCIS-wide constraints such as
//! `max_latency_ms` and `min_providers` count them. VMs of planned groups listed in `keep` are
//! pinned too: that is how a re-plan never moves running VMs by surprise, and how failover
//! places only the VMs a cloud refused.

use std::collections::BTreeMap;
use std::time::Duration;

use clouds::CloudErrorKind;
use planner::{BlockedOffer, Catalog, PinnedVm, PlanOptions};
use serde_json::{json, Value as Json};

use super::VmPlace;
use crate::placement::request;

/// The planner's wall-clock budget per MCIS plan: generous for the catalog sizes at hand, which
/// solve in milliseconds (docs/benchmarks/planner.md), and short enough for `terraform plan`.
const TIME_LIMIT: Duration = Duration::from_secs(10);

/// One `vm_group` as the planner sees it.
#[derive(Debug, Clone)]
pub struct GroupRequest {
    /// Group name.
    pub name: String,
    /// Number of VMs.
    pub count: u32,
    /// Fixed place or requirements.
    pub source: GroupSource,
}

/// Where a group's VMs come from.
#[derive(Debug, Clone)]
pub enum GroupSource {
    /// The configuration names provider, region and spec.
    Fixed(VmPlace),
    /// The group's requirements in the planner's JSON (`GroupRequirements`).
    Requirements(Json),
}

/// One placed VM.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedVm {
    /// Group name.
    pub group: String,
    /// Index in the group.
    pub index: u32,
    /// Where it goes.
    pub place: VmPlace,
    /// USD/hour, when the catalog prices the offer (its spot price when `place.spot`).
    pub price_usd_per_hour: Option<f64>,
}

impl From<&planner::PlacedVm> for PlacedVm {
    fn from(vm: &planner::PlacedVm) -> Self {
        PlacedVm {
            group: vm.group.clone(),
            index: vm.index,
            place: VmPlace {
                provider: vm.provider.clone(),
                region: vm.region.clone(),
                spec: vm.spec.clone(),
                spot: vm.spot,
            },
            price_usd_per_hour: Some(vm.price_usd_per_hour),
        }
    }
}

/// Where every VM of the MCIS goes, and what that costs.
#[derive(Debug, Clone, PartialEq)]
pub struct McisPlacement {
    /// Every VM, group by group in configuration order, then index.
    pub vms: Vec<PlacedVm>,
    /// Total USD/hour; `None` when some VM's offer is not in the catalog.
    pub hourly_cost: Option<f64>,
    /// Largest RTT between two distinct regions used, when the catalog knows them.
    pub max_rtt_ms: Option<f64>,
    /// The planner's explanation; `None` when every group is fixed (nothing was chosen).
    pub explanation: Option<String>,
}

/// Why no placement came out.
#[derive(Debug)]
pub enum PlaceError {
    /// The request itself is wrong (each problem names its field).
    Invalid(Vec<String>),
    /// No placement satisfies it; the planner's diagnosis.
    Infeasible(Box<planner::Infeasible>),
}

/// Places `groups` under `policy` (the `placement` block in the planner's JSON), keeping the
/// VMs in `keep` (group, index) where they are and never choosing a `blocked` offer for another.
pub fn place(
    catalog: &Catalog,
    groups: &[GroupRequest],
    policy: &Json,
    keep: &BTreeMap<(String, u32), VmPlace>,
    blocked: &[BlockedOffer],
) -> Result<McisPlacement, PlaceError> {
    let fixed_listing = |g: &GroupRequest, place: &VmPlace| -> Vec<PlacedVm> {
        (0..g.count)
            .map(|index| PlacedVm {
                group: g.name.clone(),
                index,
                place: place.clone(),
                price_usd_per_hour: price_of(catalog, place),
            })
            .collect()
    };
    let planned_any = groups
        .iter()
        .any(|g| matches!(g.source, GroupSource::Requirements(_)));
    if !planned_any {
        let vms: Vec<PlacedVm> = groups
            .iter()
            .flat_map(|g| match &g.source {
                GroupSource::Fixed(place) => fixed_listing(g, place),
                GroupSource::Requirements(_) => Vec::new(),
            })
            .collect();
        return Ok(summarise(catalog, vms, None));
    }

    // The request: planned groups with their requirements, fixed groups pinned in place. A fixed
    // group whose offer the catalog does not know cannot be pinned (no price, maybe no region);
    // it is listed as it is and left out of the constraints.
    let mut request_groups = Vec::new();
    let mut pinned = Vec::new();
    let mut unplanned: BTreeMap<String, Vec<PlacedVm>> = BTreeMap::new();
    let pin = |group: &str, index: u32, place: &VmPlace| PinnedVm {
        group: group.into(),
        index,
        provider: place.provider.clone(),
        region: place.region.clone(),
        spec: place.spec.clone(),
        spot: place.spot,
        price_usd_per_hour: None,
    };
    for g in groups {
        match &g.source {
            GroupSource::Fixed(place) => {
                if price_of(catalog, place).is_some() {
                    request_groups.push(json!({ "name": g.name, "count": g.count }));
                    pinned.extend((0..g.count).map(|i| pin(&g.name, i, place)));
                } else {
                    unplanned.insert(g.name.clone(), fixed_listing(g, place));
                }
            }
            GroupSource::Requirements(request) => {
                request_groups.push(request.clone());
                for index in 0..g.count {
                    if let Some(place) = keep.get(&(g.name.clone(), index)) {
                        pinned.push(pin(&g.name, index, place));
                    }
                }
            }
        }
    }
    let req = request(request_groups, policy.clone()).map_err(PlaceError::Invalid)?;
    let options = PlanOptions {
        blocked: blocked.to_vec(),
        pinned,
        time_limit: TIME_LIMIT,
        ..PlanOptions::default()
    };
    let found = planner::plan(&req, catalog, &options)
        .map_err(|infeasible| PlaceError::Infeasible(Box::new(infeasible)))?;
    let mut by_group: BTreeMap<String, Vec<PlacedVm>> = unplanned;
    for vm in &found.vms {
        by_group
            .entry(vm.group.clone())
            .or_default()
            .push(PlacedVm::from(vm));
    }
    let vms = groups
        .iter()
        .flat_map(|g| by_group.remove(&g.name).unwrap_or_default())
        .collect();
    Ok(summarise(catalog, vms, Some(found.explanation.to_string())))
}

/// Totals of a listing: the cost when every price is known, the largest RTT between the
/// regions the catalog knows.
pub fn summarise(
    catalog: &Catalog,
    vms: Vec<PlacedVm>,
    explanation: Option<String>,
) -> McisPlacement {
    let hourly_cost = vms
        .iter()
        .map(|vm| vm.price_usd_per_hour)
        .sum::<Option<f64>>();
    let as_planner: Vec<planner::PlacedVm> = vms
        .iter()
        .map(|vm| planner::PlacedVm {
            group: vm.group.clone(),
            index: vm.index,
            provider: vm.place.provider.clone(),
            region: vm.place.region.clone(),
            spec: vm.place.spec.clone(),
            price_usd_per_hour: vm.price_usd_per_hour.unwrap_or_default(),
            spot: vm.place.spot,
            pinned: false,
        })
        .collect();
    let max_rtt_ms = planner::check::max_rtt_of(catalog, &as_planner).map(|(ms, ..)| ms);
    McisPlacement {
        vms,
        hourly_cost,
        max_rtt_ms,
        explanation,
    }
}

/// The catalog's price of `place`: its spot price for a spot VM, else on demand.
pub fn price_of(catalog: &Catalog, place: &VmPlace) -> Option<f64> {
    let offer =
        &catalog.offers()[catalog.offer_index(&place.provider, &place.region, &place.spec)?];
    if place.spot {
        offer.spot_usd_per_hour
    } else {
        Some(offer.price_usd_per_hour)
    }
}

/// Rules out what a cloud refused, for the re-plan of a failover: the offer itself (capacity is
/// short for one instance type at a time), and its whole region once the region refused for
/// quota (quotas count every spec of a region) or refused a second offer.
pub fn block_refused(blocked: &mut Vec<BlockedOffer>, place: &VmPlace, kind: CloudErrorKind) {
    let same_region = |b: &BlockedOffer| {
        b.provider == place.provider && b.region.as_deref() == Some(place.region.as_str())
    };
    if blocked
        .iter()
        .any(|b| b.matches(&place.provider, &place.region, &place.spec))
    {
        return; // another VM on the same offer was refused in the same round
    }
    if kind == CloudErrorKind::Quota || blocked.iter().any(same_region) {
        blocked.retain(|b| !same_region(b));
        blocked.push(BlockedOffer {
            provider: place.provider.clone(),
            region: Some(place.region.clone()),
            spec: None,
        });
    } else {
        blocked.push(BlockedOffer::offer(
            &place.provider,
            &place.region,
            &place.spec,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> &'static Catalog {
        Catalog::embedded_ref()
    }

    fn planned(name: &str, count: u32, requirements: Json) -> GroupRequest {
        let mut json = requirements;
        json["name"] = json!(name);
        json["count"] = json!(count);
        GroupRequest {
            name: name.into(),
            count,
            source: GroupSource::Requirements(json),
        }
    }

    fn place_at(provider: &str, region: &str, spec: &str) -> VmPlace {
        VmPlace {
            provider: provider.into(),
            region: region.into(),
            spec: spec.into(),
            spot: false,
        }
    }

    /// Some offer of the catalog, to pin fixed groups and kept VMs on.
    fn some_offer(provider: &str) -> VmPlace {
        let o = catalog()
            .offers()
            .iter()
            .find(|o| o.provider == provider && o.gpu_count == 0)
            .unwrap();
        place_at(&o.provider, &o.region, &o.spec)
    }

    #[test]
    fn fixed_groups_are_listed_with_catalog_prices() {
        let known = some_offer("aws");
        let groups = [
            GroupRequest {
                name: "a".into(),
                count: 2,
                source: GroupSource::Fixed(known.clone()),
            },
            GroupRequest {
                name: "b".into(),
                count: 1,
                source: GroupSource::Fixed(place_at("local", "home", "small")),
            },
        ];
        let out = place(catalog(), &groups, &json!({}), &BTreeMap::new(), &[]).unwrap();
        assert_eq!(out.vms.len(), 3);
        assert_eq!(out.vms[0].place, known);
        assert!(out.vms[0].price_usd_per_hour.is_some());
        assert_eq!(out.vms[2].price_usd_per_hour, None);
        assert_eq!(out.hourly_cost, None, "one price is unknown");
        assert_eq!(out.explanation, None);
    }

    #[test]
    fn planned_groups_respect_constraints_and_keep_fixed_groups_in_place() {
        let fixed = some_offer("gcp");
        let groups = [
            GroupRequest {
                name: "db".into(),
                count: 1,
                source: GroupSource::Fixed(fixed.clone()),
            },
            planned("web", 4, json!({ "vcpu": { "min": 2 } })),
        ];
        let policy = json!({ "min_providers": 2, "max_latency_ms": 80 });
        let out = place(catalog(), &groups, &policy, &BTreeMap::new(), &[]).unwrap();
        assert_eq!(out.vms.len(), 5);
        assert_eq!(out.vms[0].group, "db");
        assert_eq!(out.vms[0].place, fixed);
        assert!(out.vms[1..].iter().all(|vm| vm.group == "web"));
        let providers: std::collections::BTreeSet<_> =
            out.vms.iter().map(|vm| &vm.place.provider).collect();
        assert!(providers.len() >= 2, "{providers:?}");
        assert!(out.max_rtt_ms.unwrap() <= 80.0);
        let total: f64 = out
            .vms
            .iter()
            .map(|vm| vm.price_usd_per_hour.unwrap())
            .sum();
        assert!((total - out.hourly_cost.unwrap()).abs() < 1e-9);
        assert!(out.explanation.is_some());
    }

    #[test]
    fn kept_vms_stay_and_blocked_offers_are_avoided() {
        let groups = [planned("web", 3, json!({ "vcpu": { "min": 2 } }))];
        let first = place(catalog(), &groups, &json!({}), &BTreeMap::new(), &[]).unwrap();
        let cheapest = first.vms[0].place.clone();
        // Keep VM 0 on a dearer offer; block the cheapest offer for the others.
        let dear = some_offer("azure");
        let keep = BTreeMap::from([(("web".to_string(), 0), dear.clone())]);
        let mut blocked = Vec::new();
        block_refused(&mut blocked, &cheapest, CloudErrorKind::Capacity);
        let out = place(catalog(), &groups, &json!({}), &keep, &blocked).unwrap();
        assert_eq!(out.vms[0].place, dear);
        for vm in &out.vms[1..] {
            assert_ne!(vm.place, cheapest, "blocked offer chosen for {}", vm.index);
        }
    }

    #[test]
    fn refusals_block_the_offer_then_the_region() {
        let a = place_at("aws", "us-east-1", "m5.large");
        let b = place_at("aws", "us-east-1", "c5.large");
        let mut blocked = Vec::new();
        block_refused(&mut blocked, &a, CloudErrorKind::Capacity);
        block_refused(&mut blocked, &a, CloudErrorKind::Capacity);
        assert_eq!(
            blocked,
            vec![BlockedOffer::offer("aws", "us-east-1", "m5.large")]
        );
        block_refused(&mut blocked, &b, CloudErrorKind::Capacity);
        assert_eq!(blocked.len(), 1);
        assert!(blocked[0].matches("aws", "us-east-1", "t3.micro"));
        assert!(!blocked[0].matches("aws", "us-west-2", "m5.large"));
        let mut quota = Vec::new();
        block_refused(&mut quota, &a, CloudErrorKind::Quota);
        assert!(quota[0].matches("aws", "us-east-1", "anything"));
    }

    #[test]
    fn infeasible_requests_are_diagnosed() {
        let groups = [planned("web", 2, json!({ "vcpu": { "min": 2 } }))];
        let policy = json!({ "min_providers": 3 });
        match place(catalog(), &groups, &policy, &BTreeMap::new(), &[]) {
            Err(PlaceError::Infeasible(why)) => assert!(why.to_string().contains("min_providers")),
            other => panic!("expected a diagnosis, got {other:?}"),
        }
        let bad = [planned("web", 2, json!({ "arch": "sparc" }))];
        assert!(matches!(
            place(catalog(), &bad, &json!({}), &BTreeMap::new(), &[]),
            Err(PlaceError::Invalid(_))
        ));
    }
}
